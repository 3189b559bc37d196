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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from app.catalog.models import ListeningEvent, Track
from app.catalog.summary import TrackSummary
from app.emotions import QUADRANTS

# Events read per session (newest first): bounded, so the cost doesn't grow with a long session.
EVIDENCE_LIMIT = 150

LIKE = 1.0
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
# catalog (deleting a track deletes its events).
_EVENTS = (
    select(ListeningEvent.track_id, ListeningEvent.action, ListeningEvent.position_s)
    .where(ListeningEvent.session_id == bindparam("session_id"))
    .order_by(ListeningEvent.created_at.desc(), ListeningEvent.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_EVENTS_WITH_FEATURES = (
    select(ListeningEvent.track_id, ListeningEvent.action, ListeningEvent.position_s, *FEATURE_COLUMNS)
    .join(Track, Track.id == ListeningEvent.track_id)
    .where(ListeningEvent.session_id == bindparam("session_id"))
    .order_by(ListeningEvent.created_at.desc(), ListeningEvent.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


def session_events(session: Session, session_id: str, limit: int = EVIDENCE_LIMIT) -> list[Event]:
    """The session's latest listening events, newest first (uses the (session_id, created_at) index)."""
    rows = session.execute(_EVENTS, {"session_id": session_id, "limit": limit})
    return [Event(int(tid), action, None if pos is None else float(pos)) for tid, action, pos in rows]


def load(session: Session, session_id: str) -> SessionPreference:
    """This session's preference, from its latest listening events."""
    rows = session.execute(_EVENTS_WITH_FEATURES, {"session_id": session_id, "limit": EVIDENCE_LIMIT}).all()
    if not rows:
        return EMPTY
    events = [Event(int(r[0]), r[1], None if r[2] is None else float(r[2])) for r in rows]
    return SessionPreference.of(events, {int(r[0]): tuple(float(x) for x in r[3:]) for r in rows})
