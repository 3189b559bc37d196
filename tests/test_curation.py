"""The Curate page's service (app.library.curation) on SQLite and MariaDB: its filters run in
the query, so a page of results is the first matches, not the first rows filtered afterwards;
"needs review" lists the model's unsure tags, and a curator's override takes a track off it."""

import pandas as pd
import pytest
from catalog_helpers import add

from app.catalog.db import session_scope
from app.library import curation


def test_the_tagged_by_filter_finds_the_one_curator_track_behind_a_full_page_of_model_tracks(db_url):
    with session_scope(db_url) as s:
        for i in range(250):  # more than a page, and all sorting before the curator's track
            add(s, f"Model {i:03d}", 0.5, 0.5 - i / 1000, artist=f"Artist {i}")
        add(s, "Zulu Curated", -0.5, -0.5, tagged_by="curator")

    everyone = curation.find_tracks("", None, None)
    assert len(everyone) == curation.PAGE_SIZE and "Zulu Curated" not in set(everyone["title"])

    curator = curation.find_tracks("", None, "curator")
    assert list(curator["title"]) == ["Zulu Curated"] and list(curator["tagged_by"]) == ["curator"]

    model = curation.find_tracks("", None, "model")
    assert len(model) == curation.PAGE_SIZE and set(model["tagged_by"]) == {"model:test"}

    # The filters combine with the search and the mood quadrant in the same query.
    assert list(curation.find_tracks("zulu", "Q3", "curator")["title"]) == ["Zulu Curated"]
    assert curation.find_tracks("zulu", None, "model").empty
    assert curation.find_tracks("", "Q3", "model").empty


def test_an_unknown_tagged_by_filter_is_refused(db_url):
    with pytest.raises(ValueError, match="unknown tagged_by"):
        curation.find_tracks("", None, "robot")


@pytest.mark.parametrize(
    ("tagged_by", "label"),
    [
        ("model:music-logreg_c0.01-emotify-20261124", "model trained 24 Nov"),
        ("model:stub-1", "model"),
        ("curator", "curator"),
        ("", ""),
    ],
)
def test_tagged_by_labels(tagged_by, label):
    assert curation.tagged_by_label(tagged_by) == label


@pytest.mark.parametrize(
    ("quadrant", "point", "expected"),
    [("Q3", (0.4, 0.7), (-0.4, -0.7)), ("Q2", (0.4, -0.7), (-0.4, 0.7)), ("Q2", (0.0, 0.0), (-0.01, 0.01))],
)
def test_an_override_mirrors_the_point_into_the_new_quadrant(quadrant, point, expected):
    from app.emotions import quadrant_of

    projected = curation.project_into(quadrant, *point)
    assert projected == pytest.approx(expected) and quadrant_of(*projected) == quadrant


def _add_tag(s, title: str, confidence: float | None, *, quadrant_point=(0.5, 0.5), tagged_by: str = "model:test"):
    track = add(s, title, *quadrant_point, artist=f"Artist {title}", tagged_by=tagged_by)
    track.confidence = confidence
    return track


def test_needs_review_lists_exactly_the_unsure_model_tags_least_sure_first(db_url):
    with session_scope(db_url) as s:
        for i in range(250):  # a full page of sure tags sorting before the unsure ones by title
            _add_tag(s, f"A sure {i:03d}", 0.6 + i / 1000)
        _add_tag(s, "Unsure middle", 0.32)
        _add_tag(s, "Unsure most", 0.12, quadrant_point=(-0.5, -0.5))
        _add_tag(s, "Unsure barely", curation.REVIEW_BELOW - 0.01)
        _add_tag(s, "Just sure enough", curation.REVIEW_BELOW)
        _add_tag(s, "Old tag without a confidence", None)
        _add_tag(s, "Curator's", 0.2, tagged_by="curator")  # a person decided: nothing to review

    review = curation.find_tracks("", None, None, needs_review=True)
    assert list(review["title"]) == ["Unsure most", "Unsure middle", "Unsure barely"]
    assert list(review["certainty"]) == ["unsure 12 %", "unsure 32 %", "unsure 39 %"]
    # It combines with the other filters in the same query.
    assert list(curation.find_tracks("", "Q3", None, needs_review=True)["title"]) == ["Unsure most"]
    assert list(curation.find_tracks("middle", None, "model", needs_review=True)["title"]) == ["Unsure middle"]
    assert curation.find_tracks("", None, "curator", needs_review=True).empty
    # Without the filter every track shows how sure its tag is.
    everyone = curation.find_tracks("sure enough", None, None)
    assert list(everyone["certainty"]) == ["fairly sure 40 %"]


@pytest.mark.parametrize(
    ("confidence", "label"),
    [(0.32, "unsure 32 %"), (0.4, "fairly sure 40 %"), (0.93, "sure 93 %"), (None, "")],
)
def test_confidence_labels(confidence, label):
    assert curation.confidence_label(confidence) == label


def test_a_curators_override_clears_the_confidence_keeps_the_timeline_and_undo_brings_it_back(db_url):
    timeline = [[0.0, 10.0, 0.4, 0.3], [10.0, 20.0, 0.6, 0.5]]
    with session_scope(db_url) as s:
        track = add(s, "Unsure Song", 0.5, 0.4)
        track.set_mood("Q1", 0.5, 0.4, track.probabilities, confidence=0.3, timeline=timeline)
        track_id = track.id
    original = curation.find_tracks("", None, None)
    assert list(curation.find_tracks("", None, None, needs_review=True)["id"]) == [track_id]

    edited = original.copy()
    edited.loc[edited["id"] == track_id, "quadrant"] = "Q3"
    outcome = curation.apply_edits(original, edited)
    assert outcome.updated == [track_id] and not outcome.errors

    after = curation.find_tracks("", None, None)
    assert after.loc[0, "tagged_by"] == "curator" and after.loc[0, "certainty"] == ""
    assert pd.isna(after.loc[0, "confidence"])
    assert curation.find_tracks("", None, None, needs_review=True).empty  # reviewed: off the list
    assert curation.track_timeline(track_id)[["start_s", "end_s", "valence", "arousal"]].values.tolist() == timeline

    assert curation.undo(outcome) == []
    back = curation.find_tracks("", None, None)
    assert back.loc[0, "tagged_by"] == "model:test" and back.loc[0, "confidence"] == pytest.approx(0.3)
    assert list(curation.find_tracks("", None, None, needs_review=True)["id"]) == [track_id]


def test_a_tracks_timeline_for_the_chart_gives_each_segment_its_quadrant(db_url):
    with session_scope(db_url) as s:
        track = add(s, "Turns", 0.1, 0.1)
        track.set_mood("Q1", 0.1, 0.1, track.probabilities, timeline=[(0, 10, -0.5, -0.4), (10, 20, 0.5, 0.6)])
        bare = add(s, "Old", 0.2, 0.2)
        ids = track.id, bare.id
    chart = curation.track_timeline(ids[0])
    assert list(chart.columns) == list(curation.TIMELINE_COLUMNS) and list(chart["quadrant"]) == ["Q3", "Q1"]
    assert curation.track_timeline(ids[1]).empty and curation.track_timeline(10_000).empty
