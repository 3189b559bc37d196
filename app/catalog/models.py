"""Catalog schema (SQLAlchemy 2.0 ORM). `sql/mysql_schema.sql` mirrors it exactly.

No image or video frame is ever stored: only mood numbers with an anonymous session id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import false

from app.catalog import timeline as timeline_mood

# The valence–arousal plane [-1, 1]² is cut into GRID x GRID cells; `Track.va_cell` stores the
# cell so the recommender can pre-filter candidates with an index range instead of a full scan.
GRID = 20
CELL_SIZE = 2.0 / GRID

# What a listening event records (ListeningEvent.action):
# - started: the player began playing the track (position_s where it began);
# - completed: it played to its end; skipped: the listener moved on before the end (position_s
#   where it was playing, NULL when it never played, as when skipped from the queue);
# - paused: paused at position_s; liked: the listener liked it, playing or not;
# - played: heard and moved on, with no position from a player: the scripted `session` command,
#   and every play recorded before the player reported from the audio (the old Next button). It
#   keeps that meaning rather than being migrated, so old rows and the rollups stay true.
# "disliked" is the listener's "not for me": a verdict on the track, beside the skip it also is.
ACTIONS: tuple[str, ...] = ("played", "liked", "skipped", "started", "completed", "paused", "disliked")
# Each track the listener moved on from ends in exactly one of these: the denominator of the
# like and skip rates, old rows and new alike.
OUTCOMES: tuple[str, ...] = ("played", "completed", "skipped")
# What a session has heard (or refused) and shouldn't be offered again.
HEARD: tuple[str, ...] = ("played", "started", "completed", "skipped")


def grid_index(x: float) -> int:
    """Column/row of a coordinate in [-1, 1] on the GRID (values outside are clamped)."""
    return min(GRID - 1, max(0, math.floor((x + 1.0) / CELL_SIZE)))


def va_cell_of(valence: float, arousal: float) -> int:
    return grid_index(arousal) * GRID + grid_index(valence)


def utcnow() -> datetime:
    # Naive UTC: MySQL DATETIME has no zone, and SQLite would drop it anyway.
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


# MySQL/MariaDB: InnoDB for transactions and foreign keys, utf8mb4 so any title fits.
MYSQL_TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


class Track(Base):
    __tablename__ = "tracks"
    __table_args__ = (
        UniqueConstraint("sha256", name="uq_tracks_sha256"),
        # Recommendation pre-filter: cell lookup, and covering for the distance ordering.
        Index("ix_tracks_va_cell", "va_cell", "valence", "arousal"),
        Index("ix_tracks_quadrant_va", "quadrant", "valence", "arousal"),
        Index("ix_tracks_artist", "artist"),
        Index("ix_tracks_created_at", "created_at"),
        # Analytics: per-quadrant and per-source counts over a date range read these alone
        # (index-only, already grouped) instead of a million table rows.
        Index("ix_tracks_quadrant_time", "quadrant", "created_at"),
        Index("ix_tracks_tagged_by_time", "tagged_by", "created_at"),
        # Curate's "needs review": the least sure model tags first, without a table scan.
        Index("ix_tracks_confidence", "confidence"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255))
    artist: Mapped[str] = mapped_column(String(255))
    album: Mapped[str | None] = mapped_column(String(255))
    duration_s: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    media_path: Mapped[str] = mapped_column(String(255))  # relative to the media dir
    format: Mapped[str] = mapped_column(String(16))  # sniffed container: wav, flac, mp3, ogg, ...
    quadrant: Mapped[str] = mapped_column(String(2))
    valence: Mapped[float] = mapped_column(Float)
    arousal: Mapped[float] = mapped_column(Float)
    prob_q1: Mapped[float] = mapped_column(Float)
    prob_q2: Mapped[float] = mapped_column(Float)
    prob_q3: Mapped[float] = mapped_column(Float)
    prob_q4: Mapped[float] = mapped_column(Float)
    tagged_by: Mapped[str] = mapped_column(String(64))  # "model:<version>" or "curator"
    # The model's confidence in its tag, 0..1 (NULL for a curator's tag or one made before
    # confidences were stored), and its mood segment by segment over the whole track:
    # [[start_s, end_s, valence, arousal], ...] (NULL when not computed from audio).
    confidence: Mapped[float | None] = mapped_column(Float)
    mood_timeline: Mapped[list[list[float]] | None] = mapped_column(JSON)
    # Where the track leaves the listener: its timeline's mood over the last EDGE_S seconds (NULL
    # without a timeline), kept beside it so that ranking needn't read and parse the timeline.
    end_valence: Mapped[float | None] = mapped_column(Float)
    end_arousal: Mapped[float | None] = mapped_column(Float)
    va_cell: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    events: Mapped[list[ListeningEvent]] = relationship(
        back_populates="track", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def probabilities(self) -> dict[str, float]:
        return {"Q1": self.prob_q1, "Q2": self.prob_q2, "Q3": self.prob_q3, "Q4": self.prob_q4}

    def set_mood(
        self,
        quadrant: str,
        valence: float,
        arousal: float,
        probabilities: dict[str, float],
        *,
        confidence: float | None = None,
        timeline: Iterable[Sequence[float]] | None = None,
    ) -> None:
        """Set the mood fields together so the grid cell always matches valence/arousal.

        `confidence` belongs to the tag: None (NULL) when a person set it. `timeline` belongs to
        the audio, [(start_s, end_s, valence, arousal), ...], and with it where the track ends:
        None keeps the stored ones, so a curator's override leaves them as the model heard them
        (an empty one is stored as NULL)."""
        self.quadrant = quadrant
        self.valence = float(valence)
        self.arousal = float(arousal)
        self.prob_q1, self.prob_q2, self.prob_q3, self.prob_q4 = (
            float(probabilities.get(q, 0.0)) for q in ("Q1", "Q2", "Q3", "Q4")
        )
        self.va_cell = va_cell_of(self.valence, self.arousal)
        self.confidence = None if confidence is None else float(confidence)
        if timeline is not None:
            points = [[float(x) for x in point] for point in timeline]
            self.mood_timeline = points or None
            self.end_valence, self.end_arousal = timeline_mood.end_mood(points) if points else (None, None)

    def __repr__(self) -> str:
        return f"Track(id={self.id!r}, title={self.title!r}, artist={self.artist!r}, quadrant={self.quadrant!r})"


class ListeningEvent(Base):
    __tablename__ = "listening_events"
    __table_args__ = (
        Index("ix_listening_session_time", "session_id", "created_at"),
        Index("ix_listening_track_action", "track_id", "action"),
        Index("ix_listening_time_action", "created_at", "action"),
        # Most-liked tracks: the liked events in track order, filtered on time inside the index.
        Index("ix_listening_action_track_time", "action", "track_id", "created_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE", name="fk_listening_track"))
    action: Mapped[str] = mapped_column(String(16))  # one of ACTIONS
    strategy: Mapped[str | None] = mapped_column(String(16))
    # The track's quadrant when it was played: feedback per mood is about what the listener
    # heard, and a later re-tag doesn't rewrite history (nor the rollup below).
    quadrant: Mapped[str | None] = mapped_column(String(2))
    emotion: Mapped[str | None] = mapped_column(String(16))  # detected label at that time
    valence: Mapped[float | None] = mapped_column(Float)
    arousal: Mapped[float | None] = mapped_column(Float)
    # Where in the track it happened, in seconds, as the player reported it (NULL when no player
    # was involved), and whether the track had played to its end by then. The server default
    # lets the upgrade add the column to a table that already has rows.
    position_s: Mapped[float | None] = mapped_column(Float)
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    track: Mapped[Track] = relationship(back_populates="events")


class MoodEvent(Base):
    __tablename__ = "mood_events"
    __table_args__ = (
        Index("ix_mood_session_time", "session_id", "created_at"),
        Index("ix_mood_time_label", "created_at", "label"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64))
    distribution: Mapped[dict[str, Any]] = mapped_column(JSON)  # face label -> probability
    label: Mapped[str] = mapped_column(String(16))
    valence: Mapped[float] = mapped_column(Float)
    arousal: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MoodResponse(Base):
    """How the listener's smoothed camera mood moved while one track played: one row per track
    that played with the camera on (a manual mood is what the listener said, not a response).
    The recommender's mood-response reward and Analytics' "Did it work?" read these."""

    __tablename__ = "mood_responses"
    __table_args__ = (
        # Covering indexes: the recommender's per-track evidence and Analytics' "Did it work?"
        # (per strategy or per track over a date range) read the mood changes from the index alone.
        Index(
            "ix_mood_response_track_stats",
            "track_id",
            "created_at",
            "valence_start",
            "valence_end",
            "arousal_start",
            "arousal_end",
        ),
        Index(
            "ix_mood_response_strategy_stats",
            "strategy",
            "created_at",
            "valence_start",
            "valence_end",
            "arousal_start",
            "arousal_end",
        ),
        # The recommender reads a session's own responses, and Forget deletes them, by session.
        Index("ix_mood_response_session", "session_id", "created_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE", name="fk_mood_response_track"))
    strategy: Mapped[str] = mapped_column(String(16))  # match | lift | calm
    valence_start: Mapped[float] = mapped_column(Float)
    arousal_start: Mapped[float] = mapped_column(Float)
    valence_end: Mapped[float] = mapped_column(Float)
    arousal_end: Mapped[float] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(Integer)  # camera readings between start and end
    listened_s: Mapped[float] = mapped_column(Float)  # seconds of the track that played
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ----------------------------------------------------------------------------- rollups
# The analytics page reads these instead of scanning ten million events. `app.catalog.rollups`
# keeps them in step with the event tables in the same transaction as every write, and can
# rebuild them from the event tables after a bulk load.


class ListeningDaily(Base):
    """Listening events counted per day, strategy ('' for none), quadrant when played and action."""

    __tablename__ = "listening_daily"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(16), primary_key=True)
    quadrant: Mapped[str] = mapped_column(String(2), primary_key=True)
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class ListeningSessionDay(Base):
    """Which listener sessions listened on which day with which strategy: distinct sessions over
    a date range come from here (a few rows per session instead of one per event). The key
    leads with session_id and the index with (strategy, session_id), so counting distinct
    sessions reads an index already in that order."""

    __tablename__ = "listening_session_days"
    __table_args__ = (Index("ix_session_days_strategy", "strategy", "session_id", "day"), MYSQL_TABLE_OPTIONS)

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    strategy: Mapped[str] = mapped_column(String(16), primary_key=True)


class MoodHourly(Base):
    """Mood readings counted per day, hour (UTC) and detected label."""

    __tablename__ = "mood_hourly"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    label: Mapped[str] = mapped_column(String(16), primary_key=True)
    readings: Mapped[int] = mapped_column(Integer)


# ----------------------------------------------------------------------------- listener sessions


class ListenerSessionState(Base):
    """The snapshot of one anonymous listener session (mood source and readings, lock, what
    plays and where, up next, history, liked), so a reload or a second tab picks it up again.
    `app.listening.persistence` writes and reads it; it names no person and holds no image."""

    __tablename__ = "listener_sessions"
    __table_args__ = (Index("ix_listener_sessions_updated", "updated_at"), MYSQL_TABLE_OPTIONS)

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 32 lowercase hex
    state: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
