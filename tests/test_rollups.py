"""The analytics rollups stay equal to a GROUP BY over the event tables through everything the
app does: listening and mood writes, a rolled-back write, forgetting a session, deleting a
track, a bulk synthetic load, and upgrading a database made before the rollups existed.
(Runs on SQLite and MariaDB.)"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import analytics
from app.catalog import repository
from app.catalog.db import init_db, session_scope
from app.catalog.models import ListeningDaily, ListeningEvent, ListeningSessionDay, MoodEvent, MoodHourly, Track
from app.catalog.synthetic import populate
from app.emotions import QUADRANT_VA, QUADRANTS
from tests.catalog_helpers import add, as_an_older_version


def _raw_listening(s) -> dict:
    day = func.date(ListeningEvent.created_at)
    rows = s.execute(
        select(day, ListeningEvent.strategy, ListeningEvent.quadrant, ListeningEvent.action, func.count()).group_by(
            day, ListeningEvent.strategy, ListeningEvent.quadrant, ListeningEvent.action
        )
    ).all()
    return {(str(d)[:10], st or "", q or "", a): int(n) for d, st, q, a, n in rows}


def _rolled_listening(s) -> dict:
    rows = s.execute(
        select(
            ListeningDaily.day,
            ListeningDaily.strategy,
            ListeningDaily.quadrant,
            ListeningDaily.action,
            ListeningDaily.events,
        )
    ).all()
    return {(str(d)[:10], st, q, a): int(n) for d, st, q, a, n in rows}


def _raw_mood(s) -> dict:
    out: dict = {}
    for at, label in s.execute(select(MoodEvent.created_at, MoodEvent.label)).all():
        key = (at.date().isoformat(), at.hour, label)
        out[key] = out.get(key, 0) + 1
    return out


def _rolled_mood(s) -> dict:
    return {
        (str(d)[:10], int(h), lab): int(n)
        for d, h, lab, n in s.execute(
            select(MoodHourly.day, MoodHourly.hour, MoodHourly.label, MoodHourly.readings)
        ).all()
    }


def _session_days(s) -> set:
    return {
        (str(d)[:10], sid, st)
        for d, sid, st in s.execute(
            select(ListeningSessionDay.day, ListeningSessionDay.session_id, ListeningSessionDay.strategy)
        ).all()
    }


def _assert_rollups_match(url: str) -> None:
    with session_scope(url) as s:
        assert _rolled_listening(s) == _raw_listening(s)
        assert _rolled_mood(s) == _raw_mood(s)


@pytest.fixture
def tracks(db_url) -> dict[str, int]:
    ids = {}
    with session_scope(db_url) as s:
        for q in QUADRANTS:
            v, a = QUADRANT_VA[q]
            ids[q] = add(s, f"Song {q}", v, a, artist="A").id
    return ids


def _listen(url, session_id, track_id, action, *, strategy="match", n=1):
    with session_scope(url) as s:
        for _ in range(n):
            repository.record_listening(
                s, session_id, track_id, action, strategy=strategy, emotion="happy", valence=0.5, arousal=0.5
            )


def test_writes_are_counted_per_day_strategy_quadrant_and_action(db_url, tracks):
    _listen(db_url, "s1", tracks["Q1"], "played", n=3)
    _listen(db_url, "s1", tracks["Q1"], "liked", n=2)
    _listen(db_url, "s2", tracks["Q3"], "skipped", strategy="lift")
    _listen(db_url, "s3", tracks["Q3"], "played", strategy=None)
    with session_scope(db_url) as s:
        repository.record_mood(s, "s1", {"happy": 0.8, "neutral": 0.2})
        repository.record_mood(s, "s1", {"sad": 0.9, "neutral": 0.1})
    _assert_rollups_match(db_url)
    with session_scope(db_url) as s:
        assert analytics.summary(s) == {"tracks": 4, "listening_events": 7, "mood_events": 2, "sessions": 3}
        used = analytics.strategies_used(s).set_index("strategy")
        assert used.loc["match", "events"] == 5 and used.loc["match", "sessions"] == 1
        assert used.loc["lift", "events"] == 1 and used.loc["lift", "sessions"] == 1
        by_quadrant = analytics.feedback_by_quadrant(s).set_index("quadrant")
        assert by_quadrant.loc["Q1", ["played", "liked", "skipped"]].tolist() == [3, 2, 0]
        assert by_quadrant.loc["Q3", ["played", "liked", "skipped"]].tolist() == [1, 0, 1]


def test_a_rolled_back_write_leaves_no_count(db_url, tracks):
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        repository.record_listening(s, "s1", tracks["Q2"], "liked", strategy="calm")
        raise RuntimeError("the request failed after the write")
    with session_scope(db_url) as s:
        assert analytics.summary(s)["listening_events"] == 0
        assert s.scalar(select(func.count()).select_from(ListeningDaily)) == 0
        assert _session_days(s) == set()


def test_feedback_keeps_the_quadrant_a_track_had_when_it_played(db_url, tracks):
    _listen(db_url, "s1", tracks["Q1"], "liked")
    with session_scope(db_url) as s:
        repository.set_track_mood_by_curator(s, tracks["Q1"], "Q4")
    _listen(db_url, "s1", tracks["Q1"], "skipped")
    with session_scope(db_url) as s:
        rates = analytics.feedback_by_quadrant(s).set_index("quadrant")
        assert rates.loc["Q1", ["liked", "skipped"]].tolist() == [1, 0]
        assert rates.loc["Q4", ["liked", "skipped"]].tolist() == [0, 1]
    _assert_rollups_match(db_url)


def test_forgetting_a_session_and_deleting_a_track_keep_the_rollups_exact(db_url, tracks, tmp_path):
    _listen(db_url, "stay", tracks["Q1"], "played", n=2)
    _listen(db_url, "stay", tracks["Q2"], "liked")
    _listen(db_url, "forget-me", tracks["Q1"], "played", n=4)
    _listen(db_url, "forget-me", tracks["Q3"], "skipped", strategy="calm")
    with session_scope(db_url) as s:
        repository.record_mood(s, "forget-me", {"angry": 1.0})
        repository.record_mood(s, "stay", {"happy": 1.0})
        assert repository.forget_session(s, "forget-me") == (5, 1)
    _assert_rollups_match(db_url)
    with session_scope(db_url) as s:
        assert {sid for _, sid, _ in _session_days(s)} == {"stay"}
        assert analytics.summary(s)["listening_events"] == 3 and analytics.summary(s)["sessions"] == 1
        assert repository.delete_track(s, tracks["Q2"], store=_NoFiles())
    _assert_rollups_match(db_url)
    with session_scope(db_url) as s:
        assert analytics.summary(s)["listening_events"] == 2


class _NoFiles:
    def remove(self, _rel: str) -> None:
        pass


def test_a_bulk_load_rebuilds_the_rollups(db_url):
    with session_scope(db_url) as s:
        populate(s, 300, n_events=3_000, n_mood_events=500, seed=3)
    _assert_rollups_match(db_url)
    with session_scope(db_url) as s:
        distinct_sessions = s.scalar(select(func.count(ListeningEvent.session_id.distinct())))
        summary = analytics.summary(s)
        assert summary == {"tracks": 300, "listening_events": 3_000, "mood_events": 500, "sessions": distinct_sessions}
        used = analytics.strategies_used(s)
        assert used["events"].sum() == 3_000 and set(used["strategy"]) >= {"match", "lift", "calm"}
        stamped = s.execute(
            select(func.count())
            .select_from(ListeningEvent)
            .join(Track, Track.id == ListeningEvent.track_id)
            .where(ListeningEvent.quadrant == Track.quadrant)
        ).scalar()
        assert stamped == 3_000


def test_a_database_from_before_the_rollups_is_upgraded_on_start(db_url, tracks):
    """init_db on an older database: adds the events' quadrant (from the tracks' tags) and
    builds the rollups from the events already there."""
    when = datetime(2026, 3, 1, 9, 30)
    with session_scope(db_url) as s:
        for action in ("played", "played", "liked"):
            s.add(
                ListeningEvent(session_id="old", track_id=tracks["Q2"], action=action, strategy="lift", created_at=when)
            )
        s.add(
            MoodEvent(
                session_id="old", distribution={"fear": 1.0}, label="fear", valence=-0.5, arousal=0.6, created_at=when
            )
        )
    as_an_older_version(  # the schema before the rollups
        db_url,
        tables=("listening_daily", "listening_session_days", "mood_hourly"),
        columns={"listening_events": ["quadrant"]},
    )

    init_db(db_url)
    _assert_rollups_match(db_url)
    with session_scope(db_url) as s:
        assert set(s.scalars(select(ListeningEvent.quadrant))) == {"Q2"}
        rates = analytics.feedback_by_quadrant(s, when.date() - timedelta(days=1), when.date()).set_index("quadrant")
        assert rates.loc["Q2", ["played", "liked"]].tolist() == [2, 1]
        assert analytics.emotions_over_time(s, granularity="hour")["period"].tolist() == ["2026-03-01 09:00"]
