"""The Curate page's service (app.library.curation) on SQLite and MariaDB: its filters run in
the query, so a page of results is the first matches, not the first rows filtered afterwards."""

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
        ("model:music-logreg_c0.01-emotify-20261124", "model, 24 Nov"),
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
