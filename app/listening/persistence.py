"""A listener session that survives a reload or a second tab: one compact JSON snapshot per
anonymous session id, in the ``listener_sessions`` table.

The snapshot holds ids, numbers and the reasons' text only: strategy, mood source, the camera's
and the listener's last readings and the lock, the track playing and its position, up next (id,
score, reason), history (id, outcome, position, time), liked ids, and the queue's basis and
wording counter. Tracks are re-read from the catalog on load, so a track deleted since simply
drops out. Nothing names the person (the id is random, see ``new_session_id``) and no image or
frame is ever in it.

``save``/``load`` open their own short transaction, like ``service``; ``delete`` and
``purge_older_than`` run in the caller's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.models import OUTCOMES, ListenerSessionState, utcnow
from app.catalog.summary import TrackSummary
from app.emotions import STRATEGIES
from app.listening.mood import MOOD_SOURCES, MoodReading
from app.listening.session import HISTORY_LIMIT, HistoryEntry, ListenerSession
from app.recommend import Recommendation

SNAPSHOT_VERSION = 1
SESSION_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# MySQL's TEXT holds 64 KiB; the JSON is ASCII (non-ASCII escaped), so characters are bytes.
MAX_STATE_CHARS = 60_000
MAX_POSITION_S = 24 * 3600.0
MAX_REASON_CHARS = 500
# What a forgotten session's row holds instead of its snapshot (no mood, no history): the id stays
# taken, so another tab still holding the session can never write under it again.
FORGOTTEN_STATE = '{"forgotten": true}'


class SessionForgotten(RuntimeError):
    """The session was forgotten (in this tab or another): nothing is written under its id."""


class InvalidSessionId(ValueError):
    """Not an id this app hands out (32 lowercase hex characters)."""


def is_valid_session_id(value: object) -> bool:
    """True for a 32-lowercase-hex string: check an id from a URL or cookie with this first."""
    return isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) is not None


def _check_id(session_id: object) -> str:
    if not is_valid_session_id(session_id):
        raise InvalidSessionId("a listener session id is 32 lowercase hex characters")
    return str(session_id)


# ----------------------------------------------------------------------------- snapshot


def _item(item: Recommendation) -> dict[str, Any]:
    return {"id": item.track_id, "score": item.score, "reason": item.reason}


def snapshot(session: ListenerSession) -> dict[str, Any]:
    """The session as plain JSON-able data (its id is the row's key, not part of it)."""
    return {
        "v": SNAPSHOT_VERSION,
        "strategy": session.strategy,
        "mood_source": session.mood_source,
        "camera_mood": session.camera_mood.as_dict() if session.camera_mood else None,
        "manual_mood": session.manual_mood.as_dict() if session.manual_mood else None,
        "locked_mood": session.locked_mood.as_dict() if session.locked_mood else None,
        "now_playing": _item(session.now_playing) if session.now_playing else None,
        "position_s": session.position_s,
        "queue": [_item(item) for item in session.queue],
        "queue_basis": list(session.queue_basis) if session.queue_basis is not None else None,
        "reason_seq": session.reason_seq,
        "history": [
            {"id": e.track_id, "outcome": e.outcome, "position_s": e.position_s, "at": e.at.isoformat()}
            for e in session.history
        ],
        "liked": sorted(session.liked),
    }


def state_json(session: ListenerSession) -> str:
    """The snapshot as the stored text: canonical (same session, same text), ASCII, and within
    MAX_STATE_CHARS (the oldest history goes first if it ever came to that)."""
    state = snapshot(session)
    while True:
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        if len(text) <= MAX_STATE_CHARS or not state["history"]:
            return text
        state["history"] = state["history"][len(state["history"]) // 10 + 1 :]


def _track_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _number(value: object, low: float = -math.inf, high: float = math.inf) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and low <= value <= high else None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def track_ids_of(state: Mapping[str, Any]) -> list[int]:
    """Every track id a snapshot names (to re-read them from the catalog in one query)."""
    items = [state.get("now_playing"), *_list(state.get("queue")), *_list(state.get("history"))]
    ids = [_track_id(item.get("id")) for item in items if isinstance(item, Mapping)]
    ids += [_track_id(i) for i in _list(state.get("liked"))]
    return list(dict.fromkeys(i for i in ids if i is not None))


def _recommendation(data: object, tracks: Mapping[int, TrackSummary]) -> Recommendation | None:
    if not isinstance(data, Mapping):
        return None
    track = tracks.get(_track_id(data.get("id")) or 0)
    reason, score = data.get("reason"), _number(data.get("score"))
    if track is None or not isinstance(reason, str) or score is None:
        return None
    return Recommendation(track=track, score=score, reason=reason[:MAX_REASON_CHARS])


def _history_entry(data: object, tracks: Mapping[int, TrackSummary]) -> HistoryEntry | None:
    if not isinstance(data, Mapping):
        return None
    track = tracks.get(_track_id(data.get("id")) or 0)
    outcome, raw_at, raw_position = data.get("outcome"), data.get("at"), data.get("position_s")
    position = _number(raw_position, 0.0, MAX_POSITION_S)
    if track is None or outcome not in OUTCOMES or not isinstance(raw_at, str):
        return None
    if raw_position is not None and position is None:
        return None
    try:
        at = datetime.fromisoformat(raw_at)
    except ValueError:
        return None
    return HistoryEntry(track=track, outcome=outcome, position_s=position, at=at)


def _basis(value: object) -> tuple | None:
    if not isinstance(value, list) or not value or len(value) > 4:
        return None
    if not all(isinstance(v, str) or _number(v) is not None for v in value):
        return None
    return tuple(value)


def restore(session_id: str, state: Mapping[str, Any], tracks: Mapping[int, TrackSummary]) -> ListenerSession:
    """The session a snapshot describes, with the catalog's current `tracks` (id → summary).
    Whatever is malformed, or names a track no longer in `tracks`, is left out."""
    session = ListenerSession(session_id=_check_id(session_id))
    if state.get("strategy") in STRATEGIES:
        session.strategy = state["strategy"]
    if state.get("mood_source") in MOOD_SOURCES:
        session.mood_source = state["mood_source"]
    camera = MoodReading.from_dict(state.get("camera_mood"))
    manual = MoodReading.from_dict(state.get("manual_mood"))
    session.camera_mood = camera if camera is not None and camera.source == "camera" else None
    session.manual_mood = manual if manual is not None and manual.source != "camera" else None
    session.locked_mood = MoodReading.from_dict(state.get("locked_mood"))
    session.now_playing = _recommendation(state.get("now_playing"), tracks)
    if session.now_playing is not None:
        session.position_s = _number(state.get("position_s"), 0.0, MAX_POSITION_S) or 0.0
    queue = [_recommendation(item, tracks) for item in _list(state.get("queue"))]
    playing = {session.now_playing.track_id} if session.now_playing else set()
    session.queue = list({r.track_id: r for r in queue if r is not None and r.track_id not in playing}.values())
    session.queue_basis = _basis(state.get("queue_basis"))
    session.reason_seq = int(_number(state.get("reason_seq"), 0.0) or 0)
    history = [_history_entry(item, tracks) for item in _list(state.get("history"))]
    session.history = [e for e in history if e is not None][-HISTORY_LIMIT:]
    session.liked = {i for i in (_track_id(v) for v in _list(state.get("liked"))) if i in tracks}
    return session


# ----------------------------------------------------------------------------- the table


def _upsert(db: Session, session_id: str, text: str) -> None:
    row = db.get(ListenerSessionState, session_id, with_for_update=True)
    if row is not None and row.state == FORGOTTEN_STATE:
        raise SessionForgotten(f"session {session_id[:8]}… was forgotten")
    if row is None:
        db.add(ListenerSessionState(session_id=session_id, state=text))
    else:
        row.state = text
        row.updated_at = utcnow()  # also when the state is unchanged: the session is alive
    db.flush()


def save(session: ListenerSession) -> str:
    """Store the session's snapshot (insert or replace). Returns the stored text, so a caller can
    skip the next save while `state_json(session)` still equals it."""
    session_id, text = _check_id(session.session_id), state_json(session)
    try:
        with session_scope() as db:
            _upsert(db, session_id, text)
    except IntegrityError:  # a second tab inserted the same new session a moment earlier
        with session_scope() as db:
            _upsert(db, session_id, text)
    return text


def load(session_id: str) -> ListenerSession | None:
    """The stored session, with its tracks as the catalog has them now; None when nothing
    (readable) is stored under that id. Raises InvalidSessionId for anything but 32 hex."""
    session_id = _check_id(session_id)
    with session_scope() as db:
        row = db.get(ListenerSessionState, session_id)
        if row is None:
            return None
        try:
            state = json.loads(row.state)
        except ValueError:
            return None
        if not isinstance(state, dict) or state.get("v") != SNAPSHOT_VERSION:
            return None
        tracks = {t.track_id: t for t in repository.track_summaries(db, track_ids_of(state))}
    return restore(session_id, state, tracks)


def forget(db: Session, session_id: str) -> None:
    """Replace the session's snapshot by FORGOTTEN_STATE in the caller's transaction. Call it
    before deleting the session's events: it locks the row that every write under the id checks
    (`is_forgotten`), so a write from another tab either lands before (and is deleted) or sees it."""
    row = db.get(ListenerSessionState, session_id, with_for_update=True)
    if row is None:
        db.add(ListenerSessionState(session_id=session_id, state=FORGOTTEN_STATE))
    else:
        row.state = FORGOTTEN_STATE
    db.flush()


def is_forgotten(db: Session, session_id: str) -> bool:
    """Whether the session was forgotten; locks its row (if any) until the caller's transaction
    ends, so a Forget in another tab can't slip between this check and the write after it."""
    state = db.scalar(
        select(ListenerSessionState.state).where(ListenerSessionState.session_id == session_id).with_for_update()
    )
    return state == FORGOTTEN_STATE


def purge_older_than(db: Session, cutoff: datetime) -> int:
    """Delete snapshots not saved since `cutoff` (naive UTC); returns how many. A forgotten
    session's marker stays: its id must never be written again."""
    result = db.execute(
        sql_delete(ListenerSessionState).where(
            ListenerSessionState.updated_at < cutoff, ListenerSessionState.state != FORGOTTEN_STATE
        )
    )
    return int(result.rowcount or 0)
