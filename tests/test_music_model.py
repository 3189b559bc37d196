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
    # Clearly apart on both axes (the regressed scale has a standard deviation of about 0.5).
    assert happy.arousal - sad.arousal > 0.3 and happy.valence - sad.valence > 0.3


def test_dissonant_distorted_clip_is_less_pleasant_than_calm_major(tagger):
    # Harsh vs consonant: distortion and minor-second clusters lower valence at high arousal.
    tense, calm = tagger.tag(synth("Q2"), sr=SR), tagger.tag(synth("Q4"), sr=SR)
    assert tense.arousal > 0 > calm.arousal
    assert calm.valence > 0 and calm.valence - tense.valence > 0.3


def test_tag_is_consistent(tagger):
    tag = tagger.tag(synth("Q2"), sr=SR)
    assert abs(sum(tag.probabilities.values()) - 1) < 1e-6
    assert -1 <= tag.valence <= 1 and -1 <= tag.arousal <= 1
    # The quadrant is the classifier's pick; the confidence says when the regressed point
    # lies elsewhere.
    assert tag.quadrant == max(tag.probabilities, key=tag.probabilities.get)
    point_quadrant = {(True, True): "Q1", (False, True): "Q2", (False, False): "Q3", (True, False): "Q4"}[
        (tag.valence >= 0, tag.arousal >= 0)
    ]
    top = tag.probabilities[tag.quadrant]
    assert tag.confidence == pytest.approx(top if point_quadrant == tag.quadrant else top / 2)
    assert tag.model_version == tagger.version and tagger.version


def test_confidence_is_halved_when_classifier_and_regressor_disagree():
    from app.music.tagger import tag_confidence

    proba = np.array([0.7, 0.1, 0.1, 0.1])
    assert tag_confidence(proba, 0, 0.5, 0.5) == pytest.approx(0.7)  # Q1 point, Q1 class
    assert tag_confidence(proba, 0, 0.5, -0.5) == pytest.approx(0.35)  # Q4 point, Q1 class


def test_file_and_array_agree(tagger, tmp_path):
    y = synth("Q4", seconds=12)
    path = tmp_path / "clip.wav"
    sf.write(path, y, SR)
    a, b = tagger.tag(y, sr=SR), tagger.tag(path)
    assert a.quadrant == b.quadrant
    assert abs(a.valence - b.valence) < 0.05


def test_a_long_song_is_tagged_from_all_of_it(tagger, tmp_path):
    # Two minutes of slow, low, minor music, then two minutes of bright, fast, major music.
    path = tmp_path / "two_moods.flac"
    sf.write(path, np.concatenate([synth("Q3", seconds=120), synth("Q1", seconds=120, index=1)]), SR)
    tag = tagger.tag(path)
    timeline = tag.timeline
    # The timeline covers the whole song, segment by segment, in order.
    assert timeline[0].start_s == 0 and timeline[-1].end_s == pytest.approx(240, abs=0.1)
    assert len(timeline) >= 20
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in zip(timeline, timeline[1:], strict=False))
    first = [p for p in timeline if p.end_s <= 120]
    second = [p for p in timeline if p.start_s >= 120]
    # Both moods show: the second half is clearly brighter and more energetic than the first.
    assert np.mean([p.arousal for p in second]) - np.mean([p.arousal for p in first]) > 0.3
    assert np.mean([p.valence for p in second]) - np.mean([p.valence for p in first]) > 0.2
    # The tag is the whole song's, between its halves, not taken from a few seconds of one.
    half_a = tagger.tag(synth("Q3", seconds=120), sr=SR)
    half_b = tagger.tag(synth("Q1", seconds=120, index=1), sr=SR)
    lo, hi = sorted((half_a.arousal, half_b.arousal))
    assert lo + 0.1 * (hi - lo) < tag.arousal < hi - 0.1 * (hi - lo)


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
        MoodTagger.from_models_dir("no_such_model.npz")


def test_the_tagger_is_loaded_once_and_a_stand_in_can_take_its_place(tagger):
    assert MoodTagger.load() is tagger

    class Stub:
        version = "stub"

    with MoodTagger.load.override(Stub()) as stub:
        assert MoodTagger.load() is stub
    assert MoodTagger.load() is tagger


def eval_dir(root, per_quadrant: int, *, labelled: bool):
    """An eval-music folder of bright Q1 (WAV) and slow, minor Q3 (Ogg) clips; `labelled` adds
    Valence/Arousal columns, positive for Q1 and negative for Q3."""
    (root / "audio" / "Q1").mkdir(parents=True)
    (root / "audio" / "Q3").mkdir(parents=True)
    rows = ["Song,Quadrant,Artist,Valence,Arousal" if labelled else "Song,Quadrant,Artist"]
    for i in range(per_quadrant):
        sf.write(root / "audio" / "Q1" / f"h{i}.wav", synth("Q1", 10, index=i), SR)
        sf.write(root / "audio" / "Q3" / f"s{i}.ogg", synth("Q3", 10, index=i), SR)
        va = (f",0.{5 + i},0.{4 + i}", f",-0.{5 + i},-0.{4 + i}") if labelled else ("", "")
        rows += [f"h{i},Q1,A{va[0]}", f"s{i},Q3,B{va[1]}"]
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")
    return root


def test_eval_music_prints_json_shape(tmp_path):
    out = run_cli("eval-music", str(eval_dir(tmp_path, 2, labelled=False)), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 4
    assert set(report["per_class"]) == {"Q1", "Q3"}
    assert 0 <= report["macro_f1"] <= 1 and 0 <= report["accuracy"] <= 1
    assert "valence_spearman" not in report  # no continuous labels, no correlation


def test_eval_music_reports_valence_and_arousal_correlations_when_labelled(tmp_path):
    report = json.loads(run_cli("eval-music", str(eval_dir(tmp_path, 3, labelled=True)), "--json").stdout)
    assert report["n_valence"] == report["n_arousal"] == 6
    # Bright, fast clips against slow, minor ones: the model's order agrees with the labels.
    assert report["valence_spearman"] > 0.5 and report["arousal_spearman"] > 0.5
