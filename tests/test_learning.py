"""Per-session learning: this listener's likes, skips (and when), completions and replays change
their next recommendations at once, through the same service the page and `session` use."""

from __future__ import annotations

from catalog_helpers import add

from app.catalog.db import session_scope
from app.catalog.summary import TrackSummary
from app.listening import preferences, service
from app.listening.mood import reading_from_point
from app.listening.preferences import Event, SessionPreference, features, skip_weight, track_evidence
from app.listening.script import ScriptedSession
from app.listening.session import ListenerSession

NEUTRAL = {"valence": 0.0, "arousal": 0.0}


def _calm_and_tense() -> tuple[list[int], list[int]]:
    """Calm (Q4) and tense (Q2) tracks mirrored about the neutral point, equally close to it.
    Tense ones go in first: with nothing learnt, ties go to the lower id, so tense would lead."""
    with session_scope() as s:
        tense = [add(s, f"Tense {i}", -0.45 - 0.02 * i, 0.45 + 0.02 * i, artist=f"T{i}").id for i in range(4)]
        calm = [add(s, f"Calm {i}", 0.45 + 0.02 * i, -0.45 - 0.02 * i, artist=f"C{i}").id for i in range(4)]
    return calm, tense


def test_without_evidence_the_mirrored_catalog_ties_and_tense_leads_by_id(db_url):
    calm, tense = _calm_and_tense()
    picks = service.recommend(reading_from_point(0, 0), "match", set(), 4, session_id="fresh-session")
    assert picks[0].track_id in tense  # what the learning tests below must overturn


def test_after_liking_calm_and_skipping_tense_early_a_neutral_mood_gets_calm_first_through_the_service(db_url):
    calm, tense = _calm_and_tense()
    listener = ListenerSession()
    mood = reading_from_point(0, 0)
    for tid in calm[:2]:
        service.log_listening(listener.session_id, tid, "completed", "match", mood, position_s=30.0)
        service.log_listening(listener.session_id, tid, "liked", "match", mood)
    for tid in tense[:2]:
        service.log_listening(listener.session_id, tid, "skipped", "match", mood, position_s=3.0)
    picks = service.recommender_for(listener)(mood, "match", set(), 2)
    assert [p.track_id for p in picks] == calm[2:]
    assert "like what you liked this session" in picks[0].reason


def test_the_scripted_session_learns_the_same_way(db_url):
    calm, tense = _calm_and_tense()
    listener = ScriptedSession()
    for tid in calm[:2]:
        listener.handle({"cmd": "feedback", "track_id": tid, "action": "completed"})
        assert listener.handle({"cmd": "feedback", "track_id": tid, "action": "liked"}) == {"ok": True}
    for tid in tense[:2]:
        listener.handle({"cmd": "feedback", "track_id": tid, "action": "skipped", "position_s": 2})
    reply = listener.handle({"cmd": "recommend", "mood": NEUTRAL, "n": 2})
    assert [t["track_id"] for t in reply["tracks"]] == calm[2:]


def test_an_early_skip_counts_more_against_a_track_than_a_late_one(db_url):
    assert skip_weight(2) < skip_weight(60) < skip_weight(170) < 0
    assert skip_weight(None) < 0  # taken out of up next unheard
    calm, tense = _calm_and_tense()
    # Session A likes a calm track and skips a tense one at 2 s; B the same, but at 170 s.
    for sid, at in (("early", 2.0), ("late", 170.0)):
        mood = reading_from_point(0, 0)
        service.log_listening(sid, calm[0], "liked", "match", mood)
        service.log_listening(sid, tense[0], "skipped", "match", mood, position_s=at)
    with session_scope() as s:
        early, late = preferences.load(s, "early"), preferences.load(s, "late")
        [other_tense] = _summaries(s, [tense[1]])
    assert early.score(other_tense) < late.score(other_tense) < 0.1


def test_completions_and_replays_count_for_a_track():
    once = track_evidence([Event(1, "played")])
    twice = track_evidence([Event(1, "played"), Event(1, "played")])
    completed = track_evidence([Event(1, "completed", 180.0)])
    assert twice[1] > once[1] > 0 and completed[1] > 0


def test_similar_sound_counts_beside_the_point_in_the_plane():
    """Two tracks at the same point: the one that sounds like the liked track (the music
    model's quadrant probabilities) is preferred."""

    def track(tid: int, v: float, a: float, probs: dict[str, float]) -> TrackSummary:
        full = {"Q1": 0.0, "Q2": 0.0, "Q3": 0.0, "Q4": 0.0, **probs}
        return TrackSummary(tid, f"t{tid}", "a", None, "Q4", v, a, 30.0, "x.wav", "wav", "model:test", full)

    liked = track(1, 0.3, -0.1, {"Q4": 0.9, "Q1": 0.1})
    sounds_alike = track(2, 0.3, -0.3, {"Q4": 0.9, "Q1": 0.1})
    sounds_other = track(3, 0.3, -0.3, {"Q1": 0.5, "Q3": 0.5})
    pref = SessionPreference.of([Event(1, "liked")], {1: features(liked)})
    assert pref.score(sounds_alike) > pref.score(sounds_other) > 0


def test_the_pooled_prior_fades_as_the_session_tells_more(db_url):
    """Other listeners skipped a calm track; this session skipped tense music early and liked
    calm music: its own evidence wins over the crowd's."""
    from app.catalog import repository

    calm, tense = _calm_and_tense()
    with session_scope() as s:
        for i in range(10):
            repository.record_listening(s, f"crowd{i}", calm[0], "skipped")
    fresh = service.recommend(reading_from_point(0, 0), "match", set(), 4, session_id="new")
    assert calm[0] not in [p.track_id for p in fresh[:3]]  # the crowd's dislike sinks it in a fresh session
    mood = reading_from_point(0, 0)
    service.log_listening("told", calm[1], "completed", "match", mood, position_s=30.0)
    service.log_listening("told", calm[1], "liked", "match", mood)
    service.log_listening("told", tense[0], "skipped", "match", mood, position_s=1.0)
    told = service.recommend(mood, "match", set(), 3, session_id="told")
    # Back among the first two (its calm neighbour, that the crowd never skipped, may lead),
    # and only calm music ahead of the tense the session refused.
    assert calm[0] in [p.track_id for p in told[:2]]
    assert all(p.track_id in calm for p in told)


def _summaries(s, ids):
    from app.catalog import repository

    return repository.track_summaries(s, ids)


def test_a_sessions_history_follows_every_change_to_its_events(db_url):
    """The history a recommendation reads is kept between calls; whatever happens to the
    session's events in between (another tab's like, a forgotten session, an event written with
    an older time) the next read says what the database says."""
    from datetime import timedelta

    from app.catalog import repository
    from app.catalog.models import ListeningEvent, utcnow

    calm, tense = _calm_and_tense()
    mood = reading_from_point(0, 0)

    def history():
        with session_scope() as s:
            return preferences.load_history(s, "tabbed")

    assert history().events == () and history().preference is preferences.EMPTY
    service.log_listening("tabbed", calm[0], "completed", "match", mood, position_s=30.0)
    first = history()
    assert first.heard == (calm[0],) and history() is first  # unchanged: the same read

    service.log_listening("tabbed", calm[1], "liked", "match", mood)  # e.g. from another tab
    service.log_listening("tabbed", tense[0], "skipped", "match", mood, position_s=2.0)
    grown = history()
    assert [e.action for e in grown.events] == ["skipped", "liked", "completed"]
    assert grown.heard == (tense[0], calm[0])  # a like alone is not a hearing
    assert grown.preference.weights[calm[1]] == preferences.LIKE
    assert grown.preference.weights[tense[0]] < 0
    assert set(grown.features) == {calm[0], calm[1], tense[0]}

    with session_scope() as s:  # written late with the time it happened: it sorts behind the rest
        s.add(
            ListeningEvent(
                session_id="tabbed", track_id=tense[1], action="played", created_at=utcnow() - timedelta(days=1)
            )
        )
    backdated = history()
    assert [e.track_id for e in backdated.events] == [tense[0], calm[1], calm[0], tense[1]]

    with session_scope() as s:
        repository.forget_session(s, "tabbed")
    assert history().events == () and history().heard == ()
    service.log_listening("tabbed", tense[2], "completed", "match", mood, position_s=30.0)
    assert history().heard == (tense[2],)  # nothing of the forgotten events comes back


def test_a_long_session_keeps_only_its_newest_history(db_url, monkeypatch):
    """Bounded however long the session: the newest HISTORY_LIMIT events, also when they arrive
    a few at a time."""
    calm, tense = _calm_and_tense()
    monkeypatch.setattr(preferences, "HISTORY_LIMIT", 3)
    mood = reading_from_point(0, 0)
    seen = []
    for tid in calm + tense:
        service.log_listening("long", tid, "completed", "match", mood, position_s=30.0)
        with session_scope() as s:
            seen.append(preferences.load_history(s, "long").heard)
    assert seen[-1] == tuple(reversed((calm + tense)[-3:]))
    assert all(len(h) <= 3 for h in seen)
