"""Engine and sessions. One engine per database URL per process (connection pool reuse)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.models import Base
from app.config import get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database can't be reached; the message names the host, never the password."""


def _resolve_url(url: str | None) -> str:
    return url or get_settings().database_url


def safe_url(url: str | None = None) -> str:
    """The URL with its password masked, fit for messages and logs."""
    return make_url(_resolve_url(url)).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the Streamlit reader threads run while an import writes; foreign keys are off
    # by default in SQLite; busy_timeout waits for a writer instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: settings.database_url)."""
    url = _resolve_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": 10})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            connect_args = {"charset": "utf8mb4"} if parsed.get_backend_name() in ("mysql", "mariadb") else {}
            engine = create_engine(url, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)
        _engines[url] = engine
        return engine


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


# Columns added to listening_events after its first release, with the DDL that adds each to an
# existing table (rows recorded before them get NULL / false: no player reported a position).
_ADDED_LISTENING_COLUMNS = {
    "position_s": "ALTER TABLE listening_events ADD COLUMN position_s FLOAT",
    "completed": "ALTER TABLE listening_events ADD COLUMN completed BOOLEAN NOT NULL DEFAULT FALSE",
}


def _upgrade(engine: Engine, existing_tables: set[str]) -> None:
    """Bring a database made by an earlier version up to date: the listening events' quadrant
    column (filled from the tracks' current tags), their player position and completed flag, and
    the analytics rollups, rebuilt from the events when their tables are new. A fresh database
    has nothing to do here."""
    from sqlalchemy.orm import Session as _Session

    from app.catalog import rollups
    from app.catalog.models import ListeningDaily, ListeningEvent, Track

    if "listening_events" not in existing_tables:
        return
    columns = {c["name"] for c in inspect(engine).get_columns("listening_events")}
    with _Session(engine) as session, session.begin():
        if "quadrant" not in columns:
            session.execute(text("ALTER TABLE listening_events ADD COLUMN quadrant VARCHAR(2)"))
            session.execute(
                ListeningEvent.__table__.update().values(
                    quadrant=Track.__table__.select()
                    .with_only_columns(Track.quadrant)
                    .where(Track.id == ListeningEvent.track_id)
                    .scalar_subquery()
                )
            )
        for name, ddl in _ADDED_LISTENING_COLUMNS.items():
            if name not in columns:
                session.execute(text(ddl))
        if ListeningDaily.__tablename__ not in existing_tables:
            rollups.rebuild(session)


def init_db(url: str | None = None) -> Engine:
    """Create the tables and indexes that don't exist yet. Raises DatabaseUnavailable."""
    engine = get_engine(url)
    try:
        existing = set(inspect(engine).get_table_names())
        Base.metadata.create_all(engine)
        _upgrade(engine, existing)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"cannot create the schema on {safe_url(url)}: {type(exc.orig or exc).__name__}"
        ) from None
    return engine


def ping(url: str | None = None) -> None:
    """Raise DatabaseUnavailable with a clear message if the database can't be reached."""
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        kind = type(getattr(exc, "orig", None) or exc).__name__
        raise DatabaseUnavailable(f"the catalog database at {safe_url(url)} is unreachable ({kind})") from None


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: commits on success, rolls back on any exception."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, and after forking worker processes)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
