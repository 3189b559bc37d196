"""Steering as a path (the iso principle of music therapy): to change a mood, music first meets the
listener where they are and then moves, track by track, toward where they want to be. *Lift* and
*calm* plan ``steps`` targets from the listener's current point to the strategy's goal
(``app.emotions.target_for_strategy``); *match* stays on the mood. Up next's i-th track is ranked
against the path's i-th point, and a new mood re-plans the path from there (the queue is rebuilt).

The page draws ``path`` and, for each queued track, ``QueuePlace``: the point it was ranked
against and where the track itself sits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.emotions import STRATEGIES, MoodPoint, target_for_strategy

# Tracks from the listener's mood to the goal: few enough that the goal is reached within one
# queue, enough that no step is a jump.
PATH_STEPS = 4


def steering_path(current: MoodPoint, strategy: str, steps: int = PATH_STEPS) -> list[MoodPoint]:
    """``steps`` target points, evenly spaced from one step past ``current`` to the strategy's goal
    (the last point is the goal). *match*: ``current`` ``steps`` times."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if steps < 1:
        raise ValueError("a path needs at least one step")
    goal = target_for_strategy(current, strategy)
    dv, da = goal.valence - current.valence, goal.arousal - current.arousal
    inner = [MoodPoint(current.valence + dv * i / steps, current.arousal + da * i / steps) for i in range(1, steps)]
    return [*inner, goal]


def target_at(path: Sequence[MoodPoint], index: int) -> MoodPoint:
    """The path's point for queue position ``index``; past the end, the goal (the path's last)."""
    if not path:
        raise ValueError("empty path")
    return path[min(max(0, index), len(path) - 1)]


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued track sits on the path: the point it was ranked against, its own point, and
    the distance between them (the chart draws a short line from one to the other)."""

    track_id: int
    target: MoodPoint
    track: MoodPoint

    @property
    def distance(self) -> float:
        return math.hypot(self.track.valence - self.target.valence, self.track.arousal - self.target.arousal)
