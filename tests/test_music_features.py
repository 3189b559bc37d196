"""The one audio loader (synthesized audio only). The segment rows training and tagging build
are checked in test_music_segments.py."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.music.audio import SAMPLE_RATE, load_audio, to_mono
from app.music.errors import AudioError
from app.tools.samples import mood_clip


def test_mono_from_either_channel_layout():
    y = mood_clip("Q4", seconds=2)
    stereo = np.stack([y, 0.5 * y])
    np.testing.assert_array_equal(to_mono(stereo), to_mono(stereo.T))
    np.testing.assert_allclose(to_mono(stereo), 0.75 * y, rtol=1e-6)
    assert to_mono(y.astype(np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match="2-D"):
        to_mono(np.zeros((2, 2, 2)))


def test_a_file_its_bytes_and_its_samples_load_alike(tmp_path):
    y = mood_clip("Q1", seconds=4, sr=44100)
    path = tmp_path / "clip.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    from_file = load_audio(path, SAMPLE_RATE, 1.0, 2.0)
    np.testing.assert_array_equal(from_file, load_audio(path.read_bytes(), SAMPLE_RATE, 1.0, 2.0))
    from_array = load_audio(y, SAMPLE_RATE, 1.0, 2.0, source_sr=44100)
    assert len(from_file) == len(from_array) == 2 * SAMPLE_RATE
    # Resampling a window and windowing the resampled clip differ only at the window's edges.
    np.testing.assert_allclose(from_file[1000:-1000], from_array[1000:-1000], atol=1e-3)
    with pytest.raises(ValueError, match="sr is required"):
        load_audio(y)
    with pytest.raises(AudioError, match="invalid samples"):
        load_audio(np.full(SAMPLE_RATE, np.nan, np.float32), source_sr=SAMPLE_RATE)
