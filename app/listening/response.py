"""Mood response: how the listener's smoothed camera mood moved while one track played, and the
evidence those responses give the recommender.

Measuring (plain Python): a ``MoodTrace`` follows one playing track; every live camera reading
is added with the time it was seen. When the track ends or the listener moves on, ``response``
gives a ``Response`` (the mood at the track's start and end, each the mean of a few readings, so
one twitch of the face doesn't decide it) — or None when the camera saw too little of it. The
Mood page's session (``ListenerSession``) and the scripted ``session`` command both measure with
it; ``store`` writes the rows (``app.catalog.models.MoodResponse``).

Using (``ResponseEvidence``): the change toward the strategy's goal (valence up for *lift*,
arousal down for *calm*; *match* has no direction, so no response reward) is a reward beside
like/skip/completion, in a contextual bandit with one arm per track:
- each track's effect has a prior centred on what this session's own responses say about tracks
  like it (kernel over ``features``: where it sits, how it sounds, and how it ends — the mood
  of its last seconds, ``TrackSummary.end_mood``), zero without any;
- its pooled responses (every listener) update that prior, each weighted by how close the
  listener's mood at the track's start was to this listener's mood now ("listeners like you"),
  the session's own counting more than a stranger's;
- the ranking adds the posterior mean plus an optimism bonus for what is still uncertain (UCB:
  deterministic, so the same inputs give the same list, and untried tracks keep a chance against
  tracks that were tried and did little). The recommender bounds where this applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Integer, bindparam, delete, func, select
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import MoodResponse, Track
from app.catalog.summary import TrackSummary
from app.emotions import MoodPoint
from app.listening import preferences

# A response is stored only when the camera read the listener this often and over this long
# while the track played: music moves a mood over tens of seconds, and over a few seconds or a
# handful of readings the "change" is the face's own jitter, not the music's doing.
MIN_READINGS = 10
MIN_SECONDS = 20.0
# Readings averaged for the mood at each end of the track (the camera's smoother already
# averages about a second; this steadies the two points the response is the difference of).
STEADY_READINGS = 3

# Bandit. A response's change toward the goal is in the plane's units (-2..2).
PRIOR_SD = 0.1  # how far one track's own effect may sit from what similar tracks suggest
RESPONSE_SD = 0.15  # one listener's response to one play: the face is noisy, moods drift
EXPLORE = 0.5  # optimism: standard deviations of still-unknown effect added to the mean
SESSION_WEIGHT = 2.0  # this listener's own response counts as this many strangers'
CONTEXT_SIGMA = 0.5  # start moods this far apart count e^-0.5 as "listeners like you"
SHRINK = 0.5  # pseudo-evidence of "no effect" in the feature-level prior (as in preferences)
# Pooled rows read per candidate track (its newest): bounded whatever the history, and past a
# few dozen responses one more barely moves the track's posterior.
TRACK_LIMIT = 20
SESSION_LIMIT = 100  # this session's own responses read per ranking
# Reasons: an effect at least this big toward the goal, backed by at least this much weight.
REASON_EFFECT = 0.05
REASON_WEIGHT = 1.5


# The strategies with a direction to move the mood in, so with a mood-response reward.
DIRECTED: tuple[str, ...] = ("lift", "calm")


def features(track: TrackSummary) -> tuple[float, ...]:
    """``preferences.features`` and where the track ends (``TrackSummary.end_mood``): a track
    that ends brighter than it sits may lift more than its point suggests."""
    return (*preferences.features(track), *track.end_mood())


def goal_change(strategy: str, dv: float, da: float) -> float:
    """How far a mood change went toward the strategy's goal: valence gained for *lift*,
    arousal shed for *calm*; 0 for *match* (which follows the mood, so no change is better)."""
    if strategy == "lift":
        return dv
    if strategy == "calm":
        return -da
    return 0.0


@dataclass(frozen=True)
class Response:
    """One track's mood response: the row ``store`` writes."""

    track_id: int
    strategy: str
    start: MoodPoint
    end: MoodPoint
    readings: int
    listened_s: float

    def change_toward(self, strategy: str) -> float:
        return goal_change(strategy, self.end.valence - self.start.valence, self.end.arousal - self.start.arousal)


def _mean(points: Sequence[MoodPoint]) -> MoodPoint:
    return MoodPoint(sum(p.valence for p in points) / len(points), sum(p.arousal for p in points) / len(points))


@dataclass
class MoodTrace:
    """The camera's readings while one track plays: the first and last few, their count and
    times (bounded memory, however long the track)."""

    track_id: int
    strategy: str
    first: list[MoodPoint] = field(default_factory=list)
    last: list[MoodPoint] = field(default_factory=list)
    readings: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def add(self, point: MoodPoint, at: float) -> None:
        """One camera reading seen at ``at`` seconds (any clock that only goes forward)."""
        if len(self.first) < STEADY_READINGS:
            self.first.append(point)
        self.last = [*self.last, point][-STEADY_READINGS:]
        self.readings += 1
        self.first_at = at if self.first_at is None else self.first_at
        self.last_at = at

    @property
    def seconds(self) -> float:
        """How long the camera followed the track: first reading to last."""
        return 0.0 if self.first_at is None or self.last_at is None else max(0.0, self.last_at - self.first_at)

    def response(self, listened_s: float | None = None) -> Response | None:
        """The response, or None when the camera saw too little (``MIN_READINGS``,
        ``MIN_SECONDS``). ``listened_s``: where the track was left (default: the seconds seen)."""
        if self.readings < max(MIN_READINGS, 2 * STEADY_READINGS) or self.seconds < MIN_SECONDS:
            return None
        listened = self.seconds if listened_s is None else float(listened_s)
        return Response(self.track_id, self.strategy, _mean(self.first), _mean(self.last), self.readings, listened)


# ----------------------------------------------------------------------------- storage


def store(session: Session, session_id: str, responses: Iterable[Response]) -> int:
    """Write the responses in the caller's transaction; a track deleted from the catalog since
    is passed over. Returns how many rows were written."""
    responses = list(responses)
    if not responses:
        return 0
    present = set(session.scalars(select(Track.id).where(Track.id.in_({r.track_id for r in responses}))))
    rows = [
        MoodResponse(
            session_id=session_id,
            track_id=r.track_id,
            strategy=r.strategy,
            valence_start=float(r.start.valence),
            arousal_start=float(r.start.arousal),
            valence_end=float(r.end.valence),
            arousal_end=float(r.end.arousal),
            readings=int(r.readings),
            listened_s=float(r.listened_s),
        )
        for r in responses
        if r.track_id in present
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)


def forget(session: Session, session_id: str) -> int:
    """Delete the session's responses (Forget this session); returns how many."""
    return int(session.execute(delete(MoodResponse).where(MoodResponse.session_id == session_id)).rowcount or 0)


# ----------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Effect:
    """The bandit's view of one track for one listener and strategy."""

    mean: float  # expected change toward the goal
    sd: float  # how unsure that is
    pooled: float  # weight of other listeners' responses to this very track
    similar: float  # weight of this session's responses to tracks that sound like it

    @property
    def value(self) -> float:
        """Mean plus the optimism bonus, 0 for a track nothing is known about."""
        return self.mean + EXPLORE * (self.sd - PRIOR_SD)


NO_EFFECT = Effect(0.0, PRIOR_SD, 0.0, 0.0)


_CHANGE_COLUMNS = (
    MoodResponse.id,
    MoodResponse.track_id,
    MoodResponse.valence_start,
    MoodResponse.arousal_start,
    MoodResponse.valence_end,
    MoodResponse.arousal_end,
)
# Built once (every directed recommendation runs both). The newest rows of each track: numbered
# within the track, newest first, over the covering index, and only the first few kept.
_newest = (
    select(
        *_CHANGE_COLUMNS,
        func.row_number()
        .over(
            partition_by=MoodResponse.track_id,
            order_by=(MoodResponse.created_at.desc(), MoodResponse.id.desc()),
        )
        .label("newest"),
    )
    .where(MoodResponse.track_id.in_(bindparam("ids", expanding=True)))
    .subquery()
)
_TRACK_ROWS = select(*(_newest.c[c.key] for c in _CHANGE_COLUMNS)).where(
    _newest.c.newest <= bindparam("limit", type_=Integer)
)
_SESSION_ROWS = (
    select(*_CHANGE_COLUMNS)
    .where(MoodResponse.session_id == bindparam("session_id"))
    .order_by(MoodResponse.created_at.desc(), MoodResponse.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


@dataclass(frozen=True)
class _Row:
    track_id: int
    session_id: str
    start: tuple[float, float]
    change: tuple[float, float]  # (dv, da)


@dataclass(frozen=True)
class ResponseEvidence:
    """Responses to the candidate tracks (every listener's) and this session's own."""

    rows: tuple[_Row, ...] = ()
    session_id: str | None = None
    own: tuple[tuple[tuple[float, ...], tuple[float, float]], ...] = ()  # (features, (dv, da))

    @classmethod
    def load(cls, session: Session, tracks: Mapping[int, TrackSummary], session_id: str | None) -> ResponseEvidence:
        """Two bounded indexed reads: the newest ``TRACK_LIMIT`` pooled rows of each of ``tracks``
        (from the covering (track_id, created_at, ...) index alone), and the session's own newest
        rows (by session) with their tracks' ``features``. A pooled row is the session's own when
        that second read has it."""
        mine = []
        if session_id:
            mine = session.execute(_SESSION_ROWS, {"session_id": session_id, "limit": SESSION_LIMIT}).all()
        own_ids = {int(r[0]) for r in mine}
        pooled = session.execute(_TRACK_ROWS, {"ids": list(tracks), "limit": TRACK_LIMIT}).all()
        rows = tuple(
            _Row(int(t), session_id if int(rid) in own_ids else "", (vs, as_), (ve - vs, ae - as_))
            for rid, t, vs, as_, ve, ae in pooled
        )
        own: list[tuple[tuple[float, ...], tuple[float, float]]] = []
        if mine:
            missing = list({int(r[1]) for r in mine} - set(tracks))
            known = {**tracks, **{t.track_id: t for t in repository.track_summaries(session, missing, timeline=False)}}
            for _rid, t, vs, as_, ve, ae in mine:
                if int(t) in known:
                    own.append((features(known[int(t)]), (ve - vs, ae - as_)))
        return cls(rows, session_id, tuple(own))

    def effects(self, strategy: str, context: MoodPoint, tracks: Sequence[TrackSummary]) -> dict[int, Effect]:
        """Each track's ``Effect`` toward ``strategy``'s goal for a listener now at ``context``."""
        track_ids = [t.track_id for t in tracks]
        if strategy not in DIRECTED or not tracks:
            return {tid: NO_EFFECT for tid in track_ids}
        prior = self._feature_prior(strategy, [features(t) for t in tracks])
        weight = {tid: 0.0 for tid in track_ids}
        total = {tid: 0.0 for tid in track_ids}
        pooled = {tid: 0.0 for tid in track_ids}
        for row in self.rows:
            if row.track_id not in weight:
                continue
            d2 = (row.start[0] - context.valence) ** 2 + (row.start[1] - context.arousal) ** 2
            w = math.exp(-d2 / (2 * CONTEXT_SIGMA**2))
            if row.session_id == self.session_id:
                w *= SESSION_WEIGHT
            else:
                pooled[row.track_id] += w
            weight[row.track_id] += w
            total[row.track_id] += w * goal_change(strategy, *row.change)
        out: dict[int, Effect] = {}
        for tid, (m, similar) in zip(track_ids, prior, strict=True):
            precision = 1 / PRIOR_SD**2 + weight[tid] / RESPONSE_SD**2
            mean = (m / PRIOR_SD**2 + total[tid] / RESPONSE_SD**2) / precision
            out[tid] = Effect(mean, precision**-0.5, pooled[tid], similar)
        return out

    def _feature_prior(self, strategy: str, feats: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
        """(prior mean, evidence weight) per track from this session's responses to tracks that
        sound like it: "more like the ones that lifted you"."""
        if not self.own:
            return [(0.0, 0.0)] * len(feats)
        k = preferences.kernel_matrix(feats, [f for f, _ in self.own])
        g = np.array([goal_change(strategy, dv, da) for _, (dv, da) in self.own], dtype=float)
        support = k.sum(axis=1)
        means = (k @ g) / (SHRINK + support)
        return list(zip(means.tolist(), support.tolist(), strict=True))


EMPTY = ResponseEvidence()


def reason_words(strategy: str, effect: Effect) -> str | None:
    """What the evidence says, for the reason line, or None when it says too little."""
    verb = {"lift": "lifted", "calm": "calmed"}.get(strategy)
    if verb is None or effect.mean < REASON_EFFECT:
        return None
    if effect.pooled >= REASON_WEIGHT:
        return f"{verb} listeners like you"
    if effect.similar >= REASON_WEIGHT / 2:
        return f"like the tracks that {verb} you"
    return None
