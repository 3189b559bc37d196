"""Engine and sessions. One engine per database URL per process (connection pool reuse).

A SQLite catalog is one file, and deleting or replacing it under a running process would let
pooled connections go on writing into the unlinked file (lost at their close) while a fresh
connection made a new, empty database. So each SQLite engine remembers which file it opened
(device and inode) and checks it at the start of every transaction: a file that is gone or is
another file raises `DatabaseReplaced`, and once opened the file is never created again.
Only `init_db` (the `init-db` and `demo` commands) creates a schema; the app opens an
existing catalog with `open_catalog`, which refuses a missing file or an empty database.

The same holds for the WAL's two sidecar files (`-wal`, `-shm`): while this process has a
connection open SQLite keeps them, so one that vanishes or changes then was deleted underneath,
and writes would go on into the unlinked WAL (lost at the next crash). The guard notes them as it
notes the main file, checks them and the journal mode at every transaction, and refuses with the
same message; before refusing, it checkpoints what the unlinked WAL still holds into the main
file. A checkpoint at most every CHECKPOINT_INTERVAL_S of writes keeps what only the WAL holds to
seconds of work, not the minutes SQLite's page-count autocheckpoint can take.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.models import Track
from app.config import get_settings

_engines: dict[str, Engine] = {}
_guards: dict[str, _SqliteFileGuard] = {}  # by URL, for the engines on a SQLite file
_lock = threading.Lock()
MYSQL_CONNECT_TIMEOUT_S = 3
MYSQL_IO_TIMEOUT_S = 60  # longer than any query the app runs, rollup rebuilds included
CHECKPOINT_INTERVAL_S = 5.0
_SIDECARS = ("-wal", "-shm")


class DatabaseUnavailable(RuntimeError):
    """The database can't be reached; the message names the host, never the password."""


class DatabaseReplaced(DatabaseUnavailable, SQLAlchemyError):
    """The SQLite file this process opened was removed or replaced: nothing more is written.
    Also an SQLAlchemyError, so code that handles a failed write (ingest's undo of the copy
    into the media store, a page's "couldn't save") handles this one the same way."""


class DatabaseNotInitialised(DatabaseUnavailable):
    """No catalog there yet (a missing SQLite file, or a database without the tables)."""


def sqlite_file(url: str | None = None) -> Path | None:
    """The file of a file-backed SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(_resolve_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename: its options are the caller's business
    return Path(parsed.database).absolute()


class _SqliteFileGuard:
    """Remembers the (st_dev, st_ino) of the file an engine opened, and of its WAL sidecars while
    connections are open, and refuses any other (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None
        self.sidecars: dict[str, tuple[int, int]] = {}  # noted while this process has connections open
        self.open_connections = 0
        self.last_checkpoint = time.monotonic()
        self._lock = threading.Lock()

    @staticmethod
    def _identity(path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _current(self) -> tuple[int, int] | None:
        return self._identity(self.path)

    def _refusal(self, current: tuple[int, int] | None, path: Path | None = None) -> DatabaseReplaced:
        what = "was removed" if current is None else "was replaced by another file"
        return DatabaseReplaced(
            f"the catalog database file {path or self.path} {what} while the app was running; nothing was saved"
        )

    def verify(self, dbapi_connection: sqlite3.Connection | None = None) -> None:
        """Raise DatabaseReplaced unless the file is still the one first opened (a no-op before),
        its WAL sidecars are those noted since connections opened, and (given a connection) the
        journal mode is still WAL. Checkpoints every CHECKPOINT_INTERVAL_S through that connection."""
        if self.identity is None:
            return
        current = self._current()
        if current != self.identity:
            raise self._refusal(current)
        with self._lock:
            for suffix in _SIDECARS:
                sidecar = Path(f"{self.path}{suffix}")
                now = self._identity(sidecar)
                noted = self.sidecars.get(suffix)
                if noted is None and now is not None and self.open_connections > 0:
                    self.sidecars[suffix] = now
                elif noted is not None and now != noted:
                    self._rescue(dbapi_connection)
                    raise self._refusal(now, sidecar)
        if dbapi_connection is None:
            return
        mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            raise DatabaseReplaced(
                f"the catalog database file {self.path} was switched out of WAL mode while the app was running; "
                "nothing was saved"
            )
        if time.monotonic() - self.last_checkpoint >= CHECKPOINT_INTERVAL_S:
            self.last_checkpoint = time.monotonic()
            dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @staticmethod
    def _rescue(dbapi_connection: sqlite3.Connection | None) -> None:
        """Copy what a deleted WAL still holds (this connection keeps it open) into the main file."""
        if dbapi_connection is None:
            return
        with contextlib.suppress(sqlite3.Error):  # the refusal follows whatever happens here
            dbapi_connection.execute("PRAGMA wal_checkpoint(FULL)")

    def opened(self) -> None:
        with self._lock:
            self.open_connections += 1

    def closed(self) -> None:
        with self._lock:
            self.open_connections -= 1
            if self.open_connections <= 0:
                # The last connection gone: SQLite may delete the sidecars now, and make new ones.
                self.open_connections = 0
                self.sidecars.clear()

    def connect(self, cparams: dict) -> sqlite3.Connection:
        """A new DB-API connection: created by SQLite (mode rwc) only the first time; after that
        mode=rw, so a removed file makes the connect fail instead of starting an empty one."""
        with self._lock:
            if self.identity is None:
                conn = sqlite3.connect(str(self.path), **cparams)
                conn.execute("SELECT 1")  # make sure the file exists before noting which it is
                self.identity = self._current()
                return conn
        self.verify()
        try:
            return sqlite3.connect(f"{self.path.as_uri()}?mode=rw", uri=True, **cparams)
        except sqlite3.OperationalError:
            raise self._refusal(self._current()) from None


def _guard_sqlite_engine(engine: Engine, path: Path) -> _SqliteFileGuard:
    guard = _SqliteFileGuard(path)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, _cargs, cparams):
        params = {k: v for k, v in cparams.items() if k != "uri"}
        return guard.connect(params)

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection, _record):
        guard.opened()

    @event.listens_for(engine, "close")
    def _closed(_dbapi_connection, _record):
        guard.closed()

    @event.listens_for(engine, "close_detached")
    def _closed_detached(_dbapi_connection):
        guard.closed()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # A few os.stat calls and a pragma per transaction: cheap next to the transaction itself.
        guard.verify(conn.connection.dbapi_connection)

    return guard


def verify_database_file(url: str | None = None) -> None:
    """Raise DatabaseReplaced if this process's SQLite file is gone or another file now."""
    guard = _guards.get(_resolve_url(url))
    if guard is not None:
        guard.verify()


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
            path = sqlite_file(url)
            if path is not None:
                _guards[url] = _guard_sqlite_engine(engine, path)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            connect_args: dict = {}
            if parsed.get_backend_name() in ("mysql", "mariadb"):
                # Fail fast in an outage: a page must not hang on a server that is gone (pymysql's
                # default connect timeout, met by several calls, kept a new visitor waiting), nor
                # forever on one that accepted the connection and went silent.
                connect_args = {
                    "charset": "utf8mb4",
                    "connect_timeout": MYSQL_CONNECT_TIMEOUT_S,
                    "read_timeout": MYSQL_IO_TIMEOUT_S,
                    "write_timeout": MYSQL_IO_TIMEOUT_S,
                }
            engine = create_engine(url, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)
        _engines[url] = engine
        return engine


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _alembic_config(connection) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def schema_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def init_db(url: str | None = None) -> Engine:
    """Bring the database to the newest schema revision (app/catalog/migrations): a new database
    gets the whole schema, one made by any earlier version (before migrations began, too: it
    has no revision recorded) gets what it lacks. Raises DatabaseUnavailable."""
    from alembic import command

    engine = get_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    except DatabaseReplaced:
        raise
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"cannot create the schema on {safe_url(url)}: {type(getattr(exc, 'orig', None) or exc).__name__}"
        ) from None
    return engine


def open_catalog(url: str | None = None) -> Engine:
    """The app's way in: the existing catalog, brought up to date (tables and columns added by a
    later version), never a new one. Raises DatabaseNotInitialised for a missing SQLite file or
    a database without the catalog tables (the app must not start an empty catalog where one
    was expected: `python -m app init-db` does that), DatabaseReplaced when this process's file
    is gone, DatabaseUnavailable when the database can't be reached."""
    url = _resolve_url(url)
    verify_database_file(url)
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseNotInitialised(f"the catalog database file {path} does not exist")
    engine = get_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    except DatabaseReplaced:
        raise
    except SQLAlchemyError as exc:
        kind = type(getattr(exc, "orig", None) or exc).__name__
        raise DatabaseUnavailable(f"the catalog database at {safe_url(url)} is unreachable ({kind})") from None
    if Track.__tablename__ not in tables:
        raise DatabaseNotInitialised(f"the catalog database at {safe_url(url)} has no catalog tables")
    return init_db(url)


def ping(url: str | None = None) -> None:
    """Raise DatabaseUnavailable with a clear message if the database can't be reached."""
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except DatabaseReplaced:
        raise
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
        _guards.clear()
