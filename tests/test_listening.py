"""The listener's domain without Streamlit: the live frame path (holder and processor, with
plain arrays instead of av frames), mood readings and where they come from, now playing and up
next, history and liked, and the session snapshot that survives a reload (SQLite and MariaDB)."""

from __future__ import annotations

import json
import math

import pytest
from catalog_helpers import add

from app.catalog.db import session_scope
from app.catalog.summary import TrackSummary
from app.emotions import label_to_point
from app.listening.mood import (
    MoodLogThrottle,
    MoodReading,
    reading_from_distribution,
    reading_from_faces,
    reading_from_label,
    reading_from_point,
)
from app.listening.session import QUEUE_LENGTH, ListenerSession
from app.recommend import PURPOSES, Recommendation


def _happy_face_analyzer(cost_s: float, clock: list[float]):
    """A stand-in analyzer (no model) that finds one happy face and takes `cost_s` of the fake
    clock to do it."""
    from app.vision import Face

    class OneHappyFace:
        calls = 0

        def analyze(self, image):
            self.calls += 1
            clock[0] += cost_s
            probs = {label: 0.02 for label in ("angry", "disgust", "fear", "neutral", "sad", "surprise")}
            probs["happy"] = 0.88
            return [Face((200, 120, 200, 200), "happy", probs)]

    return OneHappyFace()


def _stream_one_second(process, clock: list[float], fps: int = 30):
    import numpy as np

    frame = np.full((480, 640, 3), 90, np.uint8)
    out, start = frame, math.ceil(clock[0])
    for i in range(fps):
        clock[0] = max(clock[0], start + i / fps)  # a frame arrives no earlier than the camera sends it
        out = process(frame)
    return frame, out


def test_frame_processor_feeds_the_holder_and_draws_the_overlay_on_every_frame():
    """The WebRTC callback's work, with the real smoother and overlay: the holder gets a smoothed
    mood, the frame comes back with the overlay, and a cheap analysis runs on every frame of a
    30 fps stream (the overlay follows the face instead of trailing it)."""
    from app.listening.live import AnalysisBudget, MoodHolder, make_frame_processor
    from app.vision import MoodSmoother, draw_overlay

    now = [0.0]
    analyzer, holder = _happy_face_analyzer(0.005, now), MoodHolder()
    process = make_frame_processor(
        analyzer, holder, MoodSmoother(), draw_overlay, clock=lambda: now[0], budget=AnalysisBudget()
    )
    assert holder.snapshot().frames_seen == 0
    frame, out = _stream_one_second(process, now)
    snap = holder.snapshot()
    assert snap.mood is not None and snap.mood.label == "happy" and snap.error is None
    assert analyzer.calls == 30
    assert (out != frame).any(axis=2).sum() > 2000  # the box and label are drawn
    assert (frame == 90).all()  # the camera's frame itself is not modified


def test_a_slow_analysis_spaces_out_instead_of_eating_the_cpu():
    """Where one analysis costs more than the camera's frame interval allows, analyses space out
    so they take about ANALYSIS_CPU_SHARE of a core, and the frames between still get the overlay."""
    from app.listening.live import ANALYSIS_CPU_SHARE, AnalysisBudget, MoodHolder, make_frame_processor
    from app.vision import MoodSmoother, draw_overlay

    now, cost = [0.0], 0.06
    analyzer, holder = _happy_face_analyzer(cost, now), MoodHolder()
    process = make_frame_processor(
        analyzer, holder, MoodSmoother(), draw_overlay, clock=lambda: now[0], budget=AnalysisBudget()
    )
    for _ in range(3):  # three seconds: past the first analyses, whose cost isn't known yet
        frame, out = _stream_one_second(process, now)
    second_calls = analyzer.calls
    frame, out = _stream_one_second(process, now)
    per_second = analyzer.calls - second_calls
    assert per_second * cost <= ANALYSIS_CPU_SHARE + cost  # the budget, give or take one analysis
    assert per_second >= 4  # still several readings a second
    assert (out != frame).any(axis=2).sum() > 2000  # a frame between analyses keeps its overlay


def test_many_listeners_share_one_budget_and_each_still_gets_several_readings_a_second():
    """Ten live streams in one server process: together their analyses stay near the budget
    (each stream alone would analyse every frame), and every listener's mood still updates."""
    from app.listening.live import (
        ANALYSIS_CPU_SHARE,
        MAX_ANALYSIS_GAP_S,
        AnalysisBudget,
        MoodHolder,
        make_frame_processor,
    )
    from app.vision import MoodSmoother, draw_overlay

    now, cost, budget = [0.0], 0.005, AnalysisBudget()
    streams = []
    for _ in range(10):
        analyzer = _happy_face_analyzer(cost, now)
        process = make_frame_processor(
            analyzer, MoodHolder(), MoodSmoother(), draw_overlay, clock=lambda: now[0], budget=budget
        )
        streams.append((analyzer, process))
    import numpy as np

    frame = np.full((480, 640, 3), 90, np.uint8)
    for second in range(2):
        before = [a.calls for a, _ in streams]
        for i in range(30):
            for _, process in streams:
                now[0] = max(now[0], second + i / 30)
                process(frame)
        calls = [a.calls - b for (a, _), b in zip(streams, before, strict=True)]
    assert sum(calls) * cost <= ANALYSIS_CPU_SHARE + len(streams) * cost  # not ten times one stream's
    assert sum(calls) < 10 * 30 / 2
    assert min(calls) >= int(1 / MAX_ANALYSIS_GAP_S) - 1  # and nobody's mood stalls


def test_frame_processor_survives_a_failing_model_and_reports_it():
    import numpy as np

    from app.listening.live import MoodHolder, make_frame_processor
    from app.vision import MoodSmoother, draw_overlay

    class Broken:
        def analyze(self, image):
            raise RuntimeError("model exploded")

    holder = MoodHolder()
    process = make_frame_processor(Broken(), holder, MoodSmoother(), draw_overlay)
    frame = np.zeros((48, 64, 3), np.uint8)
    assert process(frame) is frame
    assert "model exploded" in holder.snapshot().error


# ----------------------------------------------------------------------------- mood source


def _camera(label: str, p: float = 0.8) -> MoodReading:
    others = {other: (1 - p) / 6 for other in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")}
    return reading_from_distribution({**others, label: p}, source="camera")


def test_a_manual_pick_wins_over_the_camera_until_the_listener_hands_back_to_it():
    session = ListenerSession()
    assert session.mood_source == "camera"
    assert session.apply_camera_reading(_camera("happy")) is True
    assert session.effective_mood().label == "happy"

    assert session.apply_manual_reading(reading_from_label("sad")) is True
    assert (session.mood_source, session.effective_mood().label) == ("manual", "sad")
    # The camera goes on reading; it is kept, but doesn't drive the music (nor get logged).
    assert session.apply_camera_reading(_camera("angry")) is False
    assert (session.camera_mood.label, session.effective_mood().label) == ("angry", "sad")

    assert session.use_camera() is True
    assert (session.mood_source, session.effective_mood().label) == ("camera", "angry")
    assert session.use_manual() is True and session.effective_mood().label == "sad"
    with pytest.raises(ValueError):
        session.apply_camera_reading(reading_from_label("sad"))  # a pick is not the camera's


def test_switching_to_a_camera_that_has_not_seen_a_face_keeps_the_music_on_the_pick():
    session = ListenerSession()
    session.apply_manual_reading(reading_from_point(0.5, -0.5))
    assert session.use_camera() is False  # nothing new applied yet
    assert session.effective_mood().describe() == "calm / tender"
    assert session.apply_camera_reading(_camera("sad")) is True


def test_lock_freezes_whichever_source_is_active_and_keeps_new_readings_for_later():
    session = ListenerSession()
    assert session.lock() is False  # nothing to lock yet
    session.apply_camera_reading(_camera("sad"))
    assert session.lock() is True and session.is_locked
    assert session.apply_camera_reading(_camera("happy")) is False
    assert session.apply_manual_reading(reading_from_label("angry")) is False
    assert session.use_manual() is False  # no switching while locked
    assert (session.mood_source, session.effective_mood().label) == ("camera", "sad")
    assert (session.camera_mood.label, session.manual_mood.label) == ("happy", "angry")
    assert session.unlock() is True  # the camera's latest applies now
    assert session.effective_mood().label == "happy"


# ----------------------------------------------------------------------------- now playing and up next


def _summary(track_id: int, valence: float = -0.5, arousal: float = -0.5, artist: str = "A") -> TrackSummary:
    return TrackSummary(
        track_id=track_id,
        title=f"T{track_id}",
        artist=artist,
        album=None,
        quadrant="Q3",
        valence=valence,
        arousal=arousal,
        duration_s=30.0,
        media_path=f"aa/{track_id}.wav",
        format="wav",
        tagged_by="model:test",
        probabilities={"Q1": 0.1, "Q2": 0.1, "Q3": 0.7, "Q4": 0.1},
    )


def _rec(track_id: int, artist: str = "A") -> Recommendation:
    return Recommendation(track=_summary(track_id, artist=artist), score=0.5, reason="because")


class FakeRecommender:
    """Tracks 1.. in order, minus the excluded; the reason names mood and strategy."""

    def __init__(self, size: int = 30) -> None:
        self.catalog = list(range(1, size + 1))
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, mood, strategy, exclude, n, *, variant_start=0):
        self.calls.append((strategy, n, variant_start))
        ids = [t for t in self.catalog if t not in exclude][:n]
        return [
            Recommendation(_summary(t), 0.5, f"{mood.describe()} {strategy} #{variant_start + i}")
            for i, t in enumerate(ids)
        ]


def test_now_playing_is_separate_from_up_next_which_refills_as_it_drains():
    recommend, session = FakeRecommender(), ListenerSession()
    assert session.refill(recommend) is False and recommend.calls == []  # no mood, no music yet
    session.apply_manual_reading(reading_from_label("sad"))
    assert session.refill(recommend) is True
    assert [r.track_id for r in session.queue] == [1, 2, 3, 4, 5] and session.now_playing is None
    assert session.refill(recommend) is False and len(recommend.calls) == 1  # full and current: no query

    assert session.play_next().track_id == 1  # cues the first track: nothing to put in history
    assert session.history == [] and session.position_s == 0.0
    session.refill(recommend)
    assert [r.track_id for r in session.queue] == [2, 3, 4, 5, 6]
    assert session.set_position(1, 12.5) and not session.set_position(2, 3.0)

    # The listener moves on at 12.5 s; then the player plays 2 to its end and moves on by itself.
    assert session.play_next().track_id == 2
    assert session.advance_to(3, position_s=30.0).track_id == 3
    assert session.advance_to(3) is session.now_playing  # the same report seen again changes nothing
    assert [(e.track_id, e.outcome, e.position_s) for e in session.history] == [
        (1, "skipped", 12.5),
        (2, "completed", 30.0),
    ]
    # Removing a queued track is a skip of an unplayed track.
    assert session.remove(5).track_id == 5 and session.remove(5) is None
    assert session.history[-1].outcome == "skipped" and session.history[-1].position_s is None
    session.refill(recommend)
    assert len(session.queue) == QUEUE_LENGTH and {1, 2, 3, 5}.isdisjoint(r.track_id for r in session.queue)
    assert session.advance_to(999) is None and session.now_playing.track_id == 3


def test_a_new_mood_or_strategy_rebuilds_up_next_and_never_touches_now_playing():
    recommend, session = FakeRecommender(), ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(recommend)
    session.play_next()
    session.set_position(1, 42.0)
    session.refill(recommend)
    assert session.set_strategy("lift") is True and session.set_strategy("lift") is False
    assert session.refill(recommend) is True
    assert (session.now_playing.track_id, session.position_s) == (1, 42.0)
    assert all(r.reason.startswith("sad lift") for r in session.queue)  # every reason is new
    session.apply_manual_reading(reading_from_label("happy"))
    session.refill(recommend)
    assert all(r.reason.startswith("happy lift") for r in session.queue)
    # The wording counter runs on, so a track added at the end never repeats its neighbours'.
    assert [c[2] for c in recommend.calls] == [0, 5, 6, 11]


def test_the_player_can_be_followed_to_a_track_a_rebuild_took_out_of_up_next():
    recommend, session = FakeRecommender(), ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(recommend)
    session.play_next()
    session.refill(recommend)
    head = session.queue[0].track_id
    recommend.catalog.reverse()  # the next rebuild picks other tracks
    session.set_strategy("calm")
    session.refill(recommend)
    assert head not in [r.track_id for r in session.queue] and head in session.known_track_ids()
    assert session.advance_to(head).track_id == head  # the bar had it already and played it


def test_like_works_on_the_playing_a_queued_and_a_history_track_and_counts_once():
    recommend, session = FakeRecommender(), ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(recommend)
    session.play_next()
    session.play_next()
    assert [session.like(t) for t in (2, 4, 1, 1, 999)] == [True, True, True, False, False]
    assert [t.track_id for t in session.liked_tracks()] == [2, 1, 4]


def test_replay_puts_a_history_track_back_as_now_playing_and_keeps_up_next():
    recommend, session = FakeRecommender(), ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(recommend)
    session.play_next()
    session.play_next(outcome="completed", position_s=30.0)
    session.refill(recommend)
    up_next = list(session.queue)
    session.set_position(2, 7.0)
    assert session.replay(1).track_id == 1 and session.position_s == 0.0
    assert session.queue == up_next
    assert (session.history[-1].track_id, session.history[-1].outcome, session.history[-1].position_s) == (
        2,
        "skipped",
        7.0,
    )
    assert session.replay(up_next[0].track_id) is None  # not heard yet: nothing to replay


def test_forgetting_gives_a_new_anonymous_session_that_keeps_only_the_strategy():
    session = ListenerSession(strategy="calm")
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(FakeRecommender())
    old_id = session.session_id
    session.forget()
    assert session.session_id != old_id and session.queue == [] and session.effective_mood() is None
    assert session.strategy == "calm"


# ----------------------------------------------------------------------------- with the catalog


@pytest.fixture
def sad_catalog(db_url):
    with session_scope(db_url) as s:
        return [
            add(s, f"Rain {i}", -0.6 + i * 0.02, -0.4 + i * 0.01, artist=f"Artist {i % 4}").id for i in range(12)
        ] + [add(s, f"Meadow {i}", 0.5 + i * 0.02, -0.5, artist=f"Calm {i % 3}").id for i in range(8)]


def test_queued_reasons_follow_the_source_the_strategy_and_vary(db_url, sad_catalog):
    from app.listening import service

    session = ListenerSession()
    session.apply_camera_reading(_camera("sad"))
    session.refill(service.recommend)
    session.play_next()
    session.refill(service.recommend)
    reasons = [r.reason for r in session.queue]
    assert all(r.startswith("the camera reads you as sad → ") for r in reasons)
    assert len(set(reasons)) == QUEUE_LENGTH

    session.set_strategy("calm")
    session.refill(service.recommend)
    assert all(any(p in r.reason for p in PURPOSES["calm"]) for r in session.queue)
    session.apply_manual_reading(reading_from_label("sad"))
    session.set_strategy("match")
    session.refill(service.recommend)
    reasons = [r.reason for r in session.queue]
    assert all(r.startswith("you picked sad → ") for r in reasons)
    assert not any(p in r for r in reasons for p in (*PURPOSES["calm"], *PURPOSES["lift"]))
    assert len(set(reasons)) == QUEUE_LENGTH


def test_the_empty_catalog_is_told_apart_from_having_heard_it_all(db_url):
    from app.listening import service

    session = ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(service.recommend)
    assert session.queue == [] and service.catalog_is_empty() is True
    with session_scope(db_url) as s:
        only = add(s, "Only", -0.5, -0.4).id
    session.refill(service.recommend)
    session.play_next()
    session.play_next(outcome="completed")
    session.refill(service.recommend)
    assert session.queue == [] and session.history[-1].track_id == only
    assert service.catalog_is_empty() is False  # there is music: this listener heard it all


# ----------------------------------------------------------------------------- surviving a reload


def _listened(recommend) -> ListenerSession:
    session = ListenerSession(strategy="lift")
    session.apply_camera_reading(_camera("sad"))
    session.apply_manual_reading(reading_from_point(-0.4, 0.6))
    session.refill(recommend)
    session.play_next()
    session.play_next(outcome="completed", position_s=30.0)
    session.set_position(session.now_playing.track_id, 17.25)
    session.refill(recommend)
    session.remove(session.queue[1].track_id)
    session.like(session.history[0].track_id)
    session.refill(recommend)
    session.lock()
    return session


def test_a_saved_session_comes_back_as_it_was(db_url, sad_catalog):
    from app.listening import persistence, service

    session = _listened(service.recommend)
    persistence.save(session)
    restored = persistence.load(session.session_id)
    assert restored == session
    assert (restored.now_playing.track_id, restored.position_s, restored.mood_source) == (
        session.now_playing.track_id,
        17.25,
        "manual",
    )
    assert [(r.track_id, r.reason) for r in restored.queue] == [(r.track_id, r.reason) for r in session.queue]
    assert restored.refill(service.recommend) is False  # nothing to rebuild after a reload
    # A second save replaces the first (one row per session), and resume finds it.
    restored.play_next()
    service.save_session(restored)
    again = service.resume_session(session.session_id)
    assert again == restored and again.session_id == session.session_id


def test_a_track_deleted_since_drops_out_of_the_restored_session(db_url, sad_catalog):
    from app.catalog import repository
    from app.listening import persistence, service

    session = _listened(service.recommend)
    persistence.save(session)
    gone = {session.now_playing.track_id, session.queue[0].track_id}
    with session_scope(db_url) as s:
        for track_id in gone:
            repository.delete_track(s, track_id)
    restored = persistence.load(session.session_id)
    assert restored.now_playing is None and restored.position_s == 0.0
    assert [r.track_id for r in restored.queue] == [r.track_id for r in session.queue[1:]]
    assert len(restored.history) == len(session.history)


def test_the_snapshot_holds_mood_numbers_and_track_ids_and_nothing_that_names_the_person(db_url, sad_catalog):
    from app.catalog.models import ListenerSessionState
    from app.listening import persistence, service

    session = _listened(service.recommend)
    persistence.save(session)
    with session_scope(db_url) as s:
        [row] = s.query(ListenerSessionState).all()
        stored = json.loads(row.state)
    assert row.session_id == session.session_id and session.session_id not in row.state
    assert set(stored) == {
        "v", "strategy", "mood_source", "camera_mood", "manual_mood", "locked_mood", "now_playing", "position_s",
        "queue", "queue_basis", "reason_seq", "history", "liked",
    }  # fmt: skip
    assert set(stored["camera_mood"]) == {"valence", "arousal", "label", "confidence", "source", "probabilities"}
    assert "title" not in row.state and "media_path" not in row.state  # tracks by id only


def test_forget_deletes_the_snapshot_and_a_forgotten_id_is_not_revived(db_url, sad_catalog):
    from app.listening import persistence, service

    session = _listened(service.recommend)
    assert service.log_mood(session.session_id, reading_from_label("sad"))
    persistence.save(session)
    assert service.forget_session(session.session_id) == 1
    assert persistence.load(session.session_id) is None
    fresh = service.resume_session(session.session_id)
    assert fresh.session_id != session.session_id and fresh.queue == []


def test_snapshots_nobody_came_back_to_can_be_purged(db_url):
    from datetime import timedelta

    from app.catalog.models import ListenerSessionState, utcnow
    from app.listening import persistence

    stale, alive = ListenerSession(), ListenerSession()
    persistence.save(stale)
    persistence.save(alive)
    with session_scope(db_url) as s:
        s.get(ListenerSessionState, stale.session_id).updated_at = utcnow() - timedelta(days=40)
    with session_scope(db_url) as s:
        assert persistence.purge_older_than(s, utcnow() - timedelta(days=30)) == 1
    assert persistence.load(stale.session_id) is None and persistence.load(alive.session_id) == alive


@pytest.mark.parametrize(
    "bad", ["", "nope", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "../" + "0" * 29, "0" * 32 + "\n", None, 42]
)
def test_an_id_that_is_not_32_hex_is_refused(db_url, bad):
    from app.listening import persistence, service

    assert persistence.is_valid_session_id(bad) is False
    with pytest.raises(persistence.InvalidSessionId):
        persistence.load(bad)
    with pytest.raises(persistence.InvalidSessionId):
        persistence.save(ListenerSession(session_id=bad))
    assert persistence.is_valid_session_id(service.resume_session(bad).session_id)


def test_a_corrupt_snapshot_is_treated_as_no_snapshot(db_url, sad_catalog):
    from app.catalog.models import ListenerSessionState
    from app.listening import persistence

    ids = ["a" * 32, "b" * 32, "c" * 32]
    with session_scope(db_url) as s:
        s.add(ListenerSessionState(session_id=ids[0], state="{not json"))
        s.add(ListenerSessionState(session_id=ids[1], state=json.dumps({"v": 99})))
        s.add(
            ListenerSessionState(
                session_id=ids[2],
                state=json.dumps(
                    {
                        "v": 1,
                        "strategy": "party",
                        "mood_source": "telepathy",
                        "camera_mood": {"valence": 7, "arousal": 0, "source": "camera"},
                        "manual_mood": {"valence": -0.5, "arousal": -0.3, "source": "manual", "label": "sad"},
                        "now_playing": {"id": True, "score": 1, "reason": "x"},
                        "queue": [{"id": sad_catalog[0], "score": 0.5, "reason": "ok"}, {"id": "2"}, 5],
                        "history": [{"id": sad_catalog[1], "outcome": "exploded", "at": "2024-01-01T00:00:00"}],
                        "liked": [sad_catalog[0], -1, "x"],
                    }
                ),
            )
        )
    assert persistence.load(ids[0]) is None and persistence.load(ids[1]) is None
    odd = persistence.load(ids[2])
    assert (odd.strategy, odd.mood_source, odd.camera_mood, odd.now_playing, odd.history) == (
        "match",
        "camera",
        None,
        None,
        [],
    )
    assert odd.manual_mood.label == "sad" and odd.manual_mood.point == label_to_point("sad").__class__(-0.5, -0.3)
    assert [r.track_id for r in odd.queue] == [sad_catalog[0]] and odd.liked == {sad_catalog[0]}


def test_an_existing_database_gets_the_sessions_table_on_init(tmp_path):
    from sqlalchemy import create_engine, inspect

    from app.catalog.db import init_db
    from app.catalog.models import Base

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine, tables=[t for n, t in Base.metadata.tables.items() if n != "listener_sessions"])
    engine.dispose()
    assert "listener_sessions" not in inspect(create_engine(url)).get_table_names()
    init_db(url)
    assert "listener_sessions" in inspect(create_engine(url)).get_table_names()


def test_a_jittery_point_keeps_its_queue_basis_and_the_throttle_logs_changes_or_every_interval():
    assert reading_from_point(0.51, 0.49).basis() == reading_from_point(0.49, 0.52).basis()
    assert reading_from_point(0.5, 0.5).basis() != reading_from_point(-0.5, 0.5).basis()
    throttle = MoodLogThrottle(interval_s=15)
    sad, happy = reading_from_label("sad"), reading_from_label("happy")
    assert [throttle.should_log(r, t) for r, t in [(sad, 0), (sad, 5), (happy, 6), (happy, 22)]] == [
        True,
        False,
        True,
        True,
    ]


def test_the_biggest_face_in_a_still_picture_decides_the_mood():
    from app.vision import Face

    small = Face((0, 0, 20, 20), "sad", {"sad": 0.9, "happy": 0.1})
    big = Face((50, 50, 120, 120), "happy", {"sad": 0.2, "happy": 0.8})
    reading = reading_from_faces([small, big], "photo")
    assert (reading.label, reading.source, reading.confidence) == ("happy", "photo", pytest.approx(0.8))
    assert reading_from_faces([], "photo") is None


def test_up_next_is_rebuilt_only_for_a_camera_mood_that_holds(monkeypatch):
    """Issue 30 (11): a steady happy face whose reading flickers to neutral for a moment keeps
    up next as it is (a row the listener aims at isn't replaced between two clicks); a
    neutral face that stays neutral rebuilds it once it has held."""
    from app.listening import session as session_module

    clock = [100.0]
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    session = ListenerSession()
    session.apply_camera_reading(_camera("happy"))
    session.queue_basis = session.basis()  # up next was built for happy
    for label in ("neutral", "happy", "neutral", "neutral"):  # a flicker, back, and a short spell
        clock[0] += 1.0
        session.apply_camera_reading(_camera(label))
        assert not session.basis_changed(), label
    clock[0] += session_module.CAMERA_SETTLE_S
    session.apply_camera_reading(_camera("neutral"))
    assert session.basis_changed() and session.basis() == ("match", "label", "neutral")
    # A pick applies at once, whatever the camera is doing.
    session.queue_basis = session.basis()
    session.apply_manual_reading(reading_from_label("sad"))
    assert session.basis_changed() and session.effective_mood().label == "sad"
