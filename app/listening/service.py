"""What the Mood page asks of the catalog: recommendations for the listener's mood, listening
and mood events, "forget this session" and the stored audio of a queued track.

The listener side only *reads* the catalog; it writes nothing but its own mood and listening
events (anonymous session id, no frames). Each call opens its own short transaction, so the
page never holds a database session across reruns.
"""

from __future__ import annotations

from pathlib import Path

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import MediaPathError, MediaStore
from app.listening.mood import MoodReading
from app.recommend import Recommendation
from app.recommend import recommend as rank


def recommend(mood: MoodReading, strategy: str, exclude: set[int], n: int) -> list[Recommendation]:
    """Ranked tracks for the listener's mood and strategy (app.recommend does the ranking);
    fits ``ListenerSession.refill``."""
    # The face distribution when there is one (the recommender derives label and point from
    # it), else the label, else the bare point picked on the mood pad.
    mood_input = mood.probabilities or mood.label or mood.point
    with session_scope() as s:
        return rank(s, mood_input, strategy=strategy, n=n, exclude_track_ids=exclude)


def media_file(item: Recommendation, store: MediaStore | None = None) -> Path | None:
    """The stored audio file of a queued track, or None when it is gone. Never leaves the media
    store (MediaStore.resolve refuses paths outside it)."""
    store = store or MediaStore()
    try:
        path = store.resolve(item.track.media_path)
    except MediaPathError:
        return None
    return path if path.is_file() else None


def log_listening(session_id: str, track_id: int, action: str, strategy: str | None, mood: MoodReading | None) -> None:
    with session_scope() as s:
        repository.record_listening(
            s,
            session_id,
            track_id,
            action,
            strategy=strategy,
            emotion=mood.label if mood else None,
            valence=mood.point.valence if mood else None,
            arousal=mood.point.arousal if mood else None,
        )


def log_mood(session_id: str, mood: MoodReading) -> bool:
    """Store one mood reading: numbers only (distribution, label, point), never a frame.
    A bare point picked on the pad has no emotion distribution and is not stored."""
    distribution = mood.probabilities or ({mood.label: 1.0} if mood.label else None)
    if not distribution:
        return False
    with session_scope() as s:
        repository.record_mood(s, session_id, distribution)
    return True


def forget_session(session_id: str) -> int:
    """Delete every mood and listening event of this anonymous session; returns how many."""
    with session_scope() as s:
        listening, mood = repository.forget_session(s, session_id)
    return listening + mood
