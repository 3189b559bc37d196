"""A track's mood timeline: its mood segment by segment over the whole track, and how it starts
and ends (the recommender's path from one mood to the next cares where a track leaves the
listener). One home for the arithmetic, used at tagging time (`Track.set_mood` stores the end)
and by `TrackSummary`."""

from __future__ import annotations

import math
from collections.abc import Sequence

# One point as the catalog stores it: (start_s, end_s, valence, arousal), the mood of that
# segment (app.music.tagger.MoodPoint's fields, kept free of the music package).
TimelinePoint = tuple[float, float, float, float]

# How much of a track's end (or start) counts as "how it ends": a couple of timeline segments.
EDGE_S = 20.0


def _mean_over(timeline: Sequence[Sequence[float]], lo: float, hi: float, edge: Sequence[float]) -> tuple[float, float]:
    """The timeline's mean (valence, arousal) over [lo, hi] seconds, each segment weighted by how
    much of it lies inside (`edge`, the segment at that end, for an empty window)."""
    weights = [max(0.0, min(b, hi) - max(a, lo)) for a, b, _, _ in timeline]
    total = sum(weights)
    if total <= 0:
        return float(edge[2]), float(edge[3])
    return (
        sum(w * p[2] for w, p in zip(weights, timeline, strict=True)) / total,
        sum(w * p[3] for w, p in zip(weights, timeline, strict=True)) / total,
    )


def end_mood(timeline: Sequence[Sequence[float]], seconds: float = EDGE_S) -> tuple[float, float]:
    """(valence, arousal) over the timeline's last `seconds` (it must not be empty)."""
    return _mean_over(timeline, timeline[-1][1] - seconds, math.inf, timeline[-1])


def start_mood(timeline: Sequence[Sequence[float]], seconds: float = EDGE_S) -> tuple[float, float]:
    """(valence, arousal) over the timeline's first `seconds` (it must not be empty)."""
    return _mean_over(timeline, -math.inf, timeline[0][0] + seconds, timeline[0])
