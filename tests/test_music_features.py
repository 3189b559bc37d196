"""The music model's input: one audio loader, named features, and training and tagging building
the same vector for the same clip (synthesized audio only)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from app.music import features
from app.music import train as music_train
from app.music.audio import SAMPLE_RATE, load_audio, to_mono
from app.music.embedding import PATCH_FRAMES, MusicnnEmbedder, summarize
from app.music.embedding import SR as MUSICNN_SR
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


def test_the_cues_are_chosen_by_name():
    assert len(features.FEATURE_NAMES) == len(set(features.FEATURE_NAMES))
    assert len(features.extract(mood_clip("Q2", seconds=3))) == len(features.FEATURE_NAMES)
    assert set(features.CUE_FEATURES) <= set(features.FEATURE_NAMES)
    assert {"key_mode", "tempo", "pulse_clarity", "dissonance_mean", "contrast_mean_0"} <= set(features.CUE_FEATURES)
    assert not any(name.startswith(("mfcc", "logmel", "chroma", "tonnetz")) for name in features.CUE_FEATURES)
    hand = np.arange(len(features.FEATURE_NAMES), dtype=np.float32)
    per_patch = np.zeros((features.EMBEDDING_PATCHES, 250), np.float32)
    cues = features.model_input(hand, per_patch)[300:]
    assert [features.FEATURE_NAMES[int(i)] for i in cues] == list(features.CUE_FEATURES)


@pytest.mark.parametrize("seconds", [12, 40, 300])
def test_training_and_tagging_build_the_same_input_for_a_file(tmp_path, seconds):
    path = tmp_path / f"clip_{seconds}.flac"
    sf.write(path, mood_clip("Q3", 2, seconds), SAMPLE_RATE)
    served = features.features_for(path)
    work = tmp_path / "work"
    trained = music_train.model_inputs(*music_train.clip_features([path], work, "set"))
    cached = music_train.model_inputs(*music_train.clip_features([path], work, "set"))  # read back from work/
    assert trained.shape == (1, len(served))
    np.testing.assert_array_equal(trained[0], served)
    np.testing.assert_array_equal(cached[0], served)


def test_long_audio_is_embedded_on_the_same_patches_spread_over_all_of_it(tmp_path):
    """40 s of analysed audio holds 13 musicnn patches; both paths embed the same few of them,
    spread over the whole clip (training once picked them from the first ten spread ones)."""
    y = mood_clip("Q2", 1, 40)
    embedder = MusicnnEmbedder.load()
    served = features.mood_features(y)

    hand, per_patch = features.clip_analysis(y)
    buffer, saved = io.BytesIO(), np.empty(1, dtype=object)  # as training keeps them on disk
    saved[0] = per_patch
    np.save(buffer, saved, allow_pickle=True)
    buffer.seek(0)
    trained = music_train.model_inputs(hand[None], list(np.load(buffer, allow_pickle=True)))[0]
    np.testing.assert_array_equal(trained, served)

    from app.music.audio import resample
    from app.music.embedding import log_mel, patches

    spec = log_mel(resample(y, SAMPLE_RATE, MUSICNN_SR))
    assert spec.shape[0] // PATCH_FRAMES > 10
    spread = summarize(embedder.patch_outputs(y, SAMPLE_RATE, max_patches=features.EMBEDDING_PATCHES))
    np.testing.assert_array_equal(served[:300], spread)
    assert len(patches(spec, features.EMBEDDING_PATCHES)) == features.EMBEDDING_PATCHES
    # The old training path (five of the first-ten spread patches) gives a different vector.
    ten = embedder.patch_outputs(y, SAMPLE_RATE)
    old = ten[np.linspace(0, len(ten) - 1, features.EMBEDDING_PATCHES).round().astype(int)]
    assert not np.allclose(summarize(old), served[:300])
