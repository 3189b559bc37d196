"""The listener's taste as a place to look: where in the valence–arousal plane this session's own
evidence says to offer tracks, beside (and bounded by) what the mood and strategy ask for.

The preference (``app.listening.preferences``) reorders the tracks near the mood; this moves the
neighbourhood itself, so a taste that lies away from the mood can be reached:

- *Pull*: the offer moves from the point the mood asks for toward the centre of what the session
  liked or played through, as far as the *contrast* between liked and refused allows (evidence
  on both sides: tracks played through on a steady mood, with nothing refused, say nothing about
  a taste away from it, so a passive listener whose mood changes isn't held back by its past).
- *A run of refusals* (early skips one after another, nothing liked or played through between),
  on match: after ``WIDEN_AFTER`` the neighbourhood widens; after ``EXPLORE_AFTER`` the offer
  goes to another region of the plane, the one the session's evidence speaks least against, the
  nearer the better, and the next run tries the next one. (Lift and calm explore along their
  steering path instead: ``STEERED``.)
- *Bounded by the strategy*: whatever moved it, a lift's point is never darker and a calm's never
  livelier than the strategy's own point (``bounded``), so lift still lifts and calm still calms;
  match follows the listener.

Every move carries a note for the reason line ("you've skipped the calm ones; trying brighter").
Plain Python over the session's ``SessionHistory``; the ranking (``app.recommend.ranking``)
applies it, so the Mood page and the ``session`` command get the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from app.emotions import QUADRANT_VA, QUADRANTS, MoodPoint, quadrant_of
from app.listening.preferences import Event, SessionHistory

# Pull: contrast (the smaller of liked and refused evidence) at which the offer moves half way to
# the liked centre; never all the way, so the mood keeps a say.
TASTE_HALF = 0.5
MAX_PULL = 0.85
MIN_MOVE = 0.15  # a move shorter than this is not worth a word in the reason
# A run of refusals: a skip before this many seconds (or a track taken out of up next unplayed).
EARLY_SKIP_S = 30.0
WIDEN_AFTER = 2
EXPLORE_AFTER = 3
WIDEN_PER_SKIP = 0.5  # the closeness width grows by this share per refusal of the run past the first
MAX_SPREAD = 3.0
# Regions to try: the quadrants' centres. Each is scored by the session's evidence around it
# (likes for, refusals against, within about this distance) less a small cost per unit of
# distance from where the offer was, so the nearest untried region goes first.
REGION_SIGMA = 0.35
REGION_SHRINK = 0.5
REGION_DISTANCE_COST = 0.1
EDGE = 0.95  # an aimed point stays inside the plane

# Lift and calm move the listener along a steering path toward a goal, and their mood-response
# bandit explores near each step: a run of skips there doesn't send the offer to other regions
# (in the simulated listeners that cost goal-reached sessions); their taste only pulls, bounded,
# and less far.
STEERED = ("lift", "calm")
STEERED_MAX_PULL = 0.4  # and their taste pulls less far from the path's step than match's may

# Words for the reason line: a region of the plane and a direction.
_REGION_WORDS = {"Q1": "upbeat", "Q2": "intense", "Q3": "sad", "Q4": "calm"}


@dataclass(frozen=True)
class Aim:
    """Where to offer tracks: ``point`` (ranked against instead of the strategy's point),
    ``spread`` (the closeness width's multiple), ``kind`` ("mood": as asked; "taste": pulled
    toward what was liked; "widen"; "explore": another region), and ``note`` for the reason."""

    point: MoodPoint
    spread: float = 1.0
    kind: str = "mood"
    note: str | None = None


def bounded(point: MoodPoint, base: MoodPoint, strategy: str) -> MoodPoint:
    """``point`` kept on the strategy's side of ``base``: lift never darker, calm never livelier."""
    v, a = point.valence, point.arousal
    if strategy == "lift":
        v = max(v, base.valence)
    elif strategy == "calm":
        a = min(a, base.arousal)
    return MoodPoint(max(-EDGE, min(EDGE, v)), max(-EDGE, min(EDGE, a)))


def is_refusal(event: Event) -> bool:
    """An early skip, or "not for me" at any point of the track (a verdict, not impatience)."""
    if event.action == "disliked":
        return True
    return event.action == "skipped" and (event.position_s is None or event.position_s < EARLY_SKIP_S)


def refusal_run(events: Iterable[Event]) -> list[int]:
    """The tracks refused one after another most recently (newest first); a like or a
    completion ends the run, events that say nothing (started, paused, played) don't."""
    run: list[int] = []
    refused = {e.track_id for e in events if e.action == "disliked"}
    for e in events:  # newest first
        if e.track_id in refused and e.action == "skipped":
            continue  # the skip that moved on from a "not for me" belongs to that verdict
        if e.action in ("liked", "completed") or (e.action == "skipped" and not is_refusal(e)):
            break
        if is_refusal(e) and e.track_id not in run:
            run.append(e.track_id)
    return run


def _vote(at: np.ndarray, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The evidence around each point of ``at`` (m × 2), in (-1, 1): kernel-weighted likes minus
    refusals, shrunk toward 0 where there is little."""
    if not len(points):
        return np.zeros(len(at))
    d2 = ((at[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * REGION_SIGMA**2))
    return (k @ weights) / (REGION_SHRINK + k @ np.abs(weights))


def _direction(src: MoodPoint, dst: MoodPoint) -> str:
    dv, da = dst.valence - src.valence, dst.arousal - src.arousal
    if abs(dv) >= abs(da):
        return "brighter" if dv > 0 else "darker"
    return "livelier" if da > 0 else "gentler"


def _skipped_words(points: Iterable[tuple[float, float]]) -> str:
    quadrants = [quadrant_of(v, a) for v, a in points]
    common = max(set(quadrants), key=quadrants.count) if quadrants else None
    return f"the {_REGION_WORDS[common]} ones" if common and quadrants.count(common) * 2 > len(quadrants) else "a few"


def aim(history: SessionHistory, base: MoodPoint, strategy: str) -> Aim:
    """Where to offer tracks for a listener whose mood and strategy ask for ``base``."""
    preference = history.preference
    weights: Mapping[int, float] = preference.weights
    if not weights:
        return Aim(base)
    ids = list(weights)
    points = np.array([preference.points[t] for t in ids], dtype=float)
    w = np.array([weights[t] for t in ids], dtype=float)
    liked_mass, refused_mass = float(w[w > 0].sum()), float(-w[w < 0].sum())

    point, kind, note = base, "mood", None
    centre = preference.liked_centre()
    contrast = min(liked_mass, refused_mass)
    if centre is not None and contrast > 0:
        share = min(STEERED_MAX_PULL if strategy in STEERED else MAX_PULL, contrast / (contrast + TASTE_HALF))
        pulled = bounded(
            MoodPoint(
                base.valence + share * (centre[0] - base.valence), base.arousal + share * (centre[1] - base.arousal)
            ),
            base,
            strategy,
        )
        if math.dist((pulled.valence, pulled.arousal), (base.valence, base.arousal)) >= MIN_MOVE:
            point, kind = pulled, "taste"
            note = (
                f"more like the {_REGION_WORDS[quadrant_of(*centre)]} ones you liked; trying {_direction(base, pulled)}"
            )

    run = refusal_run(history.events) if strategy not in STEERED else []
    if len(run) < WIDEN_AFTER:
        return Aim(point, 1.0, kind, note)
    spread = min(MAX_SPREAD, 1.0 + WIDEN_PER_SKIP * (len(run) - 1))
    skipped = _skipped_words(preference.points[t] for t in run if t in preference.points)
    if len(run) >= EXPLORE_AFTER:
        # Candidate regions (bounded by the strategy) and staying put, scored by the evidence
        # around each, less the cost of going there.
        options = [point, *(bounded(MoodPoint(*QUADRANT_VA[q]), base, strategy) for q in QUADRANTS)]
        at = np.array([[p.valence, p.arousal] for p in options])
        cost = REGION_DISTANCE_COST * np.hypot(at[:, 0] - point.valence, at[:, 1] - point.arousal)
        value = _vote(at, points, w) - cost
        best = int(np.argmax(value))
        if best != 0 and value[best] > value[0]:
            region = options[best]
            return Aim(region, spread, "explore", f"you've skipped {skipped}; trying {_direction(point, region)}")
    return Aim(point, spread, "widen", f"you've skipped {skipped}; looking wider")
