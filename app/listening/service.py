"""What the Mood page asks of the catalog: recommendations for the listener's mood, listening
and mood events, the session's snapshot (resume after a reload), "forget this session", whether
the catalog has any music, and the stored audio of a queued track.

The listener side only *reads* the catalog; it writes nothing but its own mood and listening
events and its session snapshot (anonymous session id, no frames). Each call opens its own short
transaction, so the page never holds a database session across reruns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import MediaPathError, MediaStore, open_media_store
from app.emotions import MoodPoint
from app.listening import persistence, playback
from app.listening import response as mood_response
from app.listening.mood import MoodReading
from app.listening.response import Response
from app.listening.session import ListenerSession, RecommendFn
from app.listening.steering import QueuePlace, steering_path
from app.recommend import Recommendation
from app.recommend import recommend as rank


def recommend(
    mood: MoodReading,
    strategy: str,
    exclude: set[int],
    n: int,
    *,
    variant_start: int = 0,
    session_id: str | None = None,
    path_start: int | None = None,
    heard: Sequence[int] = (),
) -> list[Recommendation]:
    """Ranked tracks for the listener's mood and strategy (app.recommend does the ranking),
    with reasons that say where the mood came from; fits ``ListenerSession.refill``.
    With ``path_start``, the picks follow the steering path from the mood
    (``app.listening.steering``), the i-th against its point ``path_start + i`` (without, they
    aim at the strategy's goal at once); with ``session_id`` the ranking learns from that
    session's listening events (``app.listening.preferences``) and its taste may move where
    the tracks are looked for (``app.listening.taste``). ``exclude`` is never offered;
    ``heard`` (most recent first) is offered again, least recently heard first, only when
    nothing new is left, so the music never stops while the catalog has tracks."""
    # The face distribution when there is one (the recommender derives label and point from
    # it), else the label, else the bare point picked on the mood pad.
    mood_input = mood.probabilities or mood.label or mood.point
    with session_scope() as s:
        return rank(
            s,
            mood_input,
            strategy=strategy,
            n=n,
            session_id=session_id,
            exclude_track_ids=exclude,
            heard_track_ids=heard,
            source=mood.source,
            variant_start=variant_start,
            path=steering_path(mood.point, strategy) if path_start is not None else None,
            path_start=path_start or 0,
        )


def recommender_for(session: ListenerSession) -> RecommendFn:
    """``recommend`` for this listener: learns from its events, and a top-up of up next takes
    the path's next points (a rebuild starts the path again). Pass it to ``session.refill``."""

    def bound(
        mood: MoodReading, strategy: str, exclude: set[int], n: int, *, variant_start: int = 0
    ) -> list[Recommendation]:
        # refill calls this before it replaces up next: a rebuild when the basis changed, else
        # the fresh tracks go after the ones kept.
        start = 0 if session.basis_changed() else len(session.queue)
        # What the session heard may come back when nothing new is left (a replay already up
        # next or playing again excepted); the rest never.
        staying = {item.track_id for item in session.queue}
        if session.now_playing is not None:
            staying.add(session.now_playing.track_id)
        heard = [t for t in dict.fromkeys(e.track_id for e in reversed(session.history)) if t not in staying]
        return recommend(
            mood,
            strategy,
            exclude - set(heard),
            n,
            variant_start=variant_start,
            session_id=session.session_id,
            path_start=start,
            heard=heard,
        )

    return bound


def steering(session: ListenerSession) -> tuple[list[MoodPoint], list[QueuePlace]]:
    """What the mood chart draws: the steering path from the applied mood (empty before there
    is one) and, for each track up next, the point it was ranked against and its own point."""
    mood = session.effective_mood()
    path = steering_path(mood.point, session.strategy) if mood is not None else []
    places = [
        QueuePlace(item.track_id, item.target, MoodPoint(item.valence, item.arousal))
        for item in session.queue
        if item.target is not None
    ]
    return path, places


def catalog_is_empty() -> bool:
    """True when the catalog has no track at all: the page then says so (and points curators to
    Curate) rather than "you've heard it all". Ask it when recommendations came back empty."""
    with session_scope() as s:
        return repository.count_tracks(s) == 0


def media_file(item: Recommendation, store: MediaStore | None = None) -> Path | None:
    """The stored audio file of a queued track, or None when it is gone. Never leaves the media
    store (a key outside it is refused). None for a bucket: see MediaStore.playback_url."""
    store = store or open_media_store()
    try:
        return store.local_path(item.track.media_path)
    except MediaPathError:
        return None


def _mood_columns(mood: MoodReading | None) -> dict[str, float | str | None]:
    """The applied mood as a listening event stores it."""
    return {
        "emotion": mood.label if mood else None,
        "valence": mood.point.valence if mood else None,
        "arousal": mood.point.arousal if mood else None,
    }


def log_listening(
    session_id: str,
    track_id: int,
    action: str,
    strategy: str | None,
    mood: MoodReading | None,
    *,
    position_s: float | None = None,
) -> None:
    """One listening event (an action of app.catalog.models.ACTIONS) with the applied mood;
    `position_s` where the player was, when known. The player's own reports go through
    ``app.listening.playback``."""
    with session_scope() as s:
        if persistence.is_forgotten(s, session_id):
            return
        repository.record_listening(
            s,
            session_id,
            track_id,
            action,
            strategy=strategy,
            position_s=position_s,
            **_mood_columns(mood),
        )


def log_player_writes(
    session_id: str, writes: Iterable[playback.ListeningWrite], strategy: str | None, mood: MoodReading | None
) -> int:
    """Store what the now-playing bar reported (``playback.writes_for`` of its events) in one
    transaction, with the applied mood; returns how many events were stored."""
    with session_scope() as s:
        if persistence.is_forgotten(s, session_id):
            return 0
        stored = playback.record(
            s,
            session_id,
            writes,
            strategy=strategy,
            **_mood_columns(mood),
        )
    return len(stored)


def store_responses(session_id: str, responses: Iterable[Response]) -> int:
    """Store measured mood responses (``app.listening.response``) in one transaction; returns
    how many rows were written."""
    responses = list(responses)
    if not responses:
        return 0
    with session_scope() as s:
        if persistence.is_forgotten(s, session_id):
            return 0
        return mood_response.store(s, session_id, responses)


def store_session_responses(session: ListenerSession) -> int:
    """Store the responses the session measured since the last call (tracks it moved on from
    while the camera read the listener). Call before refilling up next, so the next picks see
    them. When the write fails they stay pending for the next call, and the error is raised."""
    taken = session.take_responses()
    try:
        return store_responses(session.session_id, taken)
    except Exception:
        session.pending_responses = [*taken, *session.pending_responses]
        raise


def log_mood(session_id: str, mood: MoodReading) -> bool:
    """Store one mood reading: numbers only (distribution, label, point), never a frame.
    A bare point picked on the pad has no emotion distribution and is not stored."""
    distribution = mood.probabilities or ({mood.label: 1.0} if mood.label else None)
    if not distribution:
        return False
    with session_scope() as s:
        if persistence.is_forgotten(s, session_id):
            return False
        repository.record_mood(s, session_id, distribution)
    return True


def forget_session(session_id: str) -> int:
    """Delete every mood and listening event and mood response of this anonymous session, and
    its snapshot, in one transaction; returns how many events and responses (the snapshot is
    not counted). The id is marked forgotten first: no tab still holding the session writes
    under it again (every write here checks, and `save_session` moves such a tab on)."""
    with session_scope() as s:
        persistence.forget(s, session_id)
        listening, mood = repository.forget_session(s, session_id)
        responses = mood_response.forget(s, session_id)
    return listening + mood + responses


# ----------------------------------------------------------------------------- resume


def save_session(session: ListenerSession, last_saved: str | None = None) -> str:
    """Store the session's snapshot unless it equals `last_saved` (what the previous call
    returned); returns the snapshot text now stored."""
    if last_saved is not None and persistence.state_json(session) == last_saved:
        return last_saved
    try:
        return persistence.save(session)
    except persistence.SessionForgotten:  # another tab forgot it: this one starts over too
        session.forget()
        return persistence.save(session)


def resume_session(session_id: str | None) -> ListenerSession:
    """The session stored under `session_id` (from the URL or a cookie), as it was saved; a new
    anonymous session, with a new id, when the id is missing, malformed or unknown (a forgotten
    session's id is never revived)."""
    if persistence.is_valid_session_id(session_id):
        restored = persistence.load(session_id)
        if restored is not None:
            return restored
    return ListenerSession()
