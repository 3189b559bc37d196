"""The analytics rollups of a catalog that listened before they existed: rebuilt from its
events when the rollup tables (created empty by the baseline) hold nothing yet.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    has_events = bind.execute(sa.text("SELECT 1 FROM listening_events LIMIT 1")).first() is not None
    has_rollups = bind.execute(sa.text("SELECT 1 FROM listening_daily LIMIT 1")).first() is not None
    if has_events and not has_rollups:
        # The rollups' own rebuild (the one the analytics code maintains), on this connection.
        from sqlalchemy.orm import Session

        from app.catalog import rollups

        with Session(bind=bind) as session:
            rollups.rebuild(session)
            session.flush()


def downgrade() -> None:
    pass  # the rollups stay: they are derived data
