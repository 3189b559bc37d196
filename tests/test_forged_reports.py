"""Forged player reports through the Mood page: the attack sent websocket messages of thousands
of reports each (skips and completions of one track) and every one became a listening event.
Only what the bar could have played is stored now (app.listening.playback)."""

from __future__ import annotations

from app.listening.playback import MAX_REPORTS_PER_MINUTE
from tests.test_pages_mood import catalog, listening_rows, open_app, pick_emotion, playing_id, report  # noqa: F401


def test_thousands_of_forged_reports_store_a_handful_of_events_about_what_plays(catalog):  # noqa: F811
    at = open_app()
    pick_emotion(at, "sad")
    head = playing_id(at)
    elsewhere = next(t.track_id for t in catalog.values() if t.track_id != head)
    before = len(listening_rows())
    forged = []
    for i in range(600):
        kind = ("skipped", "completed", "started")[i % 3]
        forged.append({"kind": kind, "track_id": head if i % 4 else elsewhere, "position_s": 0.5})
    report(at, *forged)
    report(at, *forged)  # a second message, numbered on
    stored = listening_rows()[before:]
    assert len(stored) <= MAX_REPORTS_PER_MINUTE < 1200  # the per-session rate, below the reports sent
    ends = [r for r in stored if r[0] in ("skipped", "completed")]
    starts = [r for r in stored if r[0] == "started"]
    assert len(ends) <= len(starts) + 1  # one end per play
