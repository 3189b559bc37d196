"""Where the player was and whether the track was heard to the end (added before migrations
began: events recorded before them get NULL / false, no player reported a position).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ADDED = {
    "position_s": "ALTER TABLE listening_events ADD COLUMN position_s FLOAT",
    "completed": "ALTER TABLE listening_events ADD COLUMN completed BOOLEAN NOT NULL DEFAULT FALSE",
}


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("listening_events")}
    for name, ddl in ADDED.items():
        if name not in present:
            op.execute(ddl)


def downgrade() -> None:
    for name in reversed(ADDED):
        with op.batch_alter_table("listening_events") as batch:
            batch.drop_column(name)
