"""The music model file says what it was trained on, jingles are kept from listeners until a
curator has looked at them, and a retag brings a catalog to the served model (no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from catalog_helpers import add

from app.catalog import repository
from app.catalog.db import session_scope
from app.config import FRAGMENT_BELOW_S
from app.emotions import QUADRANTS
from app.library import ingest_files
from app.library.retag import retag_catalog
from app.music import ModelError, MoodTagger
from app.music.features import input_names
from app.music.tagger import LinearMoodModel, write_model
from app.recommend import recommend
from app.tools.samples import SR, mood_clip
from tests.music_helpers import random_last_blocks
from tests.pages_support import StubTagger


def _linear(n: int) -> LinearMoodModel:
    rng = np.random.default_rng(0)
    return LinearMoodModel(
        {
            "mean": np.zeros(n),
            "scale": np.ones(n),
            "class_coef": rng.normal(0, 0.01, (4, n)),
            "class_intercept": np.zeros(4),
            "va_coef": rng.normal(0, 0.01, (2, n)),
            "va_intercept": np.zeros(2),
        }
    )


def _described(path: Path, trained_nets=("MSD_musicnn",), **change) -> Path:
    """A model file as training writes it, then with its description's `change`d entries."""
    write_model(
        path, _linear(len(input_names(trained_nets))), version="test-1", nets=trained_nets, patches_per_segment=1
    )
    with np.load(path) as blob:
        arrays = {k: blob[k] for k in blob.files}
    description = json.loads(str(arrays["description"]))
    description.update(change)
    arrays["description"] = np.array(json.dumps(description))
    np.savez(path, **arrays)
    return path


def test_a_model_file_names_its_nets_features_and_settings_and_loads_back(tmp_path):
    tagger = MoodTagger.from_file(_described(tmp_path / "m.npz", trained_nets=("MSD_musicnn", "MTT_vgg")))
    assert tagger.nets == ("MSD_musicnn", "MTT_vgg") and tagger.version == "test-1"
    with np.load(tmp_path / "m.npz") as blob:
        description = json.loads(str(blob["description"]))
    assert description["feature_names"][:1] == ["MSD_musicnn:tag_0"] and "dsp" in description
    assert description["net_files"] == ["musicnn_msd.tflite", "musicnn_mtt_vgg.tflite"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"dsp": {"musicnn_sr": 22050}}, "other signal settings"),
        ({"feature_names": ["MSD_musicnn:tag_0", "loudness"]}, "other input features"),
        ({"nets": ["MSD_musicnn_big"]}, "nets this code doesn't have"),
    ],
)
def test_a_model_file_made_for_other_features_settings_or_nets_is_refused_with_what_to_do(tmp_path, change, message):
    path = _described(tmp_path / "m.npz", **change)
    with pytest.raises(ModelError, match=message) as err:
        MoodTagger.from_file(path)
    assert "python -m app.music.train" in str(err.value)


def test_an_older_model_file_without_a_description_is_refused(tmp_path):
    model = _linear(len(input_names(("MSD_musicnn",))))
    path = tmp_path / "old.npz"
    np.savez(
        path,
        version=np.array("old"),
        classes=np.array(list(QUADRANTS)),
        **{k: getattr(model, k) for k in LinearMoodModel.FIELDS},
    )
    with pytest.raises(ModelError, match="format"):
        MoodTagger.from_file(path)


def _last_blocks(seed: int) -> dict:
    """A tuned last block for each vgg net."""
    from app.music.embedding import tuned_net

    return random_last_blocks((tuned_net("MSD_vgg"), tuned_net("MTT_vgg")), seed)


def _hybrid_file(path: Path, blocks: dict | None) -> Path:
    """A model file whose classifier reads the tuned vgg nets and whose regressor reads the
    wheel's (as training's `classifier_tuned` candidates fit them), with `blocks` in it."""
    from app.music.train import Candidate

    cand = Candidate(0.1, 1.0, "all", nets=("MSD_vgg", "MTT_vgg"), classifier_tuned=True)
    classifier, regressor = cand.head_columns()
    n = len(input_names(cand.input_nets))
    model = _linear(n)
    keep_c, keep_r = np.zeros(n, bool), np.zeros(n, bool)
    keep_c[classifier], keep_r[regressor] = True, True
    model.class_coef[:, ~keep_c] = 0.0
    model.class_coef[:, keep_c] *= 30  # the classifier's probabilities move with its inputs
    model.va_coef[:, ~keep_r] = 0.0
    write_model(path, model, version="hybrid-1", nets=cand.input_nets, patches_per_segment=1, tuned=blocks)
    return path


def test_a_model_with_its_own_tuned_last_blocks_tags_audio_through_them(tmp_path):
    """The quadrant comes from the model's own tuned copies of the nets' last block, run on the
    nets' block-4 output; valence and arousal from the nets as the wheel has them."""
    clip = mood_clip("Q2", seconds=25.0)
    first = MoodTagger.from_file(_hybrid_file(tmp_path / "a.npz", _last_blocks(1)))
    assert first.nets == ("MSD_vgg", "MTT_vgg", "MSD_vgg_tuned", "MTT_vgg_tuned")
    other = MoodTagger.from_file(_hybrid_file(tmp_path / "b.npz", _last_blocks(2)))
    a, b = first.tag(clip, SR), other.tag(clip, SR)
    moved = max(abs(a.probabilities[q] - b.probabilities[q]) for q in QUADRANTS)
    assert moved > 0.01, "the quadrant ignores the model's tuned blocks"
    assert [(p.valence, p.arousal) for p in a.timeline] == [(p.valence, p.arousal) for p in b.timeline]
    again = first.tag(clip, SR)  # the blocks load back from the file as they were written
    assert again.probabilities == a.probabilities


def test_a_model_file_without_the_tuned_blocks_its_nets_need_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no tuned last block") as err:
        MoodTagger.from_file(_hybrid_file(tmp_path / "m.npz", None))
    assert "python -m app.music.train" in str(err.value)


@pytest.fixture
def jingles_held_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's default threshold (the test suite turns it off for its short clips)."""
    monkeypatch.setenv("MOODTUNE_FRAGMENT_BELOW_S", str(FRAGMENT_BELOW_S))


def test_a_jingle_is_tagged_with_a_low_confidence_and_needs_review(jingles_held_back):
    tagger = MoodTagger.load()
    jingle = tagger.tag(mood_clip("Q1", seconds=7), sr=SR)
    song = tagger.tag(mood_clip("Q1", seconds=30), sr=SR)
    assert jingle.needs_review and jingle.confidence <= 0.2
    assert song.confidence > jingle.confidence


def test_a_jingle_is_not_offered_to_listeners_until_a_curator_sets_its_mood(db_url, jingles_held_back):
    with session_scope(db_url) as s:
        jingle = add(s, "Defeat", -0.6, -0.4, duration_s=6.0).id
        add(s, "Grey Window", -0.3, -0.2, artist="Ann", duration_s=200.0)
        add(s, "Last Letter", -0.2, -0.1, artist="Bo", duration_s=FRAGMENT_BELOW_S + 1)
        picks = recommend(s, "sad", strategy="match", n=3)
        assert jingle not in {p.track_id for p in picks} and len(picks) == 2
        repository.set_track_mood_by_curator(s, jingle, "Q3")
    with session_scope(db_url) as s:
        assert jingle in {p.track_id for p in recommend(s, "sad", strategy="match", n=3)}


def test_retag_brings_model_tags_to_the_served_model_and_keeps_the_curators(db_url, tmp_path):
    import soundfile as sf

    files = []
    for name, quadrant in (("calm", "Q4"), ("dark", "Q3"), ("chosen", "Q1")):
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], mood_clip(quadrant, seconds=21), SR)
    summary = ingest_files(files, tagger=StubTagger())
    ids = [r.track_id for r in summary.results]
    with session_scope(db_url) as s:
        repository.set_track_mood_by_curator(s, ids[2], "Q2")

    result = retag_catalog(tagger=MoodTagger.load())
    assert not result.failed

    served = MoodTagger.load().version
    with session_scope(db_url) as s:
        tracks = [repository.get_track(s, i) for i in ids]
        assert [t.tagged_by for t in tracks] == [f"model:{served}", f"model:{served}", "curator"]
        assert tracks[2].quadrant == "Q2" and tracks[2].confidence is None
        assert all(t.confidence is not None and t.mood_timeline for t in tracks[:2])
        assert tracks[1].quadrant == "Q3"
