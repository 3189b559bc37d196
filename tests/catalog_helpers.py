"""Build small catalogs directly through the repository (no audio, no model)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.db import dispose_engines
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


def as_an_older_version(
    db_url: str,
    *,
    columns: Mapping[str, Sequence[str]] | None = None,
    indexes: Mapping[str, Sequence[str]] | None = None,
    tables: Sequence[str] = (),
) -> None:
    """Make the catalog at `db_url` look like one an earlier version made, before migrations
    began (no revision recorded): without these indexes and columns (table -> names) and these
    tables. The app's engines are let go first."""
    dispose_engines()
    engine = create_engine(db_url)
    on = (lambda table: f" ON {table}") if engine.dialect.name == "mysql" else (lambda table: "")
    with engine.begin() as conn:
        for table, names in (indexes or {}).items():
            for name in names:
                conn.execute(text(f"DROP INDEX {name}{on(table)}"))
        for table in tables:
            conn.execute(text(f"DROP TABLE {table}"))
        for table, names in (columns or {}).items():
            for name in names:
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {name}"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
