"""The catalog: schema, engine/sessions, repository functions, rollups and the media store.

Bringing audio in (ingest, retag) lives in `app.library`."""

from app.catalog import rollups  # noqa: F401  (registers the rollup insert hooks)
from app.catalog.db import DatabaseUnavailable, get_engine, init_db, session_scope
from app.catalog.media import MediaPathError, MediaStore
from app.catalog.models import ListeningEvent, MoodEvent, Track

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
