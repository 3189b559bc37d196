"""Forget wins over every other tab that still holds the session: after one tab forgets, nothing
is ever written under the forgotten id again, whatever the other tab does. (The attack: tab B
forgets, tab A then skips twice; the database held a snapshot under the forgotten id with the
forgotten history and new events.) Runs on SQLite and MariaDB."""

from __future__ import annotations

from catalog_helpers import add
from sqlalchemy import func, select

from app.catalog.db import session_scope
from app.catalog.models import ListenerSessionState, ListeningEvent, MoodEvent
from app.listening import persistence, playback, service
from app.listening.mood import reading_from_label


def _rows_under(session_id: str) -> tuple[int, int, str | None]:
    with session_scope() as s:
        listening = s.scalar(select(func.count()).where(ListeningEvent.session_id == session_id))
        mood = s.scalar(select(func.count()).where(MoodEvent.session_id == session_id))
        row = s.get(ListenerSessionState, session_id)
        return listening, mood, row.state if row else None


def test_a_tab_still_holding_a_forgotten_session_writes_nothing_under_its_id(db_url):
    with session_scope(db_url) as s:
        for i in range(10):
            add(s, f"Rain {i}", -0.6 + i * 0.02, -0.4, artist=f"Artist {i}")
    sad = reading_from_label("sad")
    tab_a = service.resume_session(None)
    tab_a.apply_manual_reading(sad)
    tab_a.refill(service.recommender_for(tab_a))
    tab_a.play_next()
    service.log_mood(tab_a.session_id, sad)
    saved = service.save_session(tab_a)
    forgotten = tab_a.session_id
    tab_b = service.resume_session(forgotten)  # the same session in a second tab
    assert tab_b.session_id == forgotten and tab_b.now_playing is not None

    service.forget_session(forgotten)  # tab B: "Forget this session"
    tab_b.forget()

    # Tab A goes on as if nothing happened: skips twice, a mood, a response, a save.
    for _ in range(2):
        track = tab_a.now_playing.track_id
        service.log_listening(forgotten, track, "skipped", tab_a.strategy, sad)
        service.log_player_writes(
            forgotten, [playback.ListeningWrite(track, "skipped", 3.0, False)], tab_a.strategy, sad
        )
        tab_a.play_next()
    assert not service.log_mood(forgotten, sad)
    service.save_session(tab_a, saved)

    assert _rows_under(forgotten) == (0, 0, persistence.FORGOTTEN_STATE)
    assert tab_a.session_id != forgotten and tab_a.history == []  # tab A moved on, without the history
    assert persistence.load(forgotten) is None
    with session_scope() as s:
        assert persistence.purge_older_than(s, persistence.utcnow()) <= 1  # the marker outlives purges
    assert _rows_under(forgotten)[2] == persistence.FORGOTTEN_STATE
