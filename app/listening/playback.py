"""From what the now-playing bar's audio did to listening events (pure Python, no Streamlit).

The bar (`app.ui.now_playing`) numbers each report — started, paused, resumed, completed,
skipped (each with the position in seconds) and advanced (to the next track, without waiting
for a rerun) — and hands Python its last reports as one component *state* value:
``{"page": "<id of this page load>", "events": [{"seq": 1, "kind": "started", "track_id": 7,
"position_s": 0.0}, …]}``. A state value persists across reruns, so every rerun sees the same
reports again: `PlayerLog.take` returns each one once, validated; `writes_for` turns reports
into listening-event rows and `record` stores them.

A report is believed only as far as the bar could have done it (anyone can send the bar's state
value from a script): about a track the page gave it (`ListenerSession.known_track_ids`), one
end (completed or skipped) per play, listening that advances no faster than wall time (one bar
plays one track at a time, so what all reports together claim was listened to can't exceed the
time since the log began: a completion claimed sooner was reached by seeking and counts as a
skip), and at most MAX_REPORTS_PER_MINUTE per listener session.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import ListeningEvent, Track
from app.listening.session import ListenerSession, Outcome

KINDS: tuple[str, ...] = ("started", "paused", "resumed", "completed", "skipped", "advanced", "failed", "previous")
# The reports that become a listening event, and its action (resumed and advanced are not
# listening: the first continues a play already counted, the second is followed by "started";
# failed is the file not loading, no verdict of the listener's; previous leaves a track as played).
ACTION_OF: dict[str, str] = {
    "started": "started",
    "paused": "paused",
    "completed": "completed",
    "skipped": "skipped",
    "previous": "played",
}
MAX_POSITION_S = 24 * 3600.0  # no track is longer; a bigger number is a broken report
_PAGES_KEPT = 8  # page loads whose last report number is remembered
# A listener pressing Next every second makes three reports a second (skipped, advanced, started);
# more is a script. (Reports over it are dropped for good, and the page loses the bar's place.)
MAX_REPORTS_PER_MINUTE = 240
# Listening claimed may run ahead of wall time by this factor and slack (buffering, the page's
# and the bar's clocks, a rerun's delay).
WALL_TIME_FACTOR = 1.25
WALL_TIME_SLACK_S = 5.0
_ENDS = ("completed", "skipped")


@dataclass(frozen=True)
class PlayerEvent:
    """One report from the bar. ``from_track_id`` is set on "advanced": the track it left."""

    kind: str
    track_id: int
    seq: int
    page: str
    position_s: float | None = None
    from_track_id: int | None = None


@dataclass(frozen=True)
class ListeningWrite:
    """One listening-event row to store (`repository.record_listening`'s arguments)."""

    track_id: int
    action: str
    position_s: float | None
    completed: bool


def _track_id(value: object) -> int | None:
    # bool is an int in Python; a JSON true is no track id.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _position(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return round(value, 3) if math.isfinite(value) and 0 <= value <= MAX_POSITION_S else None


class PlayerLog:
    """Remembers which reports were already taken, per page load of the bar (a reload starts
    its numbering again), and which track the bar last said it is on. Keep one per listener
    session, e.g. in ``st.session_state``.

    Two script runs of one browser session can overlap (Streamlit starts the next run while it
    stops the old one), and Streamlit stops a run at any ``st.session_state`` access, callbacks
    included. So `take` holds a lock, and reports count as taken only once `store` has
    returned: a run stopped before that leaves them to the next. `store` must not touch
    ``st.session_state``; and the page should follow `track_id` on every run rather than from
    a session-state write that a stopped run may never make."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._last_seq: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.track_id: int | None = None  # the track of the last report taken
        self.clock = clock
        self._began = clock()
        self._listened_s = 0.0  # what accepted reports claim was played, all tracks together
        self._position: dict[int, float] = {}  # each track's last believed position
        self._ended: set[int] = set()  # tracks whose play ended (completed/skipped) until started again
        self._recent: deque[float] = deque()  # when the reports of the last minute were accepted

    def __getstate__(self) -> dict:
        return {"last_seq": dict(self._last_seq), "track_id": self.track_id}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self._last_seq.update(state["last_seq"])
        self.track_id = state["track_id"]

    def _believed(self, event: PlayerEvent, now: float) -> PlayerEvent | None:
        """`event` as far as the bar could have sent it now, or None; notes it (see the module
        docstring). A position ahead of wall time is a seek (a listener may jump to a track's
        end), never a listen: it is believed, but a completion reached that way is a skip."""
        while self._recent and now - self._recent[0] >= 60.0:
            self._recent.popleft()
        if len(self._recent) >= MAX_REPORTS_PER_MINUTE:
            return None
        track = event.track_id
        if event.kind in _ENDS and track in self._ended:
            return None  # one end per play
        advance = 0.0
        if event.position_s is not None:
            if event.kind == "started" or track not in self._position:
                base = 0.0 if event.kind == "started" and track in self._position else event.position_s
                if event.kind in _ENDS:
                    base = 0.0  # an end with no start: all of it counts as played
            else:
                base = self._position[track]
            advance = max(0.0, event.position_s - base)
            budget = (now - self._began) * WALL_TIME_FACTOR + WALL_TIME_SLACK_S
            if self._listened_s + advance > budget:
                advance = max(0.0, budget - self._listened_s)
                if event.kind == "completed":
                    event = replace(event, kind="skipped")
        self._recent.append(now)
        self._listened_s += advance
        if event.position_s is not None:
            self._position[track] = event.position_s
        if event.kind == "started":
            self._ended.discard(track)
        elif event.kind in _ENDS:
            self._ended.add(track)
        return event

    def take(
        self,
        raw: object,
        known_ids: Container[int] | None = None,
        store: Callable[[list[PlayerEvent]], object] | None = None,
    ) -> list[PlayerEvent]:
        """The reports in `raw` (the bar's state value) not taken before, in order, handed to
        `store` (e.g. a function that records `writes_for` them) before they count as taken.
        Anything malformed, of an unknown kind or (when `known_ids` is given) about a track the
        page never gave the bar is dropped, and not looked at again."""
        if not isinstance(raw, Mapping):
            return []
        page, items = raw.get("page"), raw.get("events")
        if not isinstance(page, str) or not page or len(page) > 64 or not isinstance(items, list):
            return []
        with self._lock:
            last = self._last_seq.get(page, 0)
            fresh: dict[int, PlayerEvent | None] = {}
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                seq = _track_id(item.get("seq"))  # a positive int, like a track id
                if seq is None or seq <= last or seq in fresh:
                    continue
                fresh[seq] = self._parse(item, seq, page, known_ids)
            if not fresh:
                return []
            now = self.clock()
            before = (self._listened_s, dict(self._position), set(self._ended), deque(self._recent))
            believed = (self._believed(e, now) for _, e in sorted(fresh.items()) if e is not None)
            events = [e for e in believed if e is not None]
            if events and store is not None:
                try:
                    store(events)
                except BaseException:  # not taken: the next run judges them again, from the same state
                    self._listened_s, self._position, self._ended, self._recent = before
                    raise
            self._last_seq[page] = max(fresh)
            self._last_seq.move_to_end(page)
            while len(self._last_seq) > _PAGES_KEPT:
                self._last_seq.popitem(last=False)
            if events:
                # "advanced" names the track moved to; every other report the track it is on.
                self.track_id = events[-1].track_id
            return events

    @staticmethod
    def _parse(item: Mapping, seq: int, page: str, known_ids: Container[int] | None) -> PlayerEvent | None:
        kind, track_id = item.get("kind"), _track_id(item.get("track_id"))
        if kind not in KINDS or track_id is None or (known_ids is not None and track_id not in known_ids):
            return None
        return PlayerEvent(
            kind=str(kind),
            track_id=track_id,
            seq=seq,
            page=page,
            position_s=_position(item.get("position_s")),
            from_track_id=_track_id(item.get("from_track_id")),
        )


def writes_for(events: Iterable[PlayerEvent]) -> list[ListeningWrite]:
    """The listening events the reports stand for, in order."""
    return [
        ListeningWrite(e.track_id, ACTION_OF[e.kind], e.position_s, e.kind == "completed")
        for e in events
        if e.kind in ACTION_OF
    ]


def record(
    session: Session,
    session_id: str,
    writes: Iterable[ListeningWrite],
    *,
    strategy: str | None = None,
    emotion: str | None = None,
    valence: float | None = None,
    arousal: float | None = None,
) -> list[ListeningEvent]:
    """Store the writes in the caller's transaction. A track deleted from the catalog since the
    bar got it is passed over rather than failing the other writes on its foreign key."""
    writes = list(writes)
    if not writes:
        return []
    ids = {w.track_id for w in writes}
    present = set(session.scalars(select(Track.id).where(Track.id.in_(ids))))
    return [
        repository.record_listening(
            session,
            session_id,
            w.track_id,
            w.action,
            strategy=strategy,
            emotion=emotion,
            valence=valence,
            arousal=arousal,
            position_s=w.position_s,
            completed=w.completed,
        )
        for w in writes
        if w.track_id in present
    ]


def follow_player(session: ListenerSession, events: Sequence[PlayerEvent]) -> bool:
    """Apply the bar's reports to the session: positions, the track it moved on to by itself
    (after an end, its Next, or a file that failed to load), its Previous, and a track it
    finished, skipped or failed with nothing queued after it. Pure Python (no Streamlit): it
    runs inside `PlayerLog.take`. True when now-playing changed."""
    changed = False
    left: dict[int, tuple[Outcome, float | None]] = {}  # what the bar left each track at
    for event in events:
        if event.kind == "failed":
            left[event.track_id] = ("failed", event.position_s)
        elif event.kind == "previous":
            if session.now_playing is not None and session.now_playing.track_id == event.track_id:
                changed = session.previous(event.position_s) is not None or changed
        elif event.kind in ("completed", "skipped"):
            left[event.track_id] = ("completed" if event.kind == "completed" else "skipped", event.position_s)
            if event.position_s is not None:
                session.set_position(event.track_id, event.position_s)
        elif event.kind == "advanced":
            outcome, position = left.pop(event.from_track_id or 0, ("skipped", None))
            before = session.now_playing
            if session.advance_to(event.track_id, outcome=outcome, position_s=position) is not before:
                changed = True
        elif event.position_s is not None:  # started, paused, resumed
            session.set_position(event.track_id, event.position_s)
    current = session.now_playing
    if current is not None and current.track_id in left:
        # The bar ended or skipped it with nothing queued after it: move on here (the bar then
        # gets the new head, or nothing).
        outcome, position = left[current.track_id]
        session.play_next(outcome=outcome, position_s=position)
        changed = True
    return changed
