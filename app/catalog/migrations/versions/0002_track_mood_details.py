"""Tracks' confidence, mood timeline and where the mood ends (added before migrations began:
a catalog from then may lack them; older tags get NULL until they are re-tagged).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDED = {
    "confidence": "ALTER TABLE tracks ADD COLUMN confidence FLOAT",
    "mood_timeline": "ALTER TABLE tracks ADD COLUMN mood_timeline JSON",
    "end_valence": "ALTER TABLE tracks ADD COLUMN end_valence FLOAT",
    "end_arousal": "ALTER TABLE tracks ADD COLUMN end_arousal FLOAT",
}


def upgrade() -> None:
    bind = op.get_bind()
    present = {c["name"] for c in sa.inspect(bind).get_columns("tracks")}
    for name, ddl in ADDED.items():
        if name not in present:
            op.execute(ddl)
    if "end_valence" not in present:
        _store_track_endings(bind)


def _store_track_endings(bind: sa.Connection) -> None:
    """Where each track with a timeline ends (once, when the columns arrive)."""
    from app.catalog.timeline import end_mood

    tracks = sa.table(
        "tracks",
        sa.column("id"),
        sa.column("mood_timeline", sa.JSON),
        sa.column("end_valence"),
        sa.column("end_arousal"),
    )
    rows = bind.execute(sa.select(tracks.c.id, tracks.c.mood_timeline).where(tracks.c.mood_timeline.is_not(None))).all()
    for track_id, points in rows:
        if points:
            end_v, end_a = end_mood(points)
            bind.execute(tracks.update().where(tracks.c.id == track_id).values(end_valence=end_v, end_arousal=end_a))


def downgrade() -> None:
    for name in reversed(ADDED):
        with op.batch_alter_table("tracks") as batch:
            batch.drop_column(name)
