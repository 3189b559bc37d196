"""The one description of a track that leaves the catalog: repository → recommender → queue → pages.

A plain frozen dataclass (not the ORM row) so it can cross sessions, threads and
``st.session_state`` without lazy loads or detached-instance errors. Add a field here once and
every consumer sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.catalog.models import Track
from app.catalog.timeline import TimelinePoint, end_mood


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
    # The mood segment by segment over the whole track, in time order; empty when not stored, and
    # in the summaries a ranking reads (`repository.track_summaries(..., timeline=False)`).
    timeline: tuple[TimelinePoint, ...] = ()
    # Where it leaves the listener (`app.catalog.timeline.end_mood` of the timeline, stored at
    # tagging time); None without a timeline.
    ending: tuple[float, float] | None = None

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
            ending=None if track.end_valence is None else (float(track.end_valence), float(track.end_arousal)),
        )

    def end_mood(self) -> tuple[float, float]:
        """(valence, arousal) where the track leaves the listener: its last seconds by its
        timeline, or its own point when it has none."""
        if self.ending is not None:
            return self.ending
        return end_mood(self.timeline) if self.timeline else (self.valence, self.arousal)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
