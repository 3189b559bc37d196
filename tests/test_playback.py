"""What the now-playing bar reports becomes listening events once each: validated, deduplicated
across reruns, stored with positions, counted by the rollups and analytics; and a database made
before the player existed gets the new columns on start. (Database tests run on SQLite and
MariaDB.)"""

from __future__ import annotations

import pickle
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import create_engine, inspect, select

from app import analytics
from app.catalog import repository
from app.catalog.db import init_db, session_scope
from app.catalog.models import ListeningDaily, ListeningEvent
from app.emotions import QUADRANT_VA
from app.listening.playback import MAX_REPORTS_PER_MINUTE, ListeningWrite, PlayerEvent, PlayerLog, record, writes_for
from tests.catalog_helpers import add, as_an_older_version


class Clock:
    """Wall time for a PlayerLog: positions may advance only as fast as it does."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _report(*events: dict, page: str = "page-1") -> dict:
    return {"page": page, "events": [{"seq": i + 1, **e} for i, e in enumerate(events)]}


def test_a_report_is_taken_once_though_every_rerun_sees_it_again():
    clock = Clock()
    log = PlayerLog(clock=clock)
    first = _report({"kind": "started", "track_id": 7, "position_s": 0.0})
    assert [e.kind for e in log.take(first)] == ["started"]
    assert log.take(first) == []  # the state value persists: the next rerun sees the same log
    clock.now += 181.2
    grown = _report(
        {"kind": "started", "track_id": 7, "position_s": 0.0},
        {"kind": "completed", "track_id": 7, "position_s": 181.2},
        {"kind": "advanced", "track_id": 9, "from_track_id": 7},
    )
    taken = log.take(grown)
    assert [(e.kind, e.track_id, e.seq) for e in taken] == [("completed", 7, 2), ("advanced", 9, 3)]
    assert taken[1].from_track_id == 7 and log.take(grown) == []


def test_a_reloaded_page_numbers_its_reports_afresh():
    log = PlayerLog()
    log.take(_report({"kind": "started", "track_id": 7}, {"kind": "paused", "track_id": 7, "position_s": 3}))
    again = log.take(_report({"kind": "started", "track_id": 7}, page="page-2"))
    assert [(e.page, e.seq, e.kind) for e in again] == [("page-2", 1, "started")]


def test_malformed_reports_and_unknown_kinds_or_tracks_are_dropped_for_good():
    clock = Clock()
    log = PlayerLog(clock=clock)
    raw = {
        "page": "p",
        "events": [
            {"seq": 1, "kind": "exploded", "track_id": 7},
            {"seq": 2, "kind": "paused", "track_id": 999},  # not a track the page gave the bar
            {"seq": 3, "kind": "paused", "track_id": True},
            {"seq": True, "kind": "paused", "track_id": 7},
            {"seq": -4, "kind": "paused", "track_id": 7},
            "not a report",
            {"seq": 5, "kind": "paused", "track_id": 7, "position_s": float("nan")},
            {"seq": 6, "kind": "paused", "track_id": 7, "position_s": -2},
            {"seq": 7, "kind": "paused", "track_id": 7, "position_s": "12"},
            {"seq": 8, "kind": "skipped", "track_id": 7, "position_s": 12.34567},
        ],
    }
    clock.now += 12.4
    taken = log.take(raw, known_ids={7, 9})
    assert [(e.seq, e.position_s) for e in taken] == [(5, None), (6, None), (7, None), (8, 12.346)]
    assert log.take(raw, known_ids={7, 9, 999}) == []  # dropped ones aren't looked at again
    for junk in (None, "x", [], {"page": "", "events": []}, {"page": "p", "events": "x"}, {"page": 3, "events": []}):
        assert log.take(junk) == []


def test_reports_become_listening_writes():
    def event(kind, track_id, seq, position_s=None):
        return PlayerEvent(kind=kind, track_id=track_id, seq=seq, page="p", position_s=position_s)

    events = [
        event("started", 1, 1, 0.0),
        event("paused", 1, 2, 4.5),
        event("resumed", 1, 3, 4.5),
        event("completed", 1, 4, 30.0),
        event("advanced", 2, 5),
        event("started", 2, 6, 0.0),
        event("skipped", 2, 7, 8.25),
    ]
    assert writes_for(events) == [
        ListeningWrite(1, "started", 0.0, False),
        ListeningWrite(1, "paused", 4.5, False),
        ListeningWrite(1, "completed", 30.0, True),
        ListeningWrite(2, "started", 0.0, False),
        ListeningWrite(2, "skipped", 8.25, False),
    ]


def test_the_log_follows_the_track_the_bar_is_on_and_survives_pickling():
    log = PlayerLog()
    assert log.track_id is None
    log.take(_report({"kind": "completed", "track_id": 1}, {"kind": "advanced", "track_id": 2, "from_track_id": 1}))
    assert log.track_id == 2
    log.take(
        _report(
            {"kind": "completed", "track_id": 1},
            {"kind": "advanced", "track_id": 2},
            {"kind": "skipped", "track_id": 2, "position_s": 5},
        )
    )  # nothing queued: it stays
    assert log.track_id == 2
    copy = pickle.loads(pickle.dumps(log))
    assert copy.track_id == 2 and copy.take(_report({"kind": "completed", "track_id": 1})) == []


def test_reports_stay_untaken_until_they_are_stored():
    clock = Clock()
    log = PlayerLog(clock=clock)
    clock.now += 10
    raw = _report({"kind": "started", "track_id": 7}, {"kind": "skipped", "track_id": 7, "position_s": 9.5})

    def broken(_events):
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        log.take(raw, store=broken)
    assert log.track_id is None
    stored: list[PlayerEvent] = []
    assert [e.seq for e in log.take(raw, store=stored.extend)] == [1, 2]
    assert [e.seq for e in stored] == [1, 2] and log.take(raw, store=stored.extend) == []


def test_overlapping_runs_store_each_report_once():
    # Streamlit may start a session's next run before the old one has stopped.
    log = PlayerLog()
    raw = _report(*({"kind": "paused", "track_id": 7, "position_s": float(i)} for i in range(5)))
    stored: list[PlayerEvent] = []

    def slow(events):
        time.sleep(0.05)
        stored.extend(events)

    runs = [threading.Thread(target=log.take, args=(raw,), kwargs={"store": slow}) for _ in range(4)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]


@pytest.fixture
def two_tracks(db_url) -> tuple[int, int]:
    ids = []
    with session_scope(db_url) as s:
        for q in ("Q1", "Q4"):
            v, a = QUADRANT_VA[q]
            ids.append(add(s, f"Song {q}", v, a, artist="A").id)
    return ids[0], ids[1]


def test_a_completed_play_and_a_skip_land_with_their_positions_and_analytics_counts_them(db_url, two_tracks):
    played, skipped = two_tracks
    clock = Clock()
    log = PlayerLog(clock=clock)
    clock.now += 40  # what the reports claim was listened to: 30 s, then 7.5 s
    raw = _report(
        {"kind": "started", "track_id": played, "position_s": 0},
        {"kind": "completed", "track_id": played, "position_s": 30.0},
        {"kind": "advanced", "track_id": skipped, "from_track_id": played},
        {"kind": "started", "track_id": skipped, "position_s": 0},
        {"kind": "skipped", "track_id": skipped, "position_s": 7.5},
    )

    def store(events):
        with session_scope(db_url) as s:
            record(s, "me", writes_for(events), strategy="lift", emotion="sad", valence=-0.6, arousal=-0.3)

    for _ in range(3):  # three reruns see the same state value
        log.take(raw, store=store)
    with session_scope(db_url) as s:
        # A like counts whether or not the player started the track.
        repository.record_listening(s, "me", skipped, "liked", strategy="lift")
        rows = s.execute(
            select(
                ListeningEvent.track_id, ListeningEvent.action, ListeningEvent.position_s, ListeningEvent.completed
            ).order_by(ListeningEvent.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            (played, "started", 0.0, False),
            (played, "completed", 30.0, True),
            (skipped, "started", 0.0, False),
            (skipped, "skipped", 7.5, False),
            (skipped, "liked", None, False),
        ]
        daily = {(r.quadrant, r.action): r.events for r in s.scalars(select(ListeningDaily))}
        assert daily == {
            ("Q1", "started"): 1,
            ("Q1", "completed"): 1,
            ("Q4", "started"): 1,
            ("Q4", "skipped"): 1,
            ("Q4", "liked"): 1,
        }
        lift = analytics.feedback_by_strategy(s).set_index("strategy").loc["lift"]
        assert lift[["started", "completed", "skipped", "liked"]].tolist() == [2, 1, 1, 1]
        # Each track moved on from ends in one outcome (completed or skipped): two, one liked.
        assert lift["moved_on"] == 2 and not lift["enough_data"]  # too few to show a rate yet


def test_a_report_about_a_track_deleted_since_is_passed_over(db_url, two_tracks):
    kept, gone = two_tracks
    with session_scope(db_url) as s:
        assert repository.delete_track(s, gone, store=_NoFiles())
    writes = [ListeningWrite(gone, "skipped", 3.0, False), ListeningWrite(kept, "completed", 30.0, True)]
    with session_scope(db_url) as s:
        stored = record(s, "me", writes)
        assert [(e.track_id, e.action) for e in stored] == [(kept, "completed")]


def test_record_listening_refuses_a_position_that_is_not_a_time(db_url, two_tracks):
    with session_scope(db_url) as s:
        for bad in (-1.0, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="position_s"):
                repository.record_listening(s, "me", two_tracks[0], "paused", position_s=bad)
        with pytest.raises(ValueError, match="unknown action"):
            repository.record_listening(s, "me", two_tracks[0], "rewound")
        assert repository.record_listening(s, "me", two_tracks[0], "completed").completed is True


class _NoFiles:
    def remove(self, _rel: str) -> None:
        pass


def test_a_database_from_before_the_player_gets_position_and_completed_on_start(db_url, two_tracks):
    when = datetime(2026, 3, 1, 9, 30)
    with session_scope(db_url) as s:
        for action in ("played", "skipped", "liked"):
            s.add(
                ListeningEvent(
                    session_id="old", track_id=two_tracks[0], action=action, strategy="calm", created_at=when
                )
            )
    as_an_older_version(db_url, columns={"listening_events": ["position_s", "completed"]})  # before the player

    init_db(db_url)
    engine = create_engine(db_url)
    assert {"position_s", "completed"} <= {c["name"] for c in inspect(engine).get_columns("listening_events")}
    engine.dispose()
    with session_scope(db_url) as s:
        old = s.execute(select(ListeningEvent.action, ListeningEvent.position_s, ListeningEvent.completed)).all()
        assert sorted(tuple(r) for r in old) == [
            ("liked", None, False),
            ("played", None, False),
            ("skipped", None, False),
        ]
        repository.record_listening(s, "new", two_tracks[0], "completed", strategy="calm", position_s=30.0)
    with session_scope(db_url) as s:
        calm = analytics.feedback_by_strategy(s).set_index("strategy").loc["calm"]
        # The old "played" (heard, moved on) and the new "completed" are both outcomes.
        assert calm[["played", "completed", "skipped", "liked"]].tolist() == [1, 1, 1, 1]
        assert calm["moved_on"] == 3


def test_forged_reports_store_only_what_the_bar_could_have_played():
    """The attack, scaled down: four messages of 500 reports each, skips and completions of the
    track now playing (and of one it never had), seconds apart."""
    clock = Clock()
    log = PlayerLog(clock=clock)
    playable = {7, 8}  # now playing and up next
    stored: list[PlayerEvent] = []
    forged: list[dict] = []
    for message in range(4):
        for i in range(500):
            kind = ("started", "completed", "skipped")[i % 3]
            forged.append({"kind": kind, "track_id": 7 if i % 5 else 99, "position_s": 1.0 if kind != "started" else 0})
        clock.now += 14  # the attack sent 20,000 reports in 56 s
        log.take(_report(*forged, page=f"forged-{message}"), known_ids=playable, store=stored.extend)
    writes = writes_for(stored)
    assert {w.track_id for w in writes} <= playable
    assert len(stored) <= MAX_REPORTS_PER_MINUTE + 1 < 2000 // 4
    ends = [e for e in stored if e.kind in ("completed", "skipped")]
    starts = [e for e in stored if e.kind == "started"]
    assert len(ends) <= len(starts)  # one end per play


def test_a_completion_claimed_faster_than_wall_time_counts_as_a_skip_and_the_music_moves_on():
    clock = Clock()
    log = PlayerLog(clock=clock)
    assert [e.kind for e in log.take(_report({"kind": "started", "track_id": 7, "position_s": 0.0}))] == ["started"]
    clock.now += 10
    grown = _report(
        {"kind": "started", "track_id": 7, "position_s": 0.0},
        {"kind": "completed", "track_id": 7, "position_s": 240.0},  # four minutes in ten seconds: a seek
        {"kind": "started", "track_id": 8, "position_s": 0.0},
    )
    taken = log.take(grown)
    assert [(e.track_id, e.kind) for e in taken] == [(7, "skipped"), (8, "started")]  # not a listen, but it ended
    assert writes_for(taken)[0].completed is False
    clock.now += 240  # four minutes of real listening later, a completion is believed as one
    later = _report(
        {"kind": "completed", "track_id": 8, "position_s": 230.0},
        {"kind": "completed", "track_id": 8, "position_s": 230.0},
        page="later",
    )
    assert [(e.track_id, e.kind) for e in log.take(later)] == [(8, "completed")]  # one end per play
