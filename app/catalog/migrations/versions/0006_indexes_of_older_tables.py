"""Indexes added to tables that already existed before migrations began (without them the
queries stay right but get slow); the baseline creates them only with the tables it creates.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {  # table -> {index name: columns}, as the baseline creates them
    "listener_sessions": {"ix_listener_sessions_updated": ["updated_at"]},
    "listening_session_days": {"ix_session_days_strategy": ["strategy", "session_id", "day"]},
    "mood_events": {
        "ix_mood_session_time": ["session_id", "created_at"],
        "ix_mood_time_label": ["created_at", "label"],
    },
    "tracks": {
        "ix_tracks_artist": ["artist"],
        "ix_tracks_confidence": ["confidence"],
        "ix_tracks_created_at": ["created_at"],
        "ix_tracks_quadrant_time": ["quadrant", "created_at"],
        "ix_tracks_quadrant_va": ["quadrant", "valence", "arousal"],
        "ix_tracks_tagged_by_time": ["tagged_by", "created_at"],
        "ix_tracks_va_cell": ["va_cell", "valence", "arousal"],
    },
    "listening_events": {
        "ix_listening_action_track_time": ["action", "track_id", "created_at"],
        "ix_listening_session_time": ["session_id", "created_at"],
        "ix_listening_time_action": ["created_at", "action"],
        "ix_listening_track_action": ["track_id", "action"],
    },
    "mood_responses": {
        "ix_mood_response_session": ["session_id", "created_at"],
        "ix_mood_response_strategy_stats": [
            "strategy", "created_at", "valence_start", "valence_end", "arousal_start", "arousal_end"
        ],
        "ix_mood_response_track_stats": [
            "track_id", "created_at", "valence_start", "valence_end", "arousal_start", "arousal_end"
        ],
    },
}  # fmt: skip


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, indexes in INDEXES.items():
        present = {ix["name"] for ix in inspector.get_indexes(table)}
        for name, columns in indexes.items():
            if name not in present:
                op.create_index(name, table, columns)


def downgrade() -> None:
    pass  # the baseline's own indexes: dropped with their tables
