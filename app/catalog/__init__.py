"""The catalog: schema, engine/sessions, repository functions, media store and ingest."""

from app.catalog.db import DatabaseUnavailable, get_engine, init_db, session_scope
from app.catalog.media import MediaPathError, MediaStore
from app.catalog.models import ListeningEvent, MoodEvent, Track
from app.catalog import rollups  # noqa: F401  (registers the rollup insert hooks)

__all__ = [
    "DatabaseUnavailable",
    "ListeningEvent",
    "MediaPathError",
    "MediaStore",
    "MoodEvent",
    "Track",
    "get_engine",
    "init_db",
    "session_scope",
]
