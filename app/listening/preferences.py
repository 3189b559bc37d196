"""What this listener session likes, learnt at once from its own listening events.

Each event is evidence about one track: a like or a completion for it, a skip against it (the
earlier the skip, the stronger: a track left in its first seconds was refused, one left near its
end was mostly heard), a replay for it. The preference for any other track is a kernel-weighted
vote of that evidence ("more like what I liked, less like what I skipped"), shrunk toward zero
where there is little evidence near it, so it stays in [-1, 1].

Track features: (valence, arousal, prob_q1..prob_q4). The mood point says where a track sits in
the plane; the music model's four quadrant probabilities, stored at tagging time, are a compact
description of how it *sounds* (two tracks at the same point can sound different, and two
neighbours the model was unsure about differently), so similarity is more than distance in the
plane, at no cost of a new column.

The evidence comes from the session's listening events (``load``), which the Mood page and the
scripted ``session`` command both write through ``app.listening.service``: one path for both.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
from sqlalchemy import Engine, Integer, bindparam, func, select
from sqlalchemy.orm import Session

from app.catalog.models import HEARD, ListeningEvent, Track
from app.catalog.summary import TrackSummary
from app.emotions import QUADRANTS

# Events read per session (newest first): bounded, so the cost doesn't grow with a long session.
# The newest EVIDENCE_LIMIT make its preference; HISTORY_LIMIT say what it has already heard.
EVIDENCE_LIMIT = 150
HISTORY_LIMIT = 500

LIKE = 1.0
DISLIKE = -1.5  # "not for me": said outright, stronger than any skip (which may mean "not now")
COMPLETE = 0.5
PLAYED = 0.2  # heard and moved on, no position known (the scripted command, the old Next)
REPLAY = 0.5  # each hearing of a track after its first
UNPLAYED_SKIP = -0.4  # taken out of up next before it played: judged by its title and reason
# A skip at position p seconds: SKIP_LATE - (SKIP_EARLY - SKIP_LATE) * exp(-p / SKIP_DECAY_S).
SKIP_EARLY = -1.0
SKIP_LATE = -0.2
SKIP_DECAY_S = 30.0
TRACK_EVIDENCE_CAP = 2.0  # one track's summed evidence, either way

# Kernel widths: a track this far in the plane (or in sound) from an evidence track gets e^-0.5
# of its vote.
SIGMA_PLANE = 0.3
SIGMA_SOUND = 0.5
# Pseudo-evidence of "no opinion" at every track: a lone like far away barely moves a track.
SHRINK = 0.5


def features(track: TrackSummary) -> tuple[float, ...]:
    """(valence, arousal, prob_q1..prob_q4): where the track sits and how it sounds."""
    return (track.valence, track.arousal, *(track.probabilities.get(q, 0.0) for q in QUADRANTS))


# The catalog columns ``features`` is made of, in its order (for reads that skip the ORM).
FEATURE_COLUMNS = (Track.valence, Track.arousal, Track.prob_q1, Track.prob_q2, Track.prob_q3, Track.prob_q4)


def kernel_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> np.ndarray:
    """``similarity`` of every row of ``a`` to every row of ``b`` (len(a) × len(b)), at once."""
    f, g = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    # Summed one feature at a time: a reduction over a short last axis is many times slower.
    plane = _squared_distances(f[:, :2], g[:, :2])
    sound = _squared_distances(f[:, 2:], g[:, 2:])
    return np.exp(-plane / (2 * SIGMA_PLANE**2) - sound / (2 * SIGMA_SOUND**2))


def _squared_distances(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    total = np.zeros((len(f), len(g)))
    for j in range(f.shape[1]):
        total += (f[:, j, None] - g[None, :, j]) ** 2
    return total


def similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Gaussian kernel over the plane and the sound profile, 1 for identical features."""
    plane = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
    sound = sum((x - y) ** 2 for x, y in zip(a[2:], b[2:], strict=True))
    return math.exp(-plane / (2 * SIGMA_PLANE**2) - sound / (2 * SIGMA_SOUND**2))


def skip_weight(position_s: float | None) -> float:
    """How strongly a skip at ``position_s`` seconds speaks against the track (negative)."""
    if position_s is None:
        return UNPLAYED_SKIP
    return SKIP_LATE + (SKIP_EARLY - SKIP_LATE) * math.exp(-max(0.0, position_s) / SKIP_DECAY_S)


def event_weight(action: str, position_s: float | None = None) -> float:
    """The evidence one listening event gives about its track (0 for started/paused)."""
    if action == "liked":
        return LIKE
    if action == "disliked":
        return DISLIKE
    if action == "completed":
        return COMPLETE
    if action == "played":
        return PLAYED
    if action == "skipped":
        return skip_weight(position_s)
    return 0.0


@dataclass(frozen=True)
class Event:
    """One listening event as evidence: what happened to which track, at which second."""

    track_id: int
    action: str
    position_s: float | None = None


def track_evidence(events: Iterable[Event]) -> dict[int, float]:
    """Summed evidence per track (replays count for it), capped either way."""
    totals: dict[int, float] = {}
    hearings: dict[int, int] = {}
    for e in events:
        totals[e.track_id] = totals.get(e.track_id, 0.0) + event_weight(e.action, e.position_s)
        if e.action in ("started", "played") or (e.action == "completed" and e.position_s is None):
            hearings[e.track_id] = hearings.get(e.track_id, 0) + 1
    for tid, n in hearings.items():
        totals[tid] += REPLAY * max(0, n - 1)
    return {tid: max(-TRACK_EVIDENCE_CAP, min(TRACK_EVIDENCE_CAP, w)) for tid, w in totals.items() if w}


@dataclass(frozen=True)
class SessionPreference:
    """This session's evidence: (features, weight) per track it has an opinion on."""

    evidence: tuple[tuple[tuple[float, ...], float], ...] = ()
    points: Mapping[int, tuple[float, float]] = field(default_factory=dict)  # track id -> (v, a)
    weights: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[Event], features_by_id: Mapping[int, Sequence[float]]) -> SessionPreference:
        """From events and their tracks' ``features`` (tracks no longer in the catalog drop)."""
        weights = {tid: w for tid, w in track_evidence(events).items() if tid in features_by_id}
        return cls(
            evidence=tuple((tuple(features_by_id[tid]), w) for tid, w in weights.items()),
            points={tid: (features_by_id[tid][0], features_by_id[tid][1]) for tid in weights},
            weights=weights,
        )

    @property
    def strength(self) -> float:
        """How much the session has told: the sum of |evidence| (the pooled prior fades with it)."""
        return sum(abs(w) for _, w in self.evidence)

    def score(self, track: TrackSummary) -> float:
        """In [-1, 1]: > 0 for tracks like the liked ones, < 0 for tracks like the skipped ones."""
        return self.scores([track])[0]

    def scores(self, tracks: Sequence[TrackSummary]) -> list[float]:
        """``score`` of each track, in one array operation (candidates × evidence)."""
        if not self.evidence or not tracks:
            return [0.0] * len(tracks)
        k = kernel_matrix([features(t) for t in tracks], [e for e, _ in self.evidence])
        w = np.array([w for _, w in self.evidence], dtype=float)
        return ((k @ w) / (SHRINK + k @ np.abs(w))).tolist()

    def liked_centre(self) -> tuple[float, float] | None:
        """The evidence-weighted mean point of what this session liked (None before any): where
        the recommender also looks for candidates, beside the mood's target."""
        positive = [(self.points[tid], w) for tid, w in self.weights.items() if w > 0]
        total = sum(w for _, w in positive)
        if total <= 0:
            return None
        return (
            sum(p[0] * w for p, w in positive) / total,
            sum(p[1] * w for p, w in positive) / total,
        )


EMPTY = SessionPreference()


# Built once (every recommendation for a session runs them; parameters only change). The
# session's events come with their tracks' features in one read: an event's track is in the
# catalog (deleting a track deletes its events). Both use the (session_id, created_at) index.
_VERSION = select(func.count(), func.max(ListeningEvent.id), func.max(ListeningEvent.created_at)).where(
    ListeningEvent.session_id == bindparam("session_id")
)
_EVENTS_WITH_FEATURES = (
    select(
        ListeningEvent.created_at,
        ListeningEvent.track_id,
        ListeningEvent.action,
        ListeningEvent.position_s,
        *FEATURE_COLUMNS,
    )
    .join(Track, Track.id == ListeningEvent.track_id)
    .where(ListeningEvent.session_id == bindparam("session_id"), ListeningEvent.id > bindparam("after"))
    .order_by(ListeningEvent.created_at.desc(), ListeningEvent.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


@dataclass(frozen=True)
class SessionHistory:
    """A session's newest listening events (newest first, at most ``HISTORY_LIMIT``) with their
    tracks' ``features``: what it has heard and, from the newest ``EVIDENCE_LIMIT``, what it likes."""

    events: tuple[Event, ...] = ()
    features: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    # What the database said of the session when this was read: (events, newest id, newest time).
    version: tuple[int, int, datetime | None] = (0, 0, None)

    @cached_property
    def preference(self) -> SessionPreference:
        return SessionPreference.of(self.events[:EVIDENCE_LIMIT], self.features) if self.events else EMPTY

    @cached_property
    def heard(self) -> tuple[int, ...]:
        """Tracks it started, played, completed or skipped, most recent first."""
        return tuple(dict.fromkeys(e.track_id for e in self.events if e.action in HEARD))


# One process keeps the history of this many sessions per database (least recently used go):
# a listener's every recommendation needs it, and it only grows by the few events since the last.
# Bounded for memory too: at most HISTORY_LIMIT events each.
CACHED_SESSIONS = 64
_cache: weakref.WeakKeyDictionary[Engine, OrderedDict[str, SessionHistory]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def load_history(session: Session, session_id: str) -> SessionHistory:
    """The session's ``SessionHistory``, as a fresh read would give it.

    The process keeps each session's last read (per database engine, so entries go with it) and
    checks it against the database on every call, with one indexed count: unchanged, it is used
    as it is; grown only by newer events (what a listener does), only those are read and put in
    front. Anything else (events deleted, one written back-dated, another database behind the same
    engine) reads the whole history again. A track retagged since keeps its old features here
    until its session's history is read whole again."""
    count, last_id, newest_at = session.execute(_VERSION, {"session_id": session_id}).one()
    version = (int(count or 0), int(last_id or 0), newest_at)
    if not version[0]:
        return SessionHistory()
    bind = session.get_bind()
    engine: Engine = getattr(bind, "engine", bind)
    with _cache_lock:
        sessions = _cache.setdefault(engine, OrderedDict())
        cached = sessions.get(session_id)
    if cached is not None and cached.version == version:
        history = cached
    else:
        history = None
        if cached is not None and version[0] > cached.version[0] and version[1] > cached.version[1]:
            history = _grown(session, session_id, cached, version)
        if history is None:
            events, features = _read_events(session, session_id, after=0) or ([], {})  # None only with newer_than
            history = SessionHistory(tuple(events), features, version)
    with _cache_lock:
        sessions[session_id] = history
        sessions.move_to_end(session_id)
        while len(sessions) > CACHED_SESSIONS:
            sessions.popitem(last=False)
    return history


def _read_events(
    session: Session, session_id: str, *, after: int, newer_than: datetime | None = None
) -> tuple[list[Event], dict[int, tuple[float, ...]]] | None:
    """The session's newest events with ids above `after` and their tracks' features; None when
    `newer_than` is given and one of them is not at least that new."""
    rows = session.execute(
        _EVENTS_WITH_FEATURES, {"session_id": session_id, "after": after, "limit": HISTORY_LIMIT}
    ).all()
    if newer_than is not None and any(r[0] < newer_than for r in rows):
        return None
    events = [Event(int(r[1]), r[2], None if r[3] is None else float(r[3])) for r in rows]
    return events, {int(r[1]): tuple(float(x) for x in r[4:]) for r in rows}


def _grown(
    session: Session, session_id: str, cached: SessionHistory, version: tuple[int, int, datetime | None]
) -> SessionHistory | None:
    """`cached` with the events written since in front, or None unless those account for all the
    difference and all sort after it."""
    read = _read_events(session, session_id, after=cached.version[1], newer_than=cached.version[2])
    if read is None or len(read[0]) != version[0] - cached.version[0]:
        return None
    events, features = read
    kept = (tuple(events) + cached.events)[:HISTORY_LIMIT]
    ids = {e.track_id for e in kept}
    merged = {tid: f for tid, f in cached.features.items() if tid in ids}
    merged.update(features)
    return SessionHistory(kept, merged, version)


def load(session: Session, session_id: str) -> SessionPreference:
    """This session's preference, from its latest listening events."""
    return load_history(session, session_id).preference
