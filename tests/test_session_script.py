"""`python -m app session`: a listener session scripted over JSON lines, through the page's service."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from app.catalog.db import session_scope
from app.catalog.models import ListeningEvent
from app.config import REPO_ROOT
from app.listening.script import ScriptedSession, run
from tests.catalog_helpers import add


def _catalog() -> None:
    with session_scope() as s:
        for i in range(8):
            add(s, f"Sad {i}", -0.3 - 0.05 * i, -0.4, artist=f"A{i}")
            add(s, f"Happy {i}", 0.5 + 0.05 * i, 0.5, artist=f"B{i}")


def _talk(*commands: object) -> list[dict]:
    return list(run(json.dumps(c) if not isinstance(c, str) else c for c in commands))


def test_a_skipped_track_is_not_offered_again_and_feedback_lands_with_its_position(db_url):
    _catalog()
    listener = ScriptedSession()
    point = {"valence": -0.4, "arousal": -0.4}
    first = listener.handle({"cmd": "recommend", "mood": point, "strategy": "match", "n": 3})
    assert all(t["title"].startswith("Sad") for t in first["tracks"])
    keys = {"track_id", "title", "artist", "quadrant", "valence", "arousal", "score", "reason"}
    assert set(first["tracks"][0]) == keys
    head = first["tracks"][0]["track_id"]
    skip = {"cmd": "feedback", "track_id": head, "action": "skipped", "position_s": 12.5}
    assert listener.handle(skip) == {"ok": True}
    # n = the whole catalog: a skipped track that merely ranked lower would still be listed
    # among the new ones; it comes back only last, as the replay that keeps the music going.
    again = listener.handle({"cmd": "recommend", "mood": point, "n": 16})
    assert len(again["tracks"]) == 16
    assert head not in [t["track_id"] for t in again["tracks"][:15]]
    assert again["tracks"][15]["track_id"] == head and "heard earlier" in again["tracks"][15]["reason"]
    with session_scope() as s:
        event = s.scalars(select(ListeningEvent)).one()
        assert (event.track_id, event.action, event.position_s) == (head, "skipped", 12.5)
        assert event.valence is not None and event.valence < 0  # the mood it was skipped in


def test_bad_lines_get_an_error_and_the_session_goes_on(db_url):
    _catalog()
    replies = _talk(
        "not json",
        {"cmd": "dance"},
        {"cmd": "recommend", "mood": "elated"},
        {"cmd": "recommend", "mood": "happy", "strategy": "sideways"},
        {"cmd": "feedback", "track_id": 999_999, "action": "liked"},
        {"cmd": "feedback", "track_id": 1, "action": "loved"},
        {"cmd": "recommend", "mood": {"happy": 0.9, "neutral": 0.1}, "strategy": "calm", "n": 2},
    )
    assert all("error" in r for r in replies[:-1]), replies
    assert "no track 999999" in replies[4]["error"]
    assert len(replies[-1]["tracks"]) == 2
    with session_scope() as s:
        assert s.scalars(select(ListeningEvent)).all() == []


def test_forget_deletes_the_sessions_events(db_url):
    _catalog()
    replies = _talk(
        {"cmd": "recommend", "mood": "happy", "n": 1},
        {"cmd": "feedback", "track_id": 1, "action": "liked"},
        {"cmd": "forget"},
    )
    assert replies[1:] == [{"ok": True}, {"ok": True}]
    with session_scope() as s:
        assert s.scalars(select(ListeningEvent)).all() == []


def test_the_command_line_speaks_one_json_object_per_line(db_url):
    _catalog()
    lines = "\n".join(
        [json.dumps({"cmd": "recommend", "mood": "happy", "n": 2}), "{oops", json.dumps({"cmd": "forget"})]
    )
    out = subprocess.run(
        [sys.executable, "-m", "app", "session", "--json"],
        input=lines + "\n",
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert [sorted(r) for r in replies] == [["tracks"], ["error"], ["ok"]]
    assert all(t["title"].startswith("Happy") for t in replies[0]["tracks"])
