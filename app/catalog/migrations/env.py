"""Alembic's environment for the catalog: runs on the connection `app.catalog.migrate` hands
over (init-db, the app's start), or, for the `alembic` command (new revisions), on DATABASE_URL."""

from __future__ import annotations

from alembic import context

from app.catalog.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from app.catalog.db import get_engine

    with get_engine().connect() as opened:
        _run(opened)
