"""The catalog database is never silently replaced: a SQLite file removed or swapped under a
running process makes every later transaction fail (instead of writing into the unlinked
file), and the app never creates an empty catalog where one was expected."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import streamlit as st
from catalog_helpers import add
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.catalog.db import (
    DatabaseNotInitialised,
    DatabaseReplaced,
    DatabaseUnavailable,
    dispose_engines,
    init_db,
    open_catalog,
    ping,
    session_scope,
)
from app.catalog.models import Track
from tests.pages_support import APP_FILE, configure_env


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "guarded.db"
    url = f"sqlite:///{path}"
    init_db(url)
    with session_scope(url) as s:
        add(s, "Kept", 0.5, 0.5)
    return url, path


def test_a_write_after_the_file_is_removed_raises_and_recreates_nothing(sqlite_catalog):
    url, path = sqlite_catalog
    _remove_sqlite(path)
    with pytest.raises(DatabaseReplaced, match="was removed"), session_scope(url) as s:
        add(s, "Lost", -0.5, 0.5)
    with pytest.raises(DatabaseReplaced):
        ping(url)
    with pytest.raises(DatabaseReplaced):
        init_db(url)  # not even init-db in the same process: the file it opened is gone
    assert not path.exists()


def test_a_replaced_file_is_refused_even_with_the_same_content(sqlite_catalog, tmp_path):
    url, path = sqlite_catalog
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Track)) == 1
    dispose_engines()  # close the connections so the copy below is a whole database
    with session_scope(url) as s:
        s.scalar(select(func.count()).select_from(Track))
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    _remove_sqlite(path)
    shutil.copy(copy, path)  # same bytes, another file: someone restored a backup underneath
    with pytest.raises(DatabaseReplaced, match="replaced by another file"), session_scope(url) as s:
        add(s, "Into the wrong file", 0.1, 0.1)
    dispose_engines()  # a restart accepts it, with the row written before
    with session_scope(url) as s:
        assert s.scalars(select(Track.title)).all() == ["Kept"]


def test_the_guard_is_an_sqlalchemy_error_too(sqlite_catalog):
    # Code that undoes a failed write (ingest removes its copy) catches SQLAlchemyError.
    from sqlalchemy.exc import SQLAlchemyError

    url, path = sqlite_catalog
    _remove_sqlite(path)
    with pytest.raises(SQLAlchemyError), session_scope(url) as s:
        s.scalar(select(func.count()).select_from(Track))


def test_open_catalog_refuses_a_missing_file_or_an_empty_database_and_creates_nothing(tmp_path):
    missing = tmp_path / "nothing-here.db"
    with pytest.raises(DatabaseNotInitialised, match="does not exist"):
        open_catalog(f"sqlite:///{missing}")
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(DatabaseNotInitialised, match="no catalog tables"):
        open_catalog(f"sqlite:///{empty}")
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_open_catalog_brings_an_existing_catalog_up_to_date(db_url):
    open_catalog(db_url)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Track)) == 0


def test_open_catalog_reports_an_unreachable_server_as_unavailable():
    with pytest.raises(DatabaseUnavailable, match="127.0.0.1") as caught:
        open_catalog("mysql+pymysql://moodtune:hunter2secret@127.0.0.1:1/moodtune")
    assert "hunter2secret" not in str(caught.value)


# ----------------------------------------------------------------------------- the page


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_the_page_refuses_a_removed_catalog_and_a_restart_does_not_recreate_it(tmp_path, monkeypatch):
    db, _ = configure_env(monkeypatch, tmp_path)
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(APP_FILE, default_timeout=60)
        at.run()
        assert not at.exception and not at.error, (at.exception, _errors(at))

        _remove_sqlite(db)
        at.run()  # the next rerun of the same session
        message = _errors(at)
        assert "was removed while the app was running; nothing was saved" in message
        assert "python -m app init-db" in message
        assert not at.success and not at.pills  # the page itself doesn't run
        assert not db.exists()

        dispose_engines()  # a restart of the app
        st.cache_resource.clear()
        at = AppTest.from_file(APP_FILE, default_timeout=60)
        at.run()
        message = _errors(at)
        assert "does not exist" in message and "nothing was created in its place" in message
        assert not db.exists()
    finally:
        st.cache_resource.clear()
        dispose_engines()


# ----------------------------------------------------------------------------- the WAL's sidecar files

# A process that writes a row, has a sidecar deleted under it, tries a second row, and is then
# SIGKILLed (the attack: moodtune.db-wal deleted under the running app, a crash later).
_WAL_ATTACK = """
import os, signal, sys
from pathlib import Path
from catalog_helpers import add
from app.catalog import db
url, path, sidecar, between = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
db.CHECKPOINT_INTERVAL_S = 0.0 if between == "read" else 3600.0
db.init_db(url)
with db.session_scope(url) as s:
    add(s, "Before", 0.5, 0.5)
if between == "read":  # the app's next transaction (a page rerun reads): the checkpoint is due
    with db.session_scope(url) as s:
        s.execute(db.text("SELECT 1"))
os.unlink(f"{path}{sidecar}")
if between != "read":
    try:
        with db.session_scope(url) as s:
            add(s, "After", 0.1, 0.1)
        print("written", flush=True)
    except db.DatabaseReplaced as exc:
        print("refused:", exc, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _wal_attack(tmp_path: Path, sidecar: str, between: str = "write") -> tuple[str, list[str]]:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    path = tmp_path / "attacked.db"
    done = subprocess.run(
        [sys.executable, "-c", _WAL_ATTACK, f"sqlite:///{path}", str(path), sidecar, between],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{repo / 'tests'}"},
    )
    assert done.returncode == -9, done.stderr[-2000:]
    try:
        with sqlite3.connect(path) as conn:
            titles = [row[0] for row in conn.execute("SELECT title FROM tracks ORDER BY title")]
    except sqlite3.OperationalError:  # no tracks table: the schema itself was only in the WAL
        titles = []
    return done.stdout.strip(), titles


@pytest.mark.parametrize("sidecar", ["-wal", "-shm"])
def test_a_deleted_wal_sidecar_refuses_writes_and_loses_nothing_written_before(tmp_path, sidecar):
    said, titles = _wal_attack(tmp_path, sidecar)
    assert said.startswith("refused:") and f"attacked.db{sidecar} was removed" in said, said
    assert "nothing was saved" in said
    if sidecar == "-wal":
        assert titles == ["Before"]  # rescued from the unlinked WAL into the main file


def test_a_crash_right_after_the_wal_is_deleted_loses_only_the_last_seconds(tmp_path):
    _, titles = _wal_attack(tmp_path, "-wal", between="read")
    assert titles == ["Before"]  # checkpointed by the transaction after it


def test_a_catalog_switched_out_of_wal_mode_under_the_app_refuses_writes(sqlite_catalog):
    from app.catalog.db import get_engine

    url, _ = sqlite_catalog
    raw = get_engine(url).raw_connection()  # the app's own pooled connection, switched by a tool
    try:
        assert raw.driver_connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    finally:
        raw.close()  # back to the pool, still in DELETE mode
    with pytest.raises(DatabaseReplaced, match="nothing was saved"), session_scope(url) as s:
        add(s, "Into a journal that a crash can tear", 0.2, 0.2)
