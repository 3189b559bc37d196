"""The whole song, segment by segment: training and tagging build the same rows from the same
audio, every second of a track belongs to a segment, and the cues are picked by name."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.music import features
from app.music import train as music_train
from app.music.audio import SAMPLE_RATE
from app.music.handcrafted import FEATURE_NAMES
from app.tools.samples import mood_clip


@pytest.mark.parametrize("seconds, n", [(1.0, 1), (14.0, 1), (16.0, 2), (30.0, 3), (61.0, 6), (300.0, 30)])
def test_segments_cover_the_whole_track(seconds, n):
    bounds = features.segment_bounds(seconds)
    assert len(bounds) == n
    assert bounds[0][0] == 0 and bounds[-1][1] == pytest.approx(seconds)
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(bounds, bounds[1:], strict=False))


def test_the_cues_are_chosen_by_name():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    assert set(features.CUE_FEATURES) <= set(FEATURE_NAMES)
    assert {"key_mode", "tempo", "pulse_clarity", "dissonance_mean", "contrast_mean_0"} <= set(features.CUE_FEATURES)
    assert not any(name.startswith(("mfcc", "logmel", "chroma", "tonnetz")) for name in features.CUE_FEATURES)
    hand = np.arange(len(FEATURE_NAMES), dtype=np.float32)
    row = features.segment_input(hand, np.zeros(250, np.float32))
    assert [FEATURE_NAMES[int(i)] for i in row[250:]] == list(features.CUE_FEATURES)


@pytest.mark.parametrize("seconds", [12, 40])
def test_training_and_tagging_build_the_same_rows_for_a_file(tmp_path, seconds):
    path = tmp_path / f"clip_{seconds}.flac"
    sf.write(path, mood_clip("Q3", 2, seconds), SAMPLE_RATE)
    served = features.analyse_source(path)
    work = tmp_path / "work"
    trained = music_train.clip_segments([path], work, "set")[0]
    cached = music_train.clip_segments([path], work, "set")[0]  # read back from work/
    assert served.bounds == trained.bounds == cached.bounds
    # Training keeps more patches per segment; the one tagging uses is among them.
    assert trained.per_patch.shape[1] == music_train.TRAIN_PATCHES
    np.testing.assert_array_equal(music_train.served_view(trained).inputs, served.inputs)
    np.testing.assert_array_equal(music_train.served_view(cached).inputs, served.inputs)
    assert served.inputs.shape == (len(served.bounds) * features.SERVING_PATCHES, 250 + len(features.CUE_FEATURES))


def test_each_segment_is_described_by_its_own_audio():
    # A quiet, slow first half and a loud, busy second half: the segments' cues tell them apart.
    y = np.concatenate([mood_clip("Q3", 0, 20), mood_clip("Q2", 0, 20)])
    analysis = features.analyse(y)
    onset_rate = analysis.hand[:, FEATURE_NAMES.index("onset_rate")]
    assert len(analysis.bounds) == 4
    assert onset_rate[2:].mean() > onset_rate[:2].mean()
