"""`python -m app session`: one listener session driven by JSON lines (contract in DESIGN.md).

The same service the Mood page calls (`app.listening.service`), so what a script sees is what a
listener would: recommendations exclude what this session already played or skipped, feedback is
stored as listening events under an anonymous session id, and *forget* deletes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from app.catalog import repository
from app.catalog.db import session_scope
from app.emotions import FACE_LABELS, STRATEGIES
from app.listening import service
from app.listening.mood import MoodReading, reading_from_distribution, reading_from_label, reading_from_point
from app.listening.response import MoodTrace
from app.listening.session import new_session_id

FEEDBACK_ACTIONS = ("liked", "skipped", "completed", "played")
# The feedback that says the listener moved on from the track: its camera readings, if any,
# make its mood response (a like says nothing about where the track was left).
FINISHING_ACTIONS = ("skipped", "completed", "played")
MAX_N = 100
MAX_READINGS = 10_000


class ScriptError(ValueError):
    """A line the session can't act on; its message is sent back as {"error": …}."""


def parse_mood(value: object) -> MoodReading:
    """A label, a {label: p} distribution (as the camera gives) or a {"valence", "arousal"} point."""
    if isinstance(value, str):
        if value not in FACE_LABELS:
            raise ScriptError(f"unknown emotion {value!r}; expected one of {', '.join(FACE_LABELS)}")
        return reading_from_label(value)
    if isinstance(value, Mapping) and set(value) == {"valence", "arousal"}:
        v, a = value["valence"], value["arousal"]
        if not all(_finite(x) and -1 <= x <= 1 for x in (v, a)):
            raise ScriptError("valence and arousal must be numbers in [-1, 1]")
        return reading_from_point(float(v), float(a))
    if isinstance(value, Mapping) and value:
        unknown = sorted(set(value) - set(FACE_LABELS))
        if unknown:
            raise ScriptError(f"unknown emotion labels {unknown}")
        if not all(_finite(p) and p >= 0 for p in value.values()) or sum(value.values()) <= 0:
            raise ScriptError("emotion probabilities must be non-negative numbers with a positive sum")
        total = float(sum(value.values()))
        return reading_from_distribution({k: float(p) / total for k, p in value.items()}, source="camera")
    raise ScriptError('mood must be a label, {label: probability, …} or {"valence": v, "arousal": a}')


def parse_camera(value: object, track_id: int, strategy: str) -> MoodTrace:
    """A feedback's ``camera``: [{"at_s": seconds into the track, "mood": MOOD}, …], the live
    camera's smoothed readings while the track played, in time order."""
    if not isinstance(value, list) or len(value) > MAX_READINGS:
        raise ScriptError(f'camera must be a list of at most {MAX_READINGS} {{"at_s": s, "mood": MOOD}} readings')
    trace = MoodTrace(track_id, strategy)
    last = 0.0
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"at_s", "mood"}:
            raise ScriptError('each camera reading must be {"at_s": s, "mood": MOOD}')
        at = item["at_s"]
        if not (_finite(at) and at >= last):
            raise ScriptError("camera readings' at_s must be seconds, 0 or more, in time order")
        last = float(at)
        trace.add(parse_mood(item["mood"]).point, last)
    return trace


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class ScriptedSession:
    """One anonymous listener; `handle` takes one decoded command and returns its reply."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self.session_id = new_session_id()
        self.strategy = "match"
        self.mood: MoodReading | None = None
        # Played, completed or skipped, most recent last: not suggested again while anything
        # new is left, then the least recently heard first.
        self.heard: dict[int, None] = {}

    def handle(self, command: object) -> dict[str, Any]:
        if not isinstance(command, Mapping):
            raise ScriptError("each line must be a JSON object with a 'cmd'")
        cmd = command.get("cmd")
        if cmd == "recommend":
            return self._recommend(command)
        if cmd == "feedback":
            return self._feedback(command)
        if cmd == "forget":
            service.forget_session(self.session_id)
            self._start()
            return {"ok": True}
        raise ScriptError(f"unknown cmd {cmd!r}; expected recommend, feedback or forget")

    def _recommend(self, command: Mapping[str, Any]) -> dict[str, Any]:
        mood = parse_mood(command.get("mood"))
        strategy = command.get("strategy", "match")
        if strategy not in STRATEGIES:
            raise ScriptError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        n = command.get("n", 5)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
            raise ScriptError(f"n must be a whole number from 1 to {MAX_N}")
        self.mood, self.strategy = mood, strategy
        heard = list(reversed(self.heard))
        tracks = service.recommend(mood, strategy, set(), n, session_id=self.session_id, path_start=0, heard=heard)
        return {"tracks": [t.as_json() for t in tracks]}

    def _feedback(self, command: Mapping[str, Any]) -> dict[str, Any]:
        action = command.get("action")
        if action not in FEEDBACK_ACTIONS:
            raise ScriptError(f"action must be one of {', '.join(FEEDBACK_ACTIONS)}")
        track_id = command.get("track_id")
        if not isinstance(track_id, int) or isinstance(track_id, bool):
            raise ScriptError("track_id must be a whole number")
        position = command.get("position_s")
        if position is not None and not (_finite(position) and position >= 0):
            raise ScriptError("position_s must be a number of seconds, 0 or more")
        mood = parse_mood(command["mood"]) if command.get("mood") is not None else self.mood
        camera = command.get("camera")
        if camera is not None and action not in FINISHING_ACTIONS:
            raise ScriptError(f"camera readings go with {', '.join(FINISHING_ACTIONS)}: the track's end")
        trace = parse_camera(camera, track_id, self.strategy) if camera is not None else None
        with session_scope() as s:
            if not repository.track_summaries(s, [track_id]):
                raise ScriptError(f"no track {track_id} in the catalog")
        service.log_listening(
            self.session_id,
            track_id,
            action,
            self.strategy,
            mood,
            position_s=float(position) if position is not None else None,
        )
        if action != "liked":
            self.heard.pop(track_id, None)
            self.heard[track_id] = None
        measured = trace.response(float(position) if position is not None else None) if trace else None
        if measured is not None:
            service.store_responses(self.session_id, [measured])
        if trace is None:
            return {"ok": True}
        return {"ok": True, "mood_response": measured is not None}


def run(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One reply per non-blank line; a bad line gets {"error": …} and the session goes on."""
    session = ScriptedSession()
    for line in lines:
        if not line.strip():
            continue
        try:
            yield session.handle(json.loads(line))
        except json.JSONDecodeError as exc:
            yield {"error": f"not JSON: {exc.msg}"}
        except ScriptError as exc:
            yield {"error": str(exc)}
