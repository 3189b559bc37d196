"""The committed music mood model on synthesized audio (no files from ../shared)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from cli_helpers import run_cli

from app.music import AudioError, ModelError, MoodTagger
from app.tools.samples import SR, mood_clip


def synth(quadrant: str, seconds: float | None = None, index: int = 0) -> np.ndarray:
    """The demo catalog's clips: Q1 is bright, fast, loud and major with drums; Q3 is slow,
    low, quiet, legato and minor (app/tools/samples.py)."""
    return mood_clip(quadrant, index, seconds)


@pytest.fixture(scope="module")
def tagger() -> MoodTagger:
    return MoodTagger.load()


def test_bright_fast_major_vs_slow_low_minor(tagger):
    happy, sad = tagger.tag(synth("Q1"), sr=SR), tagger.tag(synth("Q3"), sr=SR)
    assert happy.valence > 0 and happy.arousal > 0
    assert sad.quadrant == "Q3" and sad.valence < 0 and sad.arousal < 0
    assert happy.arousal - sad.arousal > 0.5 and happy.valence - sad.valence > 0.5


def test_dissonant_distorted_clip_is_less_pleasant_than_calm_major(tagger):
    # Harsh vs consonant: distortion and minor-second clusters lower valence at high arousal.
    tense, calm = tagger.tag(synth("Q2"), sr=SR), tagger.tag(synth("Q4"), sr=SR)
    assert tense.arousal > 0 > calm.arousal
    assert calm.valence > 0 and calm.valence - tense.valence > 0.3


def test_tag_is_consistent(tagger):
    tag = tagger.tag(synth("Q2"), sr=SR)
    assert abs(sum(tag.probabilities.values()) - 1) < 1e-6
    assert -1 <= tag.valence <= 1 and -1 <= tag.arousal <= 1
    # The quadrant is the one holding the (valence, arousal) point.
    assert (
        tag.quadrant
        == {(True, True): "Q1", (False, True): "Q2", (False, False): "Q3", (True, False): "Q4"}[
            (tag.valence >= 0, tag.arousal >= 0)
        ]
    )
    assert tag.model_version == tagger.version and tagger.version


def test_file_and_array_agree(tagger, tmp_path):
    y = synth("Q4", seconds=12)
    path = tmp_path / "clip.wav"
    sf.write(path, y, SR)
    a, b = tagger.tag(y, sr=SR), tagger.tag(path)
    assert a.quadrant == b.quadrant
    assert abs(a.valence - b.valence) < 0.05


def test_long_song_is_analysed_in_windows(tagger, tmp_path):
    from app.music.features import analysis_windows

    windows = analysis_windows(300.0)
    assert len(windows) == 3 and sum(length for _, length in windows) <= 30
    path = tmp_path / "long.flac"
    sf.write(path, synth("Q1", seconds=300), SR)
    assert tagger.tag(path).quadrant in {"Q1", "Q2", "Q3", "Q4"}


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "decod"),
        (b"\x00" * 1, "decod"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4, "decod"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "decod"),
    ],
)
def test_corrupt_input_raises_clear_error(tagger, tmp_path, content, match):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=match):
        tagger.tag(path)


def test_silence_and_too_short_are_rejected(tagger):
    with pytest.raises(AudioError, match="silent"):
        tagger.tag(np.zeros(SR * 5, np.float32), sr=SR)
    with pytest.raises(AudioError, match="at least one second"):
        tagger.tag(np.ones(SR // 4, np.float32) * 0.1, sr=SR)
    with pytest.raises(ValueError, match="sr is required"):
        tagger.tag(np.ones(SR * 2, np.float32))


def test_model_loads_only_from_models_folder(tmp_path):
    with pytest.raises(ModelError, match="must live in"):
        MoodTagger.from_models_dir("../README.md")
    with pytest.raises(ModelError, match="missing"):
        MoodTagger.from_models_dir("no_such_model.joblib")


def test_the_tagger_is_loaded_once_and_a_stand_in_can_take_its_place(tagger):
    assert MoodTagger.load() is tagger

    class Stub:
        version = "stub"

    with MoodTagger.load.override(Stub()) as stub:
        assert MoodTagger.load() is stub
    assert MoodTagger.load() is tagger


def test_eval_music_prints_json_shape(tmp_path):
    (tmp_path / "audio" / "Q1").mkdir(parents=True)
    (tmp_path / "audio" / "Q3").mkdir(parents=True)
    rows = ["Song,Quadrant,Artist"]
    for i in range(2):
        sf.write(tmp_path / "audio" / "Q1" / f"h{i}.wav", synth("Q1", 10, index=i), SR)
        sf.write(tmp_path / "audio" / "Q3" / f"s{i}.ogg", synth("Q3", 10, index=i), SR)
        rows += [f"h{i},Q1,A", f"s{i},Q3,B"]
    (tmp_path / "annotations.csv").write_text("\n".join(rows) + "\n")
    out = run_cli("eval-music", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 4
    assert set(report["per_class"]) == {"Q1", "Q3"}
    assert 0 <= report["macro_f1"] <= 1 and 0 <= report["accuracy"] <= 1
