"""Aggregate queries for the analytics page. Every number is computed by the database
(GROUP BY / COUNT through SQLAlchemy); only the small aggregated result reaches Python. Track
counts read covering indexes; listening and mood figures read the rollups in
`app.catalog.rollups` (per day, per hour), so the page stays fast on a catalog of a million
tracks and ten million events (`python -m app bench --events 10000000` measures it).

The query functions take an open Session and an optional date range; ``dashboard`` and
``recorded_range`` open their own, for the Analytics page. ``start`` and ``end`` are dates,
both inclusive, applied to the rows' ``created_at`` (when the track was added, when the
listener acted, when the mood was read). Timestamps are naive UTC, as stored.

Rates: a track the listener moved on from ends in exactly one of ``OUTCOMES`` (*completed*,
*skipped*, or *played*: heard and moved on with no position from the player, as before the
player reported from the audio); ``moved_on`` counts them, ``skip_rate = skipped / moved_on``
and ``like_rate = min(liked, moved_on) / moved_on``. A like needn't follow a play (a listener can
like a queued track, or the one still playing), and the daily counts don't pair a like with
its track's outcome, so the like rate is capped at 1 rather than left to exceed it
(``likes_capped`` counts the likes the cap leaves out). Under ``MIN_MOVED_ON`` tracks a group's rates are
None ("not enough data yet"): a handful of plays would otherwise show as 0 % or 100 %.
*started* counts plays the player began.

"Did it work?": each ``MoodResponse`` is how the listener's camera mood moved while one track
played (Δ = end − start, valence and arousal). Per strategy and per track the database sums Δ and
Δ² so only a few numbers reach Python; the mean's 95 % interval is Student's t on those sums.
Under ``MIN_RESPONSES`` responses a group shows no mean ("not enough data yet"), as for rates.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from scipy import stats
from sqlalchemy import func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from app.catalog.db import session_scope
from app.catalog.models import (
    ACTIONS,
    OUTCOMES,
    ListeningDaily,
    ListeningEvent,
    ListeningSessionDay,
    MoodEvent,
    MoodHourly,
    MoodResponse,
    Track,
)
from app.catalog.repository import CURATOR
from app.catalog.rollups import NO_QUADRANT, NO_STRATEGY, as_date
from app.emotions import FACE_LABELS, QUADRANT_NAMES, QUADRANTS, STRATEGIES

SCATTER_LIMIT = 5000
# Fewer tracks moved on from than this in a group and its rates are not shown.
MIN_MOVED_ON = 10
# Fewer mood responses than this in a group (a strategy, a track) and its mean change is not shown.
MIN_RESPONSES = 10


class unindexed(FunctionElement):
    """A column, marked so SQLite's planner doesn't pick an index for this one condition
    (rendered `+column`, SQLite's documented way; other databases get the plain column, their
    planners estimate ranges). Without it SQLite reads every track row through the created_at
    index for a date range spanning the whole catalog, many times slower than scanning the
    covering (quadrant, created_at) index (`python -m app bench --explain` shows the plans)."""

    inherit_cache = True

    def __init__(self, column) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain_column(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _sqlite_unindexed(element, compiler, **kw) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def _range(column, start: date | None, end: date | None) -> list:
    conditions = []
    if start is not None:
        conditions.append(column >= datetime.combine(start, time.min))
    if end is not None:
        conditions.append(column < datetime.combine(end + timedelta(days=1), time.min))
    return conditions


def _day_range(column, start: date | None, end: date | None) -> list:
    """The same inclusive range on a rollup's DATE column."""
    return ([column >= start] if start is not None else []) + ([column <= end] if end is not None else [])


def date_bounds(session: Session) -> tuple[date, date] | None:
    """Earliest and latest day with any track or event. One MIN or MAX per query: SQLite reads
    those from the end of the created_at index, but scans the table for both in one SELECT."""
    lows, highs = [], []
    for model in (Track, ListeningEvent, MoodEvent):
        lo = session.scalar(select(func.min(model.created_at)))
        if lo is not None:
            lows.append(lo)
            highs.append(session.scalar(select(func.max(model.created_at))))
    if not lows:
        return None
    return min(lows).date(), max(highs).date()


# ----------------------------------------------------------------------------- catalog


def tracks_per_quadrant(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    rows = dict(
        session.execute(
            select(Track.quadrant, func.count())
            .where(*_range(unindexed(Track.created_at), start, end))
            .group_by(Track.quadrant)
        ).all()
    )
    return pd.DataFrame(
        {
            "quadrant": list(QUADRANTS),
            "mood": [QUADRANT_NAMES[q] for q in QUADRANTS],
            "tracks": [int(rows.get(q, 0)) for q in QUADRANTS],
        }
    )


def tagged_by_source(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """How many tracks the model tagged and how many a curator set."""
    # Grouped by the raw column (a few model versions and "curator"), which the
    # (tagged_by, created_at) index delivers already grouped; folded into two groups here.
    rows = session.execute(
        select(Track.tagged_by, func.count())
        .where(*_range(unindexed(Track.created_at), start, end))
        .group_by(Track.tagged_by)
    ).all()
    curator = sum(int(n) for source, n in rows if source == CURATOR)
    model = sum(int(n) for source, n in rows if source != CURATOR)
    return pd.DataFrame({"tagged_by": ["model", "curator"], "tracks": [model, curator]})


def va_scatter(
    session: Session, start: date | None = None, end: date | None = None, limit: int = SCATTER_LIMIT
) -> pd.DataFrame:
    """Valence/arousal of the tracks, for a scatter plot. A big catalog is thinned to about
    ``limit`` points by taking every k-th id (deterministic, and the database does the work)."""
    where = _range(Track.created_at, start, end)
    total = int(session.scalar(select(func.count()).select_from(Track).where(*where)) or 0)
    stmt = select(
        Track.id, Track.title, Track.artist, Track.quadrant, Track.valence, Track.arousal, Track.tagged_by
    ).where(*where)
    if total > limit:
        step = math.ceil(total / limit)
        stmt = stmt.where(Track.id % step == 0)
    rows = session.execute(stmt.order_by(Track.id).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["id", "title", "artist", "quadrant", "valence", "arousal", "tagged_by"])
    frame.attrs["total"] = total
    return frame


# ----------------------------------------------------------------------------- listening


def emotions_over_time(
    session: Session, start: date | None = None, end: date | None = None, granularity: str = "day"
) -> pd.DataFrame:
    """Detected emotions per hour or day: count and share of that period's readings."""
    if granularity not in ("hour", "day"):
        raise ValueError("granularity must be 'hour' or 'day'")
    keys = [MoodHourly.day] + ([MoodHourly.hour] if granularity == "hour" else [])
    rows = session.execute(
        select(*keys, MoodHourly.label, func.sum(MoodHourly.readings))
        .where(*_day_range(MoodHourly.day, start, end))
        .group_by(*keys, MoodHourly.label)
    ).all()
    if granularity == "hour":
        rows = [(f"{as_date(day).isoformat()} {int(hour):02d}:00", label, n) for day, hour, label, n in rows]
    else:
        rows = [(as_date(day).isoformat(), label, n) for day, label, n in rows]
    frame = pd.DataFrame(rows, columns=["period", "emotion", "count"])
    if frame.empty:
        frame["share"] = pd.Series(dtype=float)
        return frame
    frame["count"] = frame["count"].astype(int)
    frame["share"] = frame["count"] / frame.groupby("period")["count"].transform("sum")
    order = {label: i for i, label in enumerate(FACE_LABELS)}
    return frame.sort_values(
        ["period", "emotion"], key=lambda s: s.map(order) if s.name == "emotion" else s
    ).reset_index(drop=True)


def strategies_used(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Listening events and distinct listener sessions per strategy."""
    days = _day_range(ListeningDaily.day, start, end)
    events = dict(
        session.execute(
            select(ListeningDaily.strategy, func.sum(ListeningDaily.events))
            .where(*days, ListeningDaily.strategy != NO_STRATEGY)
            .group_by(ListeningDaily.strategy)
        ).all()
    )
    pairs = (
        select(ListeningSessionDay.strategy, ListeningSessionDay.session_id)
        .where(*_day_range(ListeningSessionDay.day, start, end), ListeningSessionDay.strategy != NO_STRATEGY)
        .group_by(ListeningSessionDay.strategy, ListeningSessionDay.session_id)
        .subquery()
    )
    sessions = dict(session.execute(select(pairs.c.strategy, func.count()).group_by(pairs.c.strategy)).all())
    names = list(STRATEGIES) + sorted(s for s in events if s not in STRATEGIES)
    return pd.DataFrame(
        {
            "strategy": names,
            "events": [int(events.get(s) or 0) for s in names],
            "sessions": [int(sessions.get(s) or 0) for s in names],
        }
    )


def _rates(frame: pd.DataFrame, key: str, keys: list[str]) -> pd.DataFrame:
    table = (
        frame.pivot_table(index=key, columns="action", values="n", aggfunc="sum", fill_value=0)
        if not frame.empty
        else pd.DataFrame()
    )
    out = pd.DataFrame({key: keys})
    for action in ACTIONS:
        out[action] = [
            int(table.at[k, action]) if (not table.empty and k in table.index and action in table.columns) else 0
            for k in keys
        ]
    moved_on = sum(out[action] for action in OUTCOMES)
    out["moved_on"] = moved_on
    out["likes_capped"] = (out["liked"] - moved_on).clip(lower=0)
    enough = moved_on >= MIN_MOVED_ON
    out["enough_data"] = enough
    out["like_rate"] = (out["liked"].clip(upper=moved_on) / moved_on).where(enough)
    out["skip_rate"] = (out["skipped"] / moved_on).where(enough)
    return out


def _feedback(
    session: Session, column, none_value: str, keys: list[str], *, start: date | None, end: date | None
) -> pd.DataFrame:
    rows = session.execute(
        select(column, ListeningDaily.action, func.sum(ListeningDaily.events))
        .where(*_day_range(ListeningDaily.day, start, end), column != none_value)
        .group_by(column, ListeningDaily.action)
    ).all()
    return _rates(pd.DataFrame(rows, columns=[column.key, "action", "n"]), column.key, keys)


def feedback_by_quadrant(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Per quadrant (the one the track had when it was played): a count per action of ACTIONS,
    ``moved_on``, ``likes_capped``, ``enough_data``, and ``like_rate`` / ``skip_rate``
    (None without enough data; see the module's docstring)."""
    return _feedback(session, ListeningDaily.quadrant, NO_QUADRANT, list(QUADRANTS), start=start, end=end)


def feedback_by_strategy(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """``feedback_by_quadrant``'s columns per strategy."""
    return _feedback(session, ListeningDaily.strategy, NO_STRATEGY, list(STRATEGIES), start=start, end=end)


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
    """Headline counts for the date range. ``sessions`` are listener sessions with a listening
    event (play, like, skip...) in it; mood readings are counted apart, and a session can read
    moods without playing anything."""
    return {
        "tracks": int(
            session.scalar(select(func.count()).select_from(Track).where(*_range(Track.created_at, start, end))) or 0
        ),
        "listening_events": int(
            session.scalar(select(func.sum(ListeningDaily.events)).where(*_day_range(ListeningDaily.day, start, end)))
            or 0
        ),
        "mood_events": int(
            session.scalar(select(func.sum(MoodHourly.readings)).where(*_day_range(MoodHourly.day, start, end))) or 0
        ),
        "sessions": _distinct_sessions(session, start, end),
    }


def _distinct_sessions(session: Session, start: date | None, end: date | None) -> int:
    # GROUP BY in a subquery rather than COUNT(DISTINCT): SQLite builds the same temp b-tree
    # either way, but runs this form markedly faster on many session-days.
    ids = (
        select(ListeningSessionDay.session_id)
        .where(*_day_range(ListeningSessionDay.day, start, end))
        .group_by(ListeningSessionDay.session_id)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


# ----------------------------------------------------------------------------- did it work?

MOOD_AXES = ("valence", "arousal")


def _response_sums() -> list:
    """The columns every "did it work" query aggregates: count, then ΣΔ and ΣΔ² per axis."""
    columns = [func.count().label("n")]
    for axis in MOOD_AXES:
        delta = getattr(MoodResponse, f"{axis}_end") - getattr(MoodResponse, f"{axis}_start")
        columns += [func.sum(delta).label(f"s_{axis}"), func.sum(delta * delta).label(f"ss_{axis}")]
    return columns


def mean_ci(n: int, total: float, total_sq: float) -> tuple[float, float, float]:
    """Mean and 95 % interval (Student's t) of n values from their sum and sum of squares;
    NaN where n is 0, and an interval of width 0 for one value."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    mean = total / n
    if n == 1:
        return mean, mean, mean
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def _response_frame(rows: list[Mapping], key_columns: list[str]) -> pd.DataFrame:
    """One row per group: its keys, ``n``, ``enough_data``, and per axis ``d<axis>`` (mean change)
    with ``d<axis>_lo`` / ``d<axis>_hi`` (95 % interval); means are NaN under MIN_RESPONSES."""
    records = []
    for row in rows:
        n = int(row["n"] or 0)
        record = {key: row[key] for key in key_columns} | {"n": n, "enough_data": n >= MIN_RESPONSES}
        for axis in MOOD_AXES:
            mean, lo, hi = mean_ci(n, float(row[f"s_{axis}"] or 0), float(row[f"ss_{axis}"] or 0))
            if n < MIN_RESPONSES:
                mean = lo = hi = math.nan
            record |= {f"d{axis}": mean, f"d{axis}_lo": lo, f"d{axis}_hi": hi}
        records.append(record)
    columns = [*key_columns, "n", "enough_data"] + [f"d{a}{x}" for a in MOOD_AXES for x in ("", "_lo", "_hi")]
    return pd.DataFrame.from_records(records, columns=columns)


def verdict(strategy: str, row: Mapping) -> str:
    """In words, whether the mood moved the way the strategy aims, read from the 95 % intervals:
    *lift* aims to raise valence, *calm* to lower arousal, *match* to hold the mood."""
    if not row["enough_data"]:
        return f"not enough data yet (n={row['n']})"

    def moved(axis: str) -> int:
        return 1 if row[f"d{axis}_lo"] > 0 else -1 if row[f"d{axis}_hi"] < 0 else 0

    if strategy == "lift":
        return {1: "worked: mood lifted", -1: "the opposite: valence fell", 0: "no clear change yet"}[moved("valence")]
    if strategy == "calm":
        return {-1: "worked: listeners calmed", 1: "the opposite: arousal rose", 0: "no clear change yet"}[
            moved("arousal")
        ]
    changes = [f"{axis} {'rose' if moved(axis) > 0 else 'fell'}" for axis in MOOD_AXES if moved(axis)]
    return "mood moved: " + ", ".join(changes) if changes else "mood held steady"


def mood_response_by_strategy(session: Session, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Per strategy (every one of STRATEGIES, then any other stored): responses ``n``, whether
    there are enough, the mean change of valence and arousal with 95 % intervals (see
    ``_response_frame``) and a ``verdict`` in words."""
    rows = {
        row.strategy: row._mapping
        for row in session.execute(
            select(MoodResponse.strategy, *_response_sums())
            .where(*_range(MoodResponse.created_at, start, end))
            .group_by(MoodResponse.strategy)
        )
    }
    names = list(STRATEGIES) + sorted(k for k in rows if k not in STRATEGIES)
    empty = {"n": 0} | {f"{p}_{axis}": 0.0 for p in ("s", "ss") for axis in MOOD_AXES}
    frame = _response_frame([rows.get(name) or {"strategy": name, **empty} for name in names], ["strategy"])
    frame["verdict"] = [verdict(name, row) for name, (_, row) in zip(names, frame.iterrows(), strict=True)]
    return frame


def mood_response_by_track(
    session: Session, start: date | None = None, end: date | None = None, *, limit: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tracks with at least MIN_RESPONSES responses in the range, by mean Δvalence: the ``limit``
    whose mean is highest above 0 (the tracks that lifted listeners most), highest first, and
    the ``limit`` lowest below 0 (those that lowered it), lowest first. Columns of each:
    ``track_id``, ``title``, ``artist``, ``quadrant``, then ``_response_frame``'s.

    One pass over the range's responses, grouped by track in the database; only the groups with
    enough responses come back (at most one per MIN_RESPONSES responses), and both lists are
    picked from them here (an ORDER BY ... LIMIT per list would group twice: MariaDB computes a
    CTE once per reference)."""
    lift = func.avg(MoodResponse.valence_end - MoodResponse.valence_start)
    groups = [
        row._mapping
        for row in session.execute(
            select(MoodResponse.track_id, *_response_sums(), lift.label("lift"))
            .where(*_range(MoodResponse.created_at, start, end))
            .group_by(MoodResponse.track_id)
            .having(func.count() >= MIN_RESPONSES)
        )
    ]
    lifted = heapq.nsmallest(limit, (g for g in groups if g["lift"] > 0), key=lambda g: (-g["lift"], g["track_id"]))
    lowered = heapq.nsmallest(limit, (g for g in groups if g["lift"] < 0), key=lambda g: (g["lift"], g["track_id"]))
    ids = [g["track_id"] for g in lifted + lowered]
    described = select(Track.id.label("track_id"), Track.title, Track.artist, Track.quadrant).where(Track.id.in_(ids))
    names = {row.track_id: row._mapping for row in session.execute(described)}
    keys = ["track_id", "title", "artist", "quadrant"]

    def frame(picked: list) -> pd.DataFrame:
        out = _response_frame([{**g, **names[g["track_id"]]} for g in picked if g["track_id"] in names], keys)
        out["track_id"] = out["track_id"].astype(int)
        return out

    return frame(lifted), frame(lowered)


# ----------------------------------------------------------------------------- the page's view


@dataclass(frozen=True)
class Dashboard:
    """Everything the Analytics page shows for one date range, read in one transaction."""

    totals: dict[str, int]
    per_quadrant: pd.DataFrame
    sources: pd.DataFrame
    scatter: pd.DataFrame
    emotions: pd.DataFrame
    strategies: pd.DataFrame
    by_quadrant: pd.DataFrame
    by_strategy: pd.DataFrame
    liked: pd.DataFrame
    response_by_strategy: pd.DataFrame
    response_by_track: tuple[pd.DataFrame, pd.DataFrame]  # (lifted the mood, lowered it)


def dashboard(
    start: date | None = None, end: date | None = None, granularity: str = "day", url: str | None = None
) -> Dashboard:
    """The page's figures for the range (emotions per ``granularity``) on DATABASE_URL or ``url``."""
    with session_scope(url) as s:
        return Dashboard(
            totals=summary(s, start, end),
            per_quadrant=tracks_per_quadrant(s, start, end),
            sources=tagged_by_source(s, start, end),
            scatter=va_scatter(s, start, end),
            emotions=emotions_over_time(s, start, end, granularity),
            strategies=strategies_used(s, start, end),
            by_quadrant=feedback_by_quadrant(s, start, end),
            by_strategy=feedback_by_strategy(s, start, end),
            liked=most_liked_tracks(s, start, end),
            response_by_strategy=mood_response_by_strategy(s, start, end),
            response_by_track=mood_response_by_track(s, start, end),
        )


def recorded_range(url: str | None = None) -> tuple[date, date] | None:
    """``date_bounds`` in its own transaction."""
    with session_scope(url) as s:
        return date_bounds(s)
