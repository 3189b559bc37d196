"""Mood response: how the camera-read mood moved while a track played is stored (page session and
`session` command alike), and the recommender's bandit over it picks tracks that actually lift
(or calm) people — pooled evidence as a prior, the session's own at once, a bounded reach."""

from __future__ import annotations

import pytest
from catalog_helpers import add
from sqlalchemy import func, select

from app.catalog.db import session_scope
from app.catalog.models import MoodResponse
from app.emotions import MoodPoint
from app.listening import response, service
from app.listening.mood import MoodReading, reading_from_point
from app.listening.response import MIN_READINGS, MIN_SECONDS, MoodTrace, Response
from app.listening.script import ScriptedSession
from app.listening.session import ListenerSession
from app.recommend import Recommendation
from app.recommend import ranking as recommend_module


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("app.listening.session.time", fake)
    return fake


def camera(v: float, a: float) -> MoodReading:
    return MoodReading(point=MoodPoint(v, a), label="sad", confidence=0.8, source="camera", probabilities={"sad": 0.8})


def _rows() -> list[MoodResponse]:
    with session_scope() as s:
        rows = list(s.scalars(select(MoodResponse).order_by(MoodResponse.id)))
        s.expunge_all()
    return rows


def _item(track) -> Recommendation:
    from app.catalog.summary import TrackSummary

    return Recommendation(track=TrackSummary.of(track), score=1.0, reason="test")


# ----------------------------------------------------------------------------- measuring


def test_a_trace_gives_a_response_only_when_the_camera_saw_enough():
    trace = MoodTrace(1, "lift")
    for i in range(MIN_READINGS - 1):
        trace.add(MoodPoint(-0.5, 0.0), float(i * 5))
    assert trace.response() is None  # too few readings, however long
    short = MoodTrace(1, "lift")
    for i in range(3 * MIN_READINGS):
        short.add(MoodPoint(-0.5, 0.0), i * (MIN_SECONDS / (3 * MIN_READINGS)) * 0.9)
    assert short.response() is None  # many readings, too few seconds
    full = MoodTrace(1, "lift")
    for i in range(30):  # valence rises evenly from -0.5 to -0.21
        full.add(MoodPoint(-0.5 + 0.01 * i, 0.2), float(i))
    measured = full.response(29.0)
    assert measured is not None and measured.readings == 30 and measured.listened_s == 29.0
    # Start and end are each the mean of a few readings, not one.
    assert measured.start.valence == pytest.approx(-0.49) and measured.end.valence == pytest.approx(-0.22)
    assert measured.change_toward("lift") == pytest.approx(0.27)
    assert measured.change_toward("match") == 0.0


def test_a_track_played_while_the_camera_reads_the_listener_stores_its_mood_response(db_url, clock):
    with session_scope() as s:
        first, second = add(s, "First", -0.2, 0.1), add(s, "Second", 0.1, 0.1)
        first_item, second_item = _item(first), _item(second)
    session = ListenerSession(strategy="lift")
    session.queue = [first_item, second_item]
    session.apply_camera_reading(camera(-0.6, 0.1))
    session.play_next()  # First starts; the fresh camera reading is its start
    for i in range(1, 40):
        clock.now += 1
        session.apply_camera_reading(camera(-0.6 + 0.01 * i, 0.1))
        session.apply_camera_reading(camera(-0.6 + 0.01 * i, 0.1))  # the same reading again: not counted
    session.set_position(first_item.track_id, 39.0)
    session.play_next(outcome="completed")
    assert service.store_session_responses(session) == 1
    [row] = _rows()
    assert (row.track_id, row.strategy, row.session_id) == (first_item.track_id, "lift", session.session_id)
    assert row.readings == 40 and row.listened_s == 39.0
    assert row.valence_start == pytest.approx(-0.59) and row.valence_end == pytest.approx(-0.22)
    # Nothing measured twice; Second hasn't ended.
    assert service.store_session_responses(session) == 0


def test_a_track_the_camera_did_not_follow_stores_nothing(db_url, clock):
    with session_scope() as s:
        first_item, second_item = _item(add(s, "First", -0.2, 0.1)), _item(add(s, "Second", 0.1, 0.1))
    session = ListenerSession(strategy="lift")
    session.queue = [first_item, second_item]
    session.apply_manual_reading(reading_from_point(-0.6, 0.1))  # a picked mood is no response
    session.play_next()
    clock.now += 120
    session.play_next(outcome="completed")
    # A skip after five seconds of camera: too little to say what the track did.
    session.queue = [first_item]
    for _ in range(5):
        clock.now += 1
        session.apply_camera_reading(camera(-0.6 + 0.02 * _, 0.1))
    session.play_next(outcome="skipped", position_s=5.0)
    assert service.store_session_responses(session) == 0 and _rows() == []


def test_a_failed_write_keeps_the_responses_for_the_next_run(db_url, monkeypatch):
    session = ListenerSession(strategy="calm")
    session.pending_responses = [Response(1, "calm", MoodPoint(0, 0.6), MoodPoint(0, 0.3), 30, 30.0)]

    def down(*_a, **_k):
        raise RuntimeError("database down")

    monkeypatch.setattr(service, "store_responses", down)
    with pytest.raises(RuntimeError):
        service.store_session_responses(session)
    assert len(session.pending_responses) == 1


def test_the_scripted_session_stores_a_response_from_its_camera_readings(db_url):
    with session_scope() as s:
        tid = add(s, "Lifter", 0.2, 0.0).id
    listener = ScriptedSession()
    listener.handle({"cmd": "recommend", "mood": {"valence": -0.5, "arousal": 0.0}, "strategy": "lift"})
    readings = [{"at_s": i, "mood": {"valence": -0.5 + 0.01 * i, "arousal": 0.0}} for i in range(31)]
    reply = listener.handle(
        {"cmd": "feedback", "track_id": tid, "action": "completed", "position_s": 30, "camera": readings}
    )
    assert reply == {"ok": True, "mood_response": True}
    [row] = _rows()
    assert row.strategy == "lift" and row.readings == 31 and row.valence_end > row.valence_start
    too_few = listener.handle({"cmd": "feedback", "track_id": tid, "action": "skipped", "camera": readings[:3]})
    assert too_few == {"ok": True, "mood_response": False}
    # Old inputs are answered as before; a like has no "end of the track" to measure.
    assert listener.handle({"cmd": "feedback", "track_id": tid, "action": "played"}) == {"ok": True}
    with pytest.raises(ValueError, match="camera readings go with"):
        listener.handle({"cmd": "feedback", "track_id": tid, "action": "liked", "camera": readings})
    with pytest.raises(ValueError, match="time order"):
        listener.handle({"cmd": "feedback", "track_id": tid, "action": "played", "camera": readings[::-1]})
    # Forget deletes the responses with the events.
    listener.handle({"cmd": "forget"})
    assert _rows() == []


# ----------------------------------------------------------------------------- using


def _pooled(track_id: int, dv: float, da: float = 0.0, *, n: int = 3, start=(-0.6, 0.1), strategy="lift") -> None:
    """``n`` other listeners' responses to a track, each starting at ``start``."""
    with session_scope() as s:
        for i in range(n):
            response.store(
                s,
                f"other-{track_id}-{i}",
                [Response(track_id, strategy, MoodPoint(*start), MoodPoint(start[0] + dv, start[1] + da), 60, 60.0)],
            )


def _twins() -> tuple[int, int]:
    """Two tracks equally placed for a lift from (-0.6, 0.1), near the steering path's first
    step: with nothing known, the lower id (the dud) leads."""
    with session_scope() as s:
        dud = add(s, "Dud", -0.3, 0.15, artist="A").id
        lifter = add(s, "Lifter", -0.3, 0.15, artist="B").id
    return dud, lifter


def _lift_picks(listener: ListenerSession, n: int = 2) -> list[Recommendation]:
    return list(service.recommender_for(listener)(camera(-0.6, 0.1), "lift", set(), n))


def test_tracks_that_lifted_listeners_like_you_are_chosen_for_lift(db_url):
    dud, lifter = _twins()
    assert _lift_picks(ListenerSession())[0].track_id == dud  # nothing known yet
    _pooled(lifter, dv=+0.25)
    _pooled(dud, dv=0.0)
    [first, second] = _lift_picks(ListenerSession())
    assert (first.track_id, second.track_id) == (lifter, dud)
    assert "lifted listeners like you" in first.reason and "lifted" not in second.reason


def test_with_the_mood_response_reward_zeroed_the_lifter_no_longer_wins(db_url, monkeypatch):
    dud, lifter = _twins()
    _pooled(lifter, dv=+0.25)
    _pooled(dud, dv=0.0)
    monkeypatch.setattr(recommend_module, "RESPONSE_WEIGHT", 0.0)
    assert _lift_picks(ListenerSession())[0].track_id == dud


def test_the_evidence_is_per_strategy_and_match_ignores_it(db_url):
    dud, lifter = _twins()
    _pooled(lifter, dv=+0.25, da=+0.3)  # brightened people and stirred them up
    calm = service.recommender_for(ListenerSession())(camera(-0.6, 0.1), "calm", set(), 2)
    assert "calmed" not in " ".join(p.reason for p in calm)
    match = service.recommend(camera(-0.3, 0.15), "match", set(), 2, session_id="someone")
    assert match[0].track_id == dud  # no direction to move: ties as before


def test_listeners_who_started_elsewhere_count_less(db_url):
    dud, lifter = _twins()
    _pooled(lifter, dv=+0.2, n=2, start=(-0.6, 0.1))  # like this listener
    _pooled(dud, dv=+0.2, n=2, start=(0.9, -0.9))  # a very different mood
    [first, _] = _lift_picks(ListenerSession())
    assert first.track_id == lifter


def test_the_sessions_own_response_lifts_tracks_that_sound_like_it_at_once(db_url):
    q1 = {"Q1": 0.85, "Q2": 0.05, "Q3": 0.05, "Q4": 0.05}
    q3 = {"Q1": 0.05, "Q2": 0.05, "Q3": 0.85, "Q4": 0.05}
    with session_scope() as s:
        heard = add(s, "Heard", -0.33, 0.12, artist="H", probabilities=q1).id
        plain = add(s, "Plain", -0.3, 0.15, artist="P", probabilities=q3).id
        bright = add(s, "Bright", -0.3, 0.15, artist="B", probabilities=q1).id
    listener = ListenerSession()
    before = _lift_picks(listener, 3)
    assert [p.track_id for p in before][:2] == [heard, plain]
    service.store_responses(
        listener.session_id, [Response(heard, "lift", MoodPoint(-0.6, 0.1), MoodPoint(-0.3, 0.1), 60, 60.0)]
    )
    after = service.recommender_for(listener)(camera(-0.6, 0.1), "lift", {heard}, 2)
    assert [p.track_id for p in after] == [bright, plain]
    assert "like the tracks that lifted you" in after[0].reason


def test_a_far_track_is_never_pulled_in_by_its_responses(db_url):
    with session_scope() as s:
        near = add(s, "Near", -0.3, 0.15, artist="N").id
        far = add(s, "Far", 0.9, -0.9, artist="F").id  # far from the lift target
    _pooled(far, dv=+0.6, n=10)
    [first] = _lift_picks(ListenerSession(), 1)
    assert first.track_id == near


def test_forget_deletes_the_sessions_responses(db_url):
    with session_scope() as s:
        tid = add(s, "T", 0.0, 0.0).id
    service.store_responses("me", [Response(tid, "lift", MoodPoint(0, 0), MoodPoint(0.1, 0), 30, 30.0)])
    service.store_responses("other", [Response(tid, "lift", MoodPoint(0, 0), MoodPoint(0.1, 0), 30, 30.0)])
    assert service.forget_session("me") == 1
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(MoodResponse)) == 1


# ----------------------------------------------------------------------------- a like, at once


def test_a_like_re_ranks_up_next_at_once_keeping_liked_tracks(db_url):
    """Calm and tense tracks mirrored about a neutral mood (tense first by id): liking the
    playing calm track makes the calm ones lead up next on the very next refill."""
    with session_scope() as s:
        tense = [add(s, f"Tense {i}", -0.35 - 0.05 * i, 0.35 + 0.05 * i, artist=f"T{i}").id for i in range(4)]
        calm = [add(s, f"Calm {i}", 0.35 + 0.05 * i, -0.35 - 0.05 * i, artist=f"C{i}").id for i in range(4)]
    listener = ListenerSession()
    listener.apply_manual_reading(reading_from_point(0, 0))
    recommend = service.recommender_for(listener)
    listener.refill(recommend)
    listener.play_next()
    listener.refill(recommend)
    playing, before = listener.now_playing.track_id, [r.track_id for r in listener.queue]
    assert playing == tense[0] and before[0] == calm[0]  # ties alternate by id: nothing learnt
    # Like the queued Calm 0, as the page does: in the session, and stored.
    assert listener.like(calm[0])
    service.log_listening(listener.session_id, calm[0], "liked", "match", listener.effective_mood())
    assert listener.refill(recommend)
    after = [r.track_id for r in listener.queue]
    assert after[0] == calm[0]  # the liked one stays, first
    assert after[1:3] == calm[1:3]  # and the next ones are like it
    assert not listener.refill(recommend)  # once: no re-rank without a new like


def test_how_a_track_ends_counts_toward_being_like_one_that_lifted(db_url):
    """Same point, same sound: the track whose last seconds are brighter, like the one that
    lifted this listener, is the one picked (``TrackSummary.end_mood``)."""
    import hashlib

    from app.catalog import repository

    def track(s, title: str, end_valence: float) -> int:
        sha = hashlib.sha256(title.encode()).hexdigest()
        probs = {"Q1": 0.1, "Q2": 0.7, "Q3": 0.1, "Q4": 0.1}
        timeline = [[0.0, 30.0, -0.3, 0.15], [30.0, 60.0, end_valence, 0.15]]
        return repository.add_track(
            s,
            title=title,
            artist=title,
            album=None,
            duration_s=60.0,
            sha256=sha,
            media_path=f"{sha}.wav",
            format="wav",
            quadrant="Q2",
            valence=-0.3,
            arousal=0.15,
            probabilities=probs,
            tagged_by="model:test",
            timeline=timeline,
        ).id

    with session_scope() as s:
        heard, flat, rising = track(s, "Heard", 0.6), track(s, "Flat", -0.3), track(s, "Rising", 0.6)
    listener = ListenerSession()
    service.store_responses(
        listener.session_id, [Response(heard, "lift", MoodPoint(-0.6, 0.1), MoodPoint(-0.3, 0.1), 60, 60.0)]
    )
    picks = service.recommender_for(listener)(camera(-0.6, 0.1), "lift", {heard}, 2)
    assert [p.track_id for p in picks] == [rising, flat]


# ----------------------------------------------------------------------------- the evidence itself


def _effect(track_id: int, session_id: str | None) -> response.Effect:
    from app.catalog import repository

    with session_scope() as s:
        tracks = {t.track_id: t for t in repository.track_summaries(s, [track_id])}
        evidence = response.ResponseEvidence.load(s, tracks, session_id)
    return evidence.effects("lift", MoodPoint(-0.6, 0.1), list(tracks.values()))[track_id]


def test_the_listeners_own_response_counts_more_than_a_strangers(db_url):
    with session_scope() as s:
        tid = add(s, "T", -0.3, 0.15).id
    lifted = [Response(tid, "lift", MoodPoint(-0.6, 0.1), MoodPoint(-0.4, 0.1), 60, 60.0)]
    service.store_responses("me", lifted)
    mine, strangers = _effect(tid, "me"), _effect(tid, "someone-else")
    # The same row: as this listener's own it weighs SESSION_WEIGHT strangers' (surer, further
    # from the prior), and it is not "other listeners" evidence for the reason text.
    assert mine.sd < strangers.sd and mine.mean > strangers.mean > 0
    assert mine.pooled == 0 and strangers.pooled > 0


def test_only_each_tracks_newest_responses_count(db_url, monkeypatch):
    monkeypatch.setattr(response, "TRACK_LIMIT", 8)
    with session_scope() as s:
        tid = add(s, "T", -0.3, 0.15).id
        twin = add(s, "Twin", -0.3, 0.15).id
    _pooled(tid, dv=-0.5, n=5)  # long ago it lowered moods ...
    _pooled(tid, dv=+0.25, n=8)  # ... lately it lifts them
    _pooled(twin, dv=+0.25, n=8)  # only ever lifted them
    # The old responses fell out of the window: the track reads exactly like its twin.
    lately, always = _effect(tid, None), _effect(twin, None)
    assert always.mean > 0 and lately.mean == pytest.approx(always.mean, rel=1e-12)
