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
    assert pick.reason.startswith("you look sad → ") and " to lift you · " in pick.reason
    assert point_pick.reason.startswith("you seem low → ") and " to calm you down · " in point_pick.reason


def test_reasons_are_true_to_where_the_mood_came_from(db_url, catalog):
    """A hand-picked mood is never "you look sad": the reason names the pick, the camera or the
    picture that read the mood."""
    sad_face = {"sad": 0.8, "neutral": 0.2}
    cases = [
        ("sad", "manual", "you picked sad → "),
        (MoodPoint(0.5, -0.5), "manual", "you picked calm / tender → "),
        (sad_face, "camera", "the camera reads you as sad → "),
        ({"fear": 0.7, "angry": 0.3}, "camera", "the camera reads you as afraid → "),
        (sad_face, "photo", "your photo reads you as sad → "),
        (sad_face, "snapshot", "your snapshot reads you as sad → "),
        ("sad", None, "you look sad → "),  # the command line's --emotion
    ]
    with session_scope(db_url) as s:
        for mood, source, start in cases:
            picks = recommend(s, mood, n=5, source=source)
            assert picks and all(p.reason.startswith(start) for p in picks), (source, [p.reason for p in picks])
            if source == "manual":
                assert not any("look" in p.reason or "reads you" in p.reason for p in picks)
        with pytest.raises(ValueError, match="unknown mood source"):
            recommend(s, "sad", source="telepathy")


def test_five_reasons_of_one_queue_do_not_read_alike(db_url):
    """Five near-identical sad tracks: the wording still differs from track to track, and a track
    added later at the end of the queue (variant_start) reads unlike the ones before it."""
    with session_scope(db_url) as s:
        for i in range(8):
            add(s, f"Rain {i}", -0.55 + i * 0.005, -0.33, artist=f"Artist {i}")
        picks = recommend(s, "sad", n=5, source="manual")
        later = recommend(
            s, "sad", n=1, source="manual", variant_start=5, exclude_track_ids=[p.track_id for p in picks]
        )
    reasons = [p.reason for p in picks]
    assert len(set(reasons)) == 5
    assert len({r.split(" → ")[1].split(" · ")[0] for r in reasons}) == 5  # the middle part differs too
    assert later[0].reason not in reasons[1:]


def test_reasons_say_where_a_track_sits_and_speak_only_of_the_strategy_asked_for(db_url, catalog):
    from app.recommend import PURPOSES, describe_place

    target = MoodPoint(-0.5, -0.4)
    assert describe_place(-0.52, -0.38, target, "match") == "right on your mood"
    assert describe_place(-0.1, -0.4, target, "match") == "a step brighter"
    assert describe_place(-0.9, -0.4, target, "lift") == "a shade darker"
    assert describe_place(-0.5, 0.1, target, "calm") == "a little livelier"
    assert describe_place(-0.5, -0.9, target, "match") == "a gentler one"
    with session_scope(db_url) as s:
        by_strategy = {strategy: recommend(s, "sad", strategy=strategy, n=5) for strategy in PURPOSES}
    for strategy, picks in by_strategy.items():
        others = [phrase for other, phrases in PURPOSES.items() if other != strategy for phrase in phrases]
        assert not any(phrase in p.reason for p in picks for phrase in others), (strategy, [p.reason for p in picks])
        near = [p for p in picks if "nearest the catalog has" not in p.reason]
        assert near and all(any(phrase in p.reason for phrase in PURPOSES[strategy]) for p in near)


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
    new = [p for p in again if not p.replay]
    assert {p.track_id for p in first}.isdisjoint(p.track_id for p in new)
    assert len(new) == 10
    assert {p.track_id for p in first} <= {p.track_id for p in other_listener}


def test_when_everything_new_was_heard_the_least_recently_heard_come_back_and_say_so(db_url, catalog):
    """Never silent: asked for more than the unheard tracks, the session gets every new one
    first and then the tracks it heard longest ago, each reason saying it's a replay."""
    with session_scope(db_url) as s:
        heard = [p.track_id for p in recommend(s, "sad", n=8, session_id="me")]
        for tid in heard:  # heard in this order: heard[0] longest ago
            repository.record_listening(s, "me", tid, "completed")
    with session_scope(db_url) as s:
        again = recommend(s, "sad", n=6, session_id="me")
    assert [p.replay for p in again] == [False] * 4 + [True] * 2
    assert {p.track_id for p in again[:4]}.isdisjoint(heard)
    assert {p.track_id for p in again[4:]} <= set(heard[:3])  # the oldest; the newest five held back
    assert all("heard earlier" in p.reason for p in again[4:])
    assert not any("heard earlier" in p.reason for p in again[:4])


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
        # The skipped one goes in first: a tie broken by id would put it first.
        hated = add(s, "Hated", -0.5, -0.5, artist="B").id
        loved = add(s, "Loved", -0.5, -0.5, artist="A").id
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


def test_the_search_finds_the_nearest_tracks_a_session_has_not_heard_however_many_it_has(db_url):
    """A listener who stayed in one mood has heard the tracks nearest to it: the search still
    returns exactly the nearest others, whether it knows where the heard tracks lie or not."""
    from sqlalchemy import select

    from app.catalog.models import Track
    from app.recommend import nearest_for_targets

    with session_scope(db_url) as s:
        populate(s, 5000, 0, seed=5)
        everything = s.execute(select(Track.id, Track.valence, Track.arousal)).all()
        targets = {MoodPoint(-0.55, -0.33): 25, MoodPoint(0.2, 0.1): 40, MoodPoint(0.98, 0.98): 10}

        def by_distance(target):
            return sorted(
                everything, key=lambda r: ((r.valence - target.valence) ** 2 + (r.arousal - target.arousal) ** 2, r.id)
            )

        heard = {r.id for t in targets for r in by_distance(t)[:120]}  # far more than each k
        placed = {r.id: (r.valence, r.arousal) for r in everything if r.id in heard and r.id % 2}  # half known
        for points in (None, placed):
            found = nearest_for_targets(s, targets, heard, excluded_points=points)
            for target, k in targets.items():
                expected = [r.id for r in by_distance(target) if r.id not in heard][:k]
                assert [tid for tid, _ in found[target]] == expected


def test_an_empty_catalog_gives_no_recommendations_and_bad_input_is_refused(db_url):
    with session_scope(db_url) as s:
        assert recommend(s, "happy", n=5) == []
        with pytest.raises(ValueError, match="unknown strategy"):
            recommend(s, "happy", strategy="party")
        with pytest.raises(ValueError, match="unknown emotion"):
            recommend(s, "bored")


# ----------------------------------------------------------------------------- steering


def test_lift_and_calm_paths_start_near_the_mood_and_end_at_the_goal_while_match_stays():
    from app.emotions import target_for_strategy
    from app.listening.steering import steering_path

    sad = MoodPoint(-0.6, -0.3)
    for strategy in ("lift", "calm"):
        path = steering_path(sad, strategy, 4)
        goal = target_for_strategy(sad, strategy)
        assert len(path) == 4 and path[-1] == goal
        points = [(p.valence, p.arousal) for p in (sad, *path)]
        steps = [math.dist(a, b) for a, b in zip(points, points[1:], strict=False)]
        assert max(steps) - min(steps) < 1e-9  # even steps, none a jump
        assert steps[0] < math.dist(points[0], points[-1]) / 2
    assert steering_path(sad, "match", 3) == [sad] * 3
    with pytest.raises(ValueError):
        steering_path(sad, "sideways", 3)


def test_the_queues_ith_track_is_ranked_against_the_paths_ith_point(db_url):
    from app.listening.steering import steering_path

    with session_scope(db_url) as s:
        populate(s, 3000, 0, seed=3)
        sad = MoodPoint(-0.6, -0.3)
        path = steering_path(sad, "lift", 4)
        picks = recommend(s, sad, strategy="lift", n=4, path=path)
        jump = recommend(s, sad, strategy="lift", n=4)
    assert [p.target for p in picks] == path
    for pick, point in zip(picks, path, strict=True):
        assert math.dist((pick.valence, pick.arousal), (point.valence, point.arousal)) < 0.15
    valences = [p.valence for p in picks]
    assert valences == sorted(valences)  # brighter step by step
    assert valences[0] < min(p.valence for p in jump) - 0.3  # the first step meets the listener


def test_the_page_gets_the_path_and_each_queued_tracks_place_and_a_top_up_continues_the_path(db_url):
    from app.listening import service
    from app.listening.mood import reading_from_point
    from app.listening.session import ListenerSession
    from app.listening.steering import steering_path

    with session_scope(db_url) as s:
        populate(s, 3000, 0, seed=4)
    listener = ListenerSession(strategy="calm")
    listener.apply_manual_reading(reading_from_point(-0.5, 0.7))
    listener.refill(service.recommender_for(listener))
    path, places = service.steering(listener)
    assert path == steering_path(MoodPoint(-0.5, 0.7), "calm")
    assert [p.target for p in places[: len(path)]] == path and len(places) == 5
    assert places[-1].target == path[-1]  # past the path's end: the goal
    assert all(p.distance < 0.2 for p in places)
    listener.play_next()  # the head plays; a top-up adds one at the end, aimed at the goal
    listener.refill(service.recommender_for(listener))
    _, places = service.steering(listener)
    assert len(places) == 5 and places[-1].target == path[-1]
