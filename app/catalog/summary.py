"""The one description of a track that leaves the catalog: repository → recommender → queue → pages.

A plain frozen dataclass (not the ORM row) so it can cross sessions, threads and
``st.session_state`` without lazy loads or detached-instance errors. Add a field here once and
every consumer sees it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from app.catalog.models import Track

# One point of a track's mood timeline as the catalog stores it: (start_s, end_s, valence, arousal),
# the mood of that segment (app.music.tagger.MoodPoint's fields, kept free of the music package).
TimelinePoint = tuple[float, float, float, float]
# How much of a track's end (or start) counts as "how it ends": a couple of timeline segments.
EDGE_S = 20.0


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    title: str
    artist: str
    album: str | None
    quadrant: str
    valence: float
    arousal: float
    duration_s: float
    media_path: str  # relative to the media store
    format: str
    tagged_by: str
    probabilities: dict[str, float]  # quadrant -> the model's probability (one-hot when a curator set it)
    # The model's confidence in the tag, 0..1; None when a curator set the mood (or the tag
    # predates stored confidences).
    confidence: float | None = None
    # The mood segment by segment over the whole track, in time order; empty when not stored.
    timeline: tuple[TimelinePoint, ...] = ()

    @classmethod
    def of(cls, track: Track) -> TrackSummary:
        return cls(
            track_id=int(track.id),
            title=track.title,
            artist=track.artist,
            album=track.album,
            quadrant=track.quadrant,
            valence=float(track.valence),
            arousal=float(track.arousal),
            duration_s=float(track.duration_s),
            media_path=track.media_path,
            format=track.format,
            tagged_by=track.tagged_by,
            probabilities={q: float(p) for q, p in track.probabilities.items()},
            confidence=None if track.confidence is None else float(track.confidence),
            timeline=tuple((float(a), float(b), float(v), float(r)) for a, b, v, r in (track.mood_timeline or ())),
        )

    def end_mood(self, seconds: float = EDGE_S) -> tuple[float, float]:
        """(valence, arousal) over the track's last `seconds`, where it leaves the listener; the
        track's own point when it has no timeline."""
        if not self.timeline:
            return self.valence, self.arousal
        return self._mean_over(self.timeline[-1][1] - seconds, math.inf, self.timeline[-1])

    def start_mood(self, seconds: float = EDGE_S) -> tuple[float, float]:
        """(valence, arousal) over the track's first `seconds`; its own point without a timeline."""
        if not self.timeline:
            return self.valence, self.arousal
        return self._mean_over(-math.inf, self.timeline[0][0] + seconds, self.timeline[0])

    def _mean_over(self, lo: float, hi: float, edge: TimelinePoint) -> tuple[float, float]:
        """The timeline's mean over [lo, hi], each segment weighted by how much of it lies inside
        (`edge`, the segment at that end, for an empty window)."""
        weights = [max(0.0, min(b, hi) - max(a, lo)) for a, b, _, _ in self.timeline]
        total = sum(weights)
        if total <= 0:
            return edge[2], edge[3]
        return (
            sum(w * p[2] for w, p in zip(weights, self.timeline, strict=True)) / total,
            sum(w * p[3] for w, p in zip(weights, self.timeline, strict=True)) / total,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
