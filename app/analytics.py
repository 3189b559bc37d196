"""Aggregate queries for the analytics page. Every number is computed by the database
(GROUP BY / COUNT through SQLAlchemy); only the small aggregated result reaches Python, so the
page stays fast on a catalog of a million tracks and ten million events.

Every function takes an open Session and an optional date range: ``start`` and ``end`` are
dates, both inclusive, applied to the rows' ``created_at`` (when the track was added, when the
listener acted, when the mood was read). Timestamps are naive UTC, as stored.

Rates: a track the listener moved on from is either *played* (they pressed Next) or *skipped*;
``like_rate = liked / (played + skipped)`` and ``skip_rate = skipped / (played + skipped)``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.catalog.models import ListeningEvent, MoodEvent, Track
from app.emotions import FACE_LABELS, QUADRANT_NAMES, QUADRANTS, STRATEGIES

CURATOR = "curator"
SCATTER_LIMIT = 5000


def _range(column, start: date | None, end: date | None) -> list:
    conditions = []
    if start is not None:
        conditions.append(column >= datetime.combine(start, time.min))
    if end is not None:
        conditions.append(column < datetime.combine(end + timedelta(days=1), time.min))
    return conditions


def date_bounds(session: Session) -> tuple[date, date] | None:
    """Earliest and latest day with any track or event (uses the created_at indexes)."""
    lows, highs = [], []
    for model in (Track, ListeningEvent, MoodEvent):
        lo, hi = session.execute(select(func.min(model.created_at), func.max(model.created_at))).one()
        if lo is not None:
            lows.append(lo)
            highs.append(hi)
    if not lows:
        return None
    return min(lows).date(), max(highs).date()


# ----------------------------------------------------------------------------- catalog


def tracks_per_quadrant(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    rows = dict(
        session.execute(
            select(Track.quadrant, func.count()).where(*_range(Track.created_at, start, end)).group_by(Track.quadrant)
        ).all()
    )
    return pd.DataFrame(
        {"quadrant": list(QUADRANTS), "mood": [QUADRANT_NAMES[q] for q in QUADRANTS],
         "tracks": [int(rows.get(q, 0)) for q in QUADRANTS]}
    )


def tagged_by_source(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """How many tracks the model tagged and how many a curator set."""
    source = case((Track.tagged_by == CURATOR, "curator"), else_="model")
    rows = dict(
        session.execute(
            select(source, func.count()).where(*_range(Track.created_at, start, end)).group_by(source)
        ).all()
    )
    return pd.DataFrame({"tagged_by": ["model", "curator"], "tracks": [int(rows.get("model", 0)), int(rows.get("curator", 0))]})


def va_scatter(
    session: Session, start: date | None = None, end: date | None = None, limit: int = SCATTER_LIMIT
) -> pd.DataFrame:
    """Valence/arousal of the tracks, for a scatter plot. A big catalog is thinned to about
    ``limit`` points by taking every k-th id (deterministic, and the database does the work)."""
    where = _range(Track.created_at, start, end)
    total = int(session.scalar(select(func.count()).select_from(Track).where(*where)) or 0)
    stmt = select(Track.id, Track.title, Track.artist, Track.quadrant, Track.valence, Track.arousal, Track.tagged_by).where(*where)
    if total > limit:
        step = math.ceil(total / limit)
        stmt = stmt.where(Track.id % step == 0)
    rows = session.execute(stmt.order_by(Track.id).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["id", "title", "artist", "quadrant", "valence", "arousal", "tagged_by"])
    frame.attrs["total"] = total
    return frame


# ----------------------------------------------------------------------------- listening


def _bucket(session: Session, column, granularity: str):
    if granularity not in ("hour", "day"):
        raise ValueError("granularity must be 'hour' or 'day'")
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:00" if granularity == "hour" else "%Y-%m-%d", column)
    if dialect in ("mysql", "mariadb"):
        return func.date_format(column, "%Y-%m-%d %H:00" if granularity == "hour" else "%Y-%m-%d")
    return func.to_char(column, "YYYY-MM-DD HH24:00" if granularity == "hour" else "YYYY-MM-DD")


def emotions_over_time(
    session: Session, start: date | None = None, end: date | None = None, granularity: str = "day"
) -> pd.DataFrame:
    """Detected emotions per hour or day: count and share of that period's readings."""
    bucket = _bucket(session, MoodEvent.created_at, granularity).label("period")
    rows = session.execute(
        select(bucket, MoodEvent.label, func.count())
        .where(*_range(MoodEvent.created_at, start, end))
        .group_by(bucket, MoodEvent.label)
        .order_by(bucket, MoodEvent.label)
    ).all()
    frame = pd.DataFrame(rows, columns=["period", "emotion", "count"])
    if frame.empty:
        frame["share"] = pd.Series(dtype=float)
        return frame
    frame["count"] = frame["count"].astype(int)
    frame["share"] = frame["count"] / frame.groupby("period")["count"].transform("sum")
    order = {label: i for i, label in enumerate(FACE_LABELS)}
    return frame.sort_values(["period", "emotion"], key=lambda s: s.map(order) if s.name == "emotion" else s).reset_index(drop=True)


def strategies_used(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Listening events and distinct listener sessions per strategy."""
    rows = session.execute(
        select(ListeningEvent.strategy, func.count(), func.count(ListeningEvent.session_id.distinct()))
        .where(*_range(ListeningEvent.created_at, start, end), ListeningEvent.strategy.is_not(None))
        .group_by(ListeningEvent.strategy)
    ).all()
    by_strategy = {str(s): (int(n), int(sessions)) for s, n, sessions in rows}
    names = list(STRATEGIES) + sorted(s for s in by_strategy if s not in STRATEGIES)
    return pd.DataFrame(
        {
            "strategy": names,
            "events": [by_strategy.get(s, (0, 0))[0] for s in names],
            "sessions": [by_strategy.get(s, (0, 0))[1] for s in names],
        }
    )


def _rates(frame: pd.DataFrame, key: str, keys: list[str]) -> pd.DataFrame:
    table = frame.pivot_table(index=key, columns="action", values="n", aggfunc="sum", fill_value=0) if not frame.empty else pd.DataFrame()
    out = pd.DataFrame({key: keys})
    for action in ("played", "liked", "skipped"):
        out[action] = [int(table.at[k, action]) if (not table.empty and k in table.index and action in table.columns) else 0 for k in keys]
    finished = out["played"] + out["skipped"]
    out["like_rate"] = (out["liked"] / finished).where(finished > 0)
    out["skip_rate"] = (out["skipped"] / finished).where(finished > 0)
    return out


def feedback_by_quadrant(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    rows = session.execute(
        select(Track.quadrant, ListeningEvent.action, func.count())
        .join(Track, Track.id == ListeningEvent.track_id)
        .where(*_range(ListeningEvent.created_at, start, end))
        .group_by(Track.quadrant, ListeningEvent.action)
    ).all()
    return _rates(pd.DataFrame(rows, columns=["quadrant", "action", "n"]), "quadrant", list(QUADRANTS))


def feedback_by_strategy(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    rows = session.execute(
        select(ListeningEvent.strategy, ListeningEvent.action, func.count())
        .where(*_range(ListeningEvent.created_at, start, end), ListeningEvent.strategy.is_not(None))
        .group_by(ListeningEvent.strategy, ListeningEvent.action)
    ).all()
    return _rates(pd.DataFrame(rows, columns=["strategy", "action", "n"]), "strategy", list(STRATEGIES))


def most_liked_tracks(
    session: Session, start: date | None = None, end: date | None = None, limit: int = 10
) -> pd.DataFrame:
    likes = func.count().label("likes")
    top = (
        select(ListeningEvent.track_id, likes)
        .where(ListeningEvent.action == "liked", *_range(ListeningEvent.created_at, start, end))
        .group_by(ListeningEvent.track_id)
        .order_by(likes.desc(), ListeningEvent.track_id)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(top.c.track_id, Track.title, Track.artist, Track.quadrant, top.c.likes)
        .join(Track, Track.id == top.c.track_id)
        .order_by(top.c.likes.desc(), top.c.track_id)
    ).all()
    frame = pd.DataFrame(rows, columns=["track_id", "title", "artist", "quadrant", "likes"])
    frame["likes"] = frame["likes"].astype(int)
    return frame


def summary(session: Session, start: date | None = None, end: date | None = None) -> dict[str, int]:
    """Headline counts for the date range."""
    return {
        "tracks": int(session.scalar(select(func.count()).select_from(Track).where(*_range(Track.created_at, start, end))) or 0),
        "listening_events": int(session.scalar(select(func.count()).select_from(ListeningEvent).where(*_range(ListeningEvent.created_at, start, end))) or 0),
        "mood_events": int(session.scalar(select(func.count()).select_from(MoodEvent).where(*_range(MoodEvent.created_at, start, end))) or 0),
        "sessions": int(session.scalar(select(func.count(ListeningEvent.session_id.distinct())).where(*_range(ListeningEvent.created_at, start, end))) or 0),
    }
