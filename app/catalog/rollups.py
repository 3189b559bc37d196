"""Rollups of the event tables, so the analytics page reads thousands of rows instead of
scanning ten million events (measured: `python -m app bench --events`).

Invariant, checked by the tests: each rollup equals a GROUP BY over its event table.
- Every event inserted through the ORM is counted by the mapper hooks at the bottom, on the
  same connection and transaction as the insert (an upsert: SQLite `ON CONFLICT`, MySQL
  `ON DUPLICATE KEY`), so a rolled-back write leaves no count. The same hook stamps a
  listening event with its track's current quadrant.
- `subtract_listening` / `subtract_mood` run before events are deleted (forget a session,
  delete a track).
- `rebuild` recomputes everything from the event tables with INSERT … SELECT (bulk loads,
  and databases created before the rollups existed).

Deleting a track keeps its listeners' session-days: the session did listen that day.
Each action is its own count, so what the player reports (started, completed, skipped at a
position, paused) is counted per day like a like; positions stay in the events.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, Connection, Table, delete, event, extract, func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.catalog.models import ListeningDaily, ListeningEvent, ListeningSessionDay, MoodEvent, MoodHourly, Track, utcnow

NO_STRATEGY = ""
NO_QUADRANT = ""


def _upsert(connection: Connection, table: Table, values: dict, counter: str | None, amount: int = 1) -> None:
    """Insert the row, or add `amount` to its `counter` when the key exists (or do nothing when
    counter is None). SQLAlchemy has no portable upsert, hence one branch per dialect."""
    row = {**values, counter: amount} if counter else values
    if connection.dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as dialect_insert

        stmt = dialect_insert(table).values(**row)
        if counter:
            stmt = stmt.on_duplicate_key_update({counter: table.c[counter] + stmt.inserted[counter]})
        else:  # a no-op update rather than INSERT IGNORE, which would also swallow real errors
            key = table.primary_key.columns.keys()[0]
            stmt = stmt.on_duplicate_key_update({key: stmt.inserted[key]})
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert

        stmt = dialect_insert(table).values(**row)
        keys = list(table.primary_key.columns.keys())
        if counter:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys, set_={counter: table.c[counter] + stmt.excluded[counter]}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    connection.execute(stmt)


def _day(column) -> ColumnElement:
    # DATE() exists in SQLite ('YYYY-MM-DD', what SQLAlchemy's Date stores there) and MySQL.
    return func.date(column)


def _listening_groups(*where) -> select:
    return (
        select(
            _day(ListeningEvent.created_at).label("day"),
            func.coalesce(ListeningEvent.strategy, literal(NO_STRATEGY)).label("strategy"),
            func.coalesce(ListeningEvent.quadrant, literal(NO_QUADRANT)).label("quadrant"),
            ListeningEvent.action,
            func.count().label("events"),
        )
        .where(*where)
        .group_by(
            _day(ListeningEvent.created_at), ListeningEvent.strategy, ListeningEvent.quadrant, ListeningEvent.action
        )
    )


def _mood_groups(*where) -> select:
    hour = extract("hour", MoodEvent.created_at)
    return (
        select(
            _day(MoodEvent.created_at).label("day"), hour.label("hour"), MoodEvent.label, func.count().label("readings")
        )
        .where(*where)
        .group_by(_day(MoodEvent.created_at), hour, MoodEvent.label)
    )


def as_date(value) -> date:
    """A DATE column's value as a date (SQLite hands back text for DATE(...) expressions)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def subtract_listening(session: Session, *where) -> None:
    """Take the events matching `where` out of the daily counts (call before deleting them)."""
    for day, strategy, quadrant, action, n in session.execute(_listening_groups(*where)).all():
        session.execute(
            update(ListeningDaily)
            .where(
                ListeningDaily.day == as_date(day),
                ListeningDaily.strategy == strategy,
                ListeningDaily.quadrant == quadrant,
                ListeningDaily.action == action,
            )
            .values(events=ListeningDaily.events - n)
        )
    session.execute(delete(ListeningDaily).where(ListeningDaily.events <= 0))


def forget_session_days(session: Session, session_id: str) -> None:
    session.execute(delete(ListeningSessionDay).where(ListeningSessionDay.session_id == session_id))


def subtract_mood(session: Session, *where) -> None:
    for day, hour, label, n in session.execute(_mood_groups(*where)).all():
        session.execute(
            update(MoodHourly)
            .where(MoodHourly.day == as_date(day), MoodHourly.hour == int(hour), MoodHourly.label == label)
            .values(readings=MoodHourly.readings - n)
        )
    session.execute(delete(MoodHourly).where(MoodHourly.readings <= 0))


def rebuild(session: Session) -> None:
    """Recompute every rollup from the event tables, in the caller's transaction."""
    for model in (ListeningDaily, ListeningSessionDay, MoodHourly):
        session.execute(delete(model))
    session.execute(
        insert(ListeningDaily).from_select(["day", "strategy", "quadrant", "action", "events"], _listening_groups())
    )
    session.execute(
        insert(ListeningSessionDay).from_select(
            ["day", "session_id", "strategy"],
            select(
                _day(ListeningEvent.created_at),
                ListeningEvent.session_id,
                func.coalesce(ListeningEvent.strategy, literal(NO_STRATEGY)),
            ).distinct(),
        )
    )
    session.execute(insert(MoodHourly).from_select(["day", "hour", "label", "readings"], _mood_groups()))


@event.listens_for(ListeningEvent, "before_insert")
def _stamp_quadrant(_mapper, connection: Connection, target: ListeningEvent) -> None:
    if target.quadrant is None:
        target.quadrant = connection.scalar(select(Track.quadrant).where(Track.id == target.track_id))


@event.listens_for(ListeningEvent, "after_insert")
def _count_listening(_mapper, connection: Connection, target: ListeningEvent) -> None:
    day = (target.created_at or utcnow()).date()
    strategy = target.strategy or NO_STRATEGY
    _upsert(
        connection,
        ListeningDaily.__table__,
        {"day": day, "strategy": strategy, "quadrant": target.quadrant or NO_QUADRANT, "action": target.action},
        "events",
    )
    _upsert(
        connection,
        ListeningSessionDay.__table__,
        {"day": day, "session_id": target.session_id, "strategy": strategy},
        None,
    )


@event.listens_for(MoodEvent, "after_insert")
def _count_mood(_mapper, connection: Connection, target: MoodEvent) -> None:
    at = target.created_at or utcnow()
    _upsert(connection, MoodHourly.__table__, {"day": at.date(), "hour": at.hour, "label": target.label}, "readings")
