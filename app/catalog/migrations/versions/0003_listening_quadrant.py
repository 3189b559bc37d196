"""Each listening event's quadrant, filled from its track's tag at the time of the upgrade
(added before migrations began).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "quadrant" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("listening_events")}:
        return
    op.execute("ALTER TABLE listening_events ADD COLUMN quadrant VARCHAR(2)")
    events = sa.table("listening_events", sa.column("track_id"), sa.column("quadrant"))
    tracks = sa.table("tracks", sa.column("id"), sa.column("quadrant"))
    op.execute(
        events.update().values(
            quadrant=sa.select(tracks.c.quadrant).where(tracks.c.id == events.c.track_id).scalar_subquery()
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("listening_events") as batch:
        batch.drop_column("quadrant")
