"""Schema migrations (Alembic, app/catalog/migrations): `init-db` brings a database made by any
earlier version to the schema the ORM describes, on SQLite and MariaDB, and keeps its data."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from catalog_helpers import add, as_an_older_version
from sqlalchemy import create_engine, select

from app.catalog.db import MIGRATIONS_DIR, _alembic_config, dispose_engines, init_db, schema_revision, session_scope
from app.catalog.models import Base, ListeningDaily, ListeningEvent, Track
from app.cli import main

SCRIPTS = ScriptDirectory(str(MIGRATIONS_DIR))
HEAD = SCRIPTS.get_current_head()
REVISIONS = [r.revision for r in reversed(list(SCRIPTS.walk_revisions()))]  # oldest first


def _differences(url: str) -> list:
    """What the database lacks or has beyond the ORM's schema (empty: they match)."""
    dispose_engines()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()


def test_a_new_database_gets_exactly_the_schema_the_orm_describes(db_url):
    # db_url ran init_db: a model change without its revision shows up here as a difference.
    assert _differences(db_url) == []
    assert schema_revision(db_url) == HEAD


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_init_db_upgrades_a_database_at_each_earlier_revision(db_url, revision):
    engine = create_engine(db_url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        command.upgrade(_alembic_config(conn), revision)
    engine.dispose()
    assert schema_revision(db_url) == revision
    assert main(["init-db"]) == 0
    assert schema_revision(db_url) == HEAD and _differences(db_url) == []


def test_a_catalog_from_before_migrations_is_brought_up_to_date_and_keeps_its_data(db_url):
    with session_scope(db_url) as s:
        track = add(s, "Old Song", 0.6, 0.5)
        s.add(ListeningEvent(session_id="old", track_id=track.id, action="liked", strategy="lift"))
    # The oldest schema the hand-written upgrades knew: none of what they added.
    as_an_older_version(
        db_url,
        indexes={"tracks": ["ix_tracks_confidence"], "listening_events": ["ix_listening_action_track_time"]},
        tables=("listening_daily", "listening_session_days", "mood_hourly", "listener_sessions"),
        columns={
            "tracks": ["confidence", "mood_timeline", "end_valence", "end_arousal"],
            "listening_events": ["quadrant", "position_s", "completed"],
        },
    )
    assert schema_revision(db_url) is None and _differences(db_url) != []

    init_db(db_url)
    assert schema_revision(db_url) == HEAD and _differences(db_url) == []
    with session_scope(db_url) as s:
        assert s.scalars(select(Track.title)).all() == ["Old Song"]
        assert s.scalars(select(ListeningEvent.quadrant)).all() == ["Q1"]  # filled from the track's tag
        assert sum(s.scalars(select(ListeningDaily.events))) == 1  # the rollups rebuilt from the events
