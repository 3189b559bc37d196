"""Recommender behaviour a listener would notice (SQLite and MariaDB)."""

import math

import pytest
from catalog_helpers import add

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.synthetic import populate
from app.emotions import MoodPoint
from app.recommend import nearest_track_ids, recommend

# A small catalog spread over the plane, three artists per area.
POINTS = [
    ("Grey Window", -0.6, -0.4, "Ann"),
    ("Last Letter", -0.5, -0.3, "Bo"),
    ("Low Tide", -0.55, -0.35, "Cy"),
    ("Soft Meadow", 0.5, -0.4, "Ann"),
    ("Lantern Glow", 0.55, -0.3, "Bo"),
    ("Still Water", 0.45, -0.5, "Cy"),
    ("Sunlit Run", 0.7, 0.6, "Ann"),
    ("Bright Parade", 0.6, 0.5, "Bo"),
    ("Kite Festival", 0.65, 0.55, "Cy"),
    ("Iron Storm", -0.6, 0.7, "Ann"),
    ("Red Alarm", -0.5, 0.6, "Bo"),
    ("Fault Line", -0.55, 0.65, "Cy"),
]


@pytest.fixture
def catalog(db_url):
    with session_scope(db_url) as s:
        return {title: add(s, title, v, a, artist=artist).id for title, v, a, artist in POINTS}


def _mean_valence(picks):
    return sum(p.valence for p in picks) / len(picks)


def test_a_sad_listener_gets_sad_music_to_match_and_brighter_music_to_lift(db_url, catalog):
    with session_scope(db_url) as s:
        match = recommend(s, "sad", strategy="match", n=3)
        lift = recommend(s, "sad", strategy="lift", n=3)
        calm = recommend(s, "angry", strategy="calm", n=3)
    assert {p.quadrant for p in match} == {"Q3"}
    assert _mean_valence(lift) > _mean_valence(match) + 0.5
    assert all(p.arousal < 0 for p in calm)


def test_a_recommendation_carries_the_catalogs_track_summary_and_prints_the_design_shape(db_url, catalog):
    from app.catalog.summary import TrackSummary

    with session_scope(db_url) as s:
        [pick] = recommend(s, "sad", n=1)
        [summary] = repository.track_summaries(s, [pick.track_id])
    assert isinstance(pick.track, TrackSummary) and pick.track == summary
    shape = pick.as_json()
    assert list(shape) == ["track_id", "title", "artist", "quadrant", "valence", "arousal", "score", "reason"]
    assert (shape["track_id"], shape["title"], shape["valence"]) == (
        summary.track_id,
        summary.title,
        round(summary.valence, 3),
    )


def test_a_face_distribution_works_like_its_label(db_url, catalog):
    with session_scope(db_url) as s:
        by_label = recommend(s, "happy", n=3)
        by_distribution = recommend(s, {"happy": 0.9, "neutral": 0.1}, n=3)
    assert {p.quadrant for p in by_label} == {p.quadrant for p in by_distribution} == {"Q1"}
    assert by_distribution[0].reason.startswith("you look happy")


def test_reason_says_what_the_listener_looks_like_and_why(db_url, catalog):
    with session_scope(db_url) as s:
        [pick] = recommend(s, "sad", strategy="lift", n=1)
        [point_pick] = recommend(s, MoodPoint(-0.5, -0.5), strategy="calm", n=1)
    assert pick.reason.startswith("you look sad → ") and pick.reason.endswith("to lift you")
    assert point_pick.reason.startswith("you seem low → ") and point_pick.reason.endswith("to calm you down")


def test_reason_admits_when_the_catalog_has_nothing_close(db_url):
    """With only calm, bright tracks, a sad listener's match is the nearest there is, and the
    reason says so instead of claiming it matches."""
    with session_scope(db_url) as s:
        add(s, "Soft Meadow", 0.6, -0.6, artist="Ann")
        [pick] = recommend(s, "sad", strategy="match", n=1)
    assert "nearest the catalog has" in pick.reason
    assert "matches your mood" not in pick.reason


def test_played_and_skipped_tracks_do_not_come_back_in_the_session(db_url, catalog):
    with session_scope(db_url) as s:
        first = recommend(s, "sad", n=2, session_id="me")
        repository.record_listening(s, "me", first[0].track_id, "played")
        repository.record_listening(s, "me", first[1].track_id, "skipped")
    with session_scope(db_url) as s:
        again = recommend(s, "sad", n=12, session_id="me")
        other_listener = recommend(s, "sad", n=3, session_id="you")
    assert {p.track_id for p in first}.isdisjoint(p.track_id for p in again)
    assert len(again) == 10
    assert {p.track_id for p in first} <= {p.track_id for p in other_listener}


def test_no_artist_twice_in_a_row(db_url):
    with session_scope(db_url) as s:
        for i in range(6):
            add(s, f"Same {i}", -0.5 + i * 0.01, -0.5, artist="Prolific")
        for i in range(3):
            add(s, f"Other {i}", -0.3, -0.2 - i * 0.05, artist=f"Other {i}")
        picks = recommend(s, "sad", n=6)
    artists = [p.artist for p in picks]
    assert all(a != b for a, b in zip(artists, artists[1:], strict=False))
    assert artists.count("Prolific") == 3


def test_liked_tracks_rank_above_equally_close_skipped_ones(db_url):
    with session_scope(db_url) as s:
        loved = add(s, "Loved", -0.5, -0.5, artist="A").id
        hated = add(s, "Hated", -0.5, -0.5, artist="B").id
        for i in range(5):
            repository.record_listening(s, f"s{i}", loved, "liked")
            repository.record_listening(s, f"s{i}", hated, "skipped")
    with session_scope(db_url) as s:
        picks = recommend(s, "sad", n=2)
    assert [p.track_id for p in picks] == [loved, hated]
    assert "liked by other listeners" in picks[0].reason


def test_same_seed_same_list(db_url):
    with session_scope(db_url) as s:
        populate(s, 2000, 0)
        runs = [[p.track_id for p in recommend(s, "fear", strategy="lift", n=10, seed=7)] for _ in range(2)]
        unseeded = [p.track_id for p in recommend(s, "fear", strategy="lift", n=10)]
    assert runs[0] == runs[1] and len(runs[0]) == 10
    assert len(unseeded) == 10


def test_grid_search_finds_exactly_the_nearest_tracks(db_url):
    from sqlalchemy import select

    from app.catalog.models import Track

    with session_scope(db_url) as s:
        populate(s, 5000, 0, seed=3)
        everything = s.execute(select(Track.id, Track.valence, Track.arousal)).all()
        for target in (MoodPoint(-0.55, -0.33), MoodPoint(0.99, -0.99), MoodPoint(0.0, 0.0)):
            found = nearest_track_ids(s, target, 40)
            brute = sorted(
                everything, key=lambda r: ((r.valence - target.valence) ** 2 + (r.arousal - target.arousal) ** 2, r.id)
            )[:40]
            expected = [math.dist((r.valence, r.arousal), (target.valence, target.arousal)) for r in brute]
            assert [d for _, d in found] == pytest.approx(expected, abs=1e-6)


def test_an_empty_catalog_gives_no_recommendations_and_bad_input_is_refused(db_url):
    with session_scope(db_url) as s:
        assert recommend(s, "happy", n=5) == []
        with pytest.raises(ValueError, match="unknown strategy"):
            recommend(s, "happy", strategy="party")
        with pytest.raises(ValueError, match="unknown emotion"):
            recommend(s, "bored")
