"""Build small catalogs directly through the repository (no audio, no model)."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import Track
from app.emotions import QUADRANTS, quadrant_of


def add(session: Session, title: str, valence: float, arousal: float, artist: str = "Artist", **extra) -> Track:
    quadrant = quadrant_of(valence, arousal)
    probs = {q: (0.7 if q == quadrant else 0.1) for q in QUADRANTS}
    probs.update(extra.pop("probabilities", {}))
    sha = hashlib.sha256(f"{title}|{artist}|{valence}|{arousal}".encode()).hexdigest()
    return repository.add_track(
        session,
        title=title,
        artist=artist,
        album=extra.pop("album", None),
        duration_s=extra.pop("duration_s", 30.0),
        sha256=sha,
        media_path=f"{sha[:2]}/{sha}.wav",
        format="wav",
        quadrant=quadrant,
        valence=valence,
        arousal=arousal,
        probabilities=probs,
        tagged_by=extra.pop("tagged_by", "model:test"),
    )
