"""The one description of a track that leaves the catalog: repository → recommender → queue → pages.

A plain frozen dataclass (not the ORM row) so it can cross sessions, threads and
``st.session_state`` without lazy loads or detached-instance errors. Add a field here once and
every consumer sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.catalog.models import Track


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
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
