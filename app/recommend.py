"""Mood-aware recommendations from the catalog.

listener mood (face distribution, label or point) → target point for the strategy
(`app.emotions.target_for_strategy`) → nearest tracks, found through the indexed grid cell
(`Track.va_cell`) in a box around the target that widens until it surely holds the nearest
ones → re-ranked by closeness, the track's probability for the target quadrant and its overall
like/skip record → this session's plays/skips removed → no artist twice in a row.

Only a bounded candidate set ever leaves the database, so the cost doesn't grow with the catalog.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import GRID, Track, grid_index
from app.catalog.summary import TrackSummary
from app.emotions import FACE_LABELS, STRATEGIES, MoodPoint, emotion_to_point, label_to_point, target_for_strategy

MoodInput = Mapping[str, float] | MoodPoint | str

CLOSENESS_SIGMA = 0.35  # distance at which closeness falls to e^-0.5 ≈ 0.61
WEIGHT_CLOSENESS = 0.75
WEIGHT_QUADRANT_PROB = 0.25
FEEDBACK_SPAN = 0.6  # score multiplier ranges over 1 ± 0.3 from all-skips to all-likes
JITTER = 0.03  # seeded tie-breaking/variety, small against the score differences that matter
START_HALF_WIDTH = 0.05
MAX_CANDIDATES = 500


@dataclass(frozen=True)
class Recommendation:
    """A track picked for a listener: the catalog's summary plus why and how well it fits.
    The listener's queue holds these as they are."""

    track: TrackSummary
    score: float
    reason: str

    # The fields the CLI, the queue and the pages read most, so they need not spell `.track.`.
    @property
    def track_id(self) -> int:
        return self.track.track_id

    @property
    def title(self) -> str:
        return self.track.title

    @property
    def artist(self) -> str:
        return self.track.artist

    @property
    def quadrant(self) -> str:
        return self.track.quadrant

    @property
    def valence(self) -> float:
        return self.track.valence

    @property
    def arousal(self) -> float:
        return self.track.arousal

    def as_json(self) -> dict[str, object]:
        """The DESIGN.md shape of `python -m app recommend --json`."""
        t = self.track
        return {
            "track_id": t.track_id,
            "title": t.title,
            "artist": t.artist,
            "quadrant": t.quadrant,
            "valence": round(t.valence, 3),
            "arousal": round(t.arousal, 3),
            "score": self.score,
            "reason": self.reason,
        }


def listener_point(mood: MoodInput) -> tuple[MoodPoint, str | None]:
    """The listener's point and, when known, their top face label."""
    if isinstance(mood, MoodPoint):
        return mood, None
    if isinstance(mood, str):
        return label_to_point(mood), mood
    point = emotion_to_point(mood)
    known = {k: float(v) for k, v in mood.items() if k in FACE_LABELS}
    return point, max(known, key=known.__getitem__)


# ----------------------------------------------------------------------------- reasons

_LISTENER_BY_QUADRANT = {
    "Q1": "you seem upbeat",
    "Q2": "you seem tense",
    "Q3": "you seem low",
    "Q4": "you seem relaxed",
}
_PURPOSE = {"match": "that matches your mood", "lift": "to lift you", "calm": "to calm you down"}


def describe_track_mood(valence: float, arousal: float) -> str:
    energy = "energetic" if arousal > 0.4 else "lively" if arousal > 0 else "gentle" if arousal > -0.4 else "very calm"
    colour = "bright" if valence > 0.4 else "warm" if valence > 0 else "wistful" if valence > -0.4 else "dark"
    return f"{energy}, {colour}"


# Beyond this distance in the plane a track is no longer "what you asked for", only the nearest
# the catalog has; the reason says so rather than over-promise.
FAR_FROM_TARGET = 0.75


def reason_for(
    label: str | None,
    listener: MoodPoint,
    strategy: str,
    valence: float,
    arousal: float,
    *,
    feedback: repository.Feedback,
    target: MoodPoint | None = None,
) -> str:
    who = f"you look {label}" if label else _LISTENER_BY_QUADRANT[listener.quadrant]
    mood = describe_track_mood(valence, arousal)
    article = "an" if mood[0] in "aeiou" else "a"
    if target is not None and math.hypot(valence - target.valence, arousal - target.arousal) > FAR_FROM_TARGET:
        wanted = describe_track_mood(target.valence, target.arousal)
        text = f"{who} → {article} {mood} track, the nearest the catalog has to {wanted}"
    else:
        text = f"{who} → {article} {mood} track {_PURPOSE[strategy]}"
    if feedback.likes >= 2 and feedback.approval >= 0.6:
        text += " · liked by other listeners"
    return text


# ----------------------------------------------------------------------------- candidates


def _cells_in_box(v_lo: float, v_hi: float, a_lo: float, a_hi: float) -> list[int]:
    cols = range(grid_index(v_lo), grid_index(v_hi) + 1)
    rows = range(grid_index(a_lo), grid_index(a_hi) + 1)
    return [r * GRID + c for r in rows for c in cols]


def nearest_track_ids(
    session: Session, target: MoodPoint, k: int, exclude: Collection[int] = ()
) -> list[tuple[int, float]]:
    """The k tracks nearest to `target` (id, distance), nearest first, minus `exclude`.

    Searches a box of half-width h around the target through the grid-cell index and doubles h
    until the k-th hit is within h: nothing outside the box can then be nearer, so the answer is
    exact while touching only a few cells on a big catalog.
    """
    tv, ta = target.valence, target.arousal
    dist2 = (Track.valence - tv) * (Track.valence - tv) + (Track.arousal - ta) * (Track.arousal - ta)
    half = START_HALF_WIDTH
    while True:
        v_lo, v_hi, a_lo, a_hi = tv - half, tv + half, ta - half, ta + half
        covers_plane = half >= 2.0
        stmt = select(Track.id, dist2.label("d2")).order_by(dist2, Track.id).limit(k)
        if not covers_plane:
            stmt = stmt.where(
                Track.va_cell.in_(_cells_in_box(v_lo, v_hi, a_lo, a_hi)),
                Track.valence.between(v_lo, v_hi),
                Track.arousal.between(a_lo, a_hi),
            )
        if exclude:
            stmt = stmt.where(Track.id.not_in(list(exclude)))
        rows = session.execute(stmt).all()
        if covers_plane or (len(rows) >= k and rows[-1].d2 <= half * half):
            return [(int(r.id), math.sqrt(max(0.0, float(r.d2)))) for r in rows]
        half *= 2


# ----------------------------------------------------------------------------- ranking


def recommend(
    session: Session,
    mood: MoodInput,
    *,
    strategy: str = "match",
    n: int = 10,
    session_id: str | None = None,
    exclude_track_ids: Collection[int] = (),
    seed: int | None = None,
) -> list[Recommendation]:
    """Up to `n` tracks for a listener in `mood`, best first.

    `session_id` excludes what that listener already played or skipped; `exclude_track_ids`
    excludes more (e.g. the queue on screen). With `seed`, a small seeded jitter varies the
    order among near-equal tracks; the same inputs and seed always give the same list.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if n <= 0:
        return []
    point, label = listener_point(mood)
    target = target_for_strategy(point, strategy)
    excluded = set(exclude_track_ids)
    if session_id:
        excluded.update(repository.session_track_ids(session, session_id))
    k = min(MAX_CANDIDATES, max(50, 5 * n))
    nearest = nearest_track_ids(session, target, k, excluded)
    if not nearest:
        return []
    ids = [tid for tid, _ in nearest]
    tracks = {t.track_id: t for t in repository.track_summaries(session, ids)}
    feedback = repository.track_feedback(session, ids)
    no_feedback = repository.Feedback()
    rng = random.Random(seed) if seed is not None else None

    scored: list[tuple[float, int]] = []
    for tid, distance in nearest:
        track = tracks[tid]
        closeness = math.exp(-(distance**2) / (2 * CLOSENESS_SIGMA**2))
        base = WEIGHT_CLOSENESS * closeness + WEIGHT_QUADRANT_PROB * track.probabilities[target.quadrant]
        approval = feedback.get(tid, no_feedback).approval
        score = base * (1 - FEEDBACK_SPAN / 2 + FEEDBACK_SPAN * approval)
        if rng is not None:
            score += rng.uniform(0, JITTER)
        scored.append((score, tid))
    scored.sort(key=lambda s: (-s[0], s[1]))

    picked = _diversify([tid for _, tid in scored], tracks, n)
    score_of = {tid: s for s, tid in scored}
    return [
        Recommendation(
            track=t,
            score=round(score_of[t.track_id], 4),
            reason=reason_for(
                label,
                point,
                strategy,
                t.valence,
                t.arousal,
                feedback=feedback.get(t.track_id, no_feedback),
                target=target,
            ),
        )
        for t in (tracks[tid] for tid in picked)
    ]


def _diversify(ranked_ids: list[int], tracks: Mapping[int, TrackSummary], n: int) -> list[int]:
    """Greedy: the best remaining track whose artist differs from the previous pick's
    (falls back to the best remaining when only that artist is left)."""
    remaining = list(ranked_ids)
    picked: list[int] = []
    while remaining and len(picked) < n:
        previous = tracks[picked[-1]].artist.casefold() if picked else None
        choice = next((tid for tid in remaining if tracks[tid].artist.casefold() != previous), remaining[0])
        picked.append(choice)
        remaining.remove(choice)
    return picked
