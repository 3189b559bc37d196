"""Listeners whose taste lies away from their mood: the outside check of issue 33, through the
`session` contract (DESIGN.md).

A listener's face reads one way all along (neutral, say) and the strategy is fixed (match); they
like every track of one kind (a quadrant) and skip every other at 8 s. Each round asks
``recommend`` for n tracks and gives feedback on the first only; the hit rate is the share of
rounds 11–30 whose first track is their kind, the reward their likes over all rounds. Beside it,
the *static* ranking: the same mood's list from a session that learns nothing (``recommend``
without a session), walked one track a round, as a player that ignored the listener would.

What kind a track is comes from a label function: the tag's quadrant on the demo catalog, or a
data set's own label (the 4Q CSV's Quadrant) for a catalog imported from its clips, so the check
doesn't grade the recommender with the model it ranks by.

`python -m app.tools.taste_check [--labels annotations.csv] [--json]` runs it on the catalog at
DATABASE_URL through `python -m app session`, for each quadrant as the taste;
``eval-recommender`` runs the same rounds in-process (`app.listening.script.run`, the command's
own code) on its demo catalog.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.emotions import QUADRANTS

ROUNDS = 30
SCORED_FROM = 11  # rounds 11..ROUNDS are scored: the first ten are the learning's to spend
PER_ROUND = 5
SKIP_AT_S = 8.0

Send = Callable[[dict[str, Any]], dict[str, Any]]
LabelOf = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class TasteListener:
    taste: str  # the quadrant they like
    mood: str = "neutral"
    strategy: str = "match"


def run_rounds(
    send: Send, listener: TasteListener, label_of: LabelOf, rounds: int = ROUNDS, *, play_through: bool = False
) -> list[bool]:
    """Drive one session: per round recommend ``PER_ROUND``, like the first track when it is the
    listener's kind, else skip it at ``SKIP_AT_S``. Returns, per round, whether it was a hit.
    ``play_through``: a liked track is also played to its end (so it is heard, and comes back
    only when nothing new is left), rather than only liked (the check as filed: a liked track
    not heard may be offered again)."""
    hits: list[bool] = []
    for _ in range(rounds):
        reply = send({"cmd": "recommend", "mood": listener.mood, "strategy": listener.strategy, "n": PER_ROUND})
        tracks = reply.get("tracks")
        if not tracks:
            raise RuntimeError(f"the session offered nothing: {reply}")
        first = tracks[0]
        hit = label_of(first) == listener.taste
        feedback: dict[str, Any] = {"cmd": "feedback", "track_id": first["track_id"]}
        feedback.update({"action": "liked"} if hit else {"action": "skipped", "position_s": SKIP_AT_S})
        send(feedback)
        if hit and play_through:
            send({"cmd": "feedback", "track_id": first["track_id"], "action": "completed"})
        hits.append(hit)
    send({"cmd": "forget"})  # listeners don't inform each other (or the static ranking) through likes
    return hits


def static_rounds(
    ranked: list[Mapping[str, Any]], listener: TasteListener, label_of: LabelOf, rounds: int = ROUNDS
) -> list[bool]:
    """The static ranking walked one track a round (it learns nothing from the feedback)."""
    return [label_of(ranked[i % len(ranked)]) == listener.taste for i in range(rounds)]


def summary(hits: list[bool]) -> dict[str, float]:
    scored = hits[SCORED_FROM - 1 :]
    return {"hit_rate_11_30": round(sum(scored) / len(scored), 3), "reward": float(sum(hits))}


def compare(
    send_for: Callable[[], Send],
    static_list: Callable[[TasteListener], list[Mapping[str, Any]]],
    label_of: LabelOf,
    *,
    tastes: tuple[str, ...] = QUADRANTS,
    mood: str = "neutral",
) -> dict[str, dict[str, dict[str, float]]]:
    """{taste: {"learning": summary, "learning_play_through": summary, "static": summary}} for
    each taste quadrant; ``send_for`` opens a fresh session per listener."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for q in tastes:
        listener = TasteListener(q, mood)
        out[q] = {
            "learning": summary(run_rounds(send_for(), listener, label_of)),
            "learning_play_through": summary(run_rounds(send_for(), listener, label_of, play_through=True)),
            "static": summary(static_rounds(static_list(listener), listener, label_of)),
        }
    return out


# ----------------------------------------------------------------------------- over a process


@contextmanager
def session_process(env: Mapping[str, str] | None = None) -> Iterator[Send]:
    """`python -m app session` as a child process, one JSON line each way per command."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "session"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=None if env is None else dict(env),
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(command: dict[str, Any]) -> dict[str, Any]:
        proc.stdin.write(json.dumps(command) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the session command ended")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{command} → {reply['error']}")
        return reply

    try:
        yield send
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def static_over_cli(listener: TasteListener, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """`python -m app recommend` for the listener's mood: the static ranking."""
    out = subprocess.run(
        [sys.executable, "-m", "app", "recommend", "--emotion", listener.mood, "--strategy", listener.strategy]
        + ["-n", str(ROUNDS), "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else dict(env),
    )
    return json.loads(out.stdout)


def labels_from_csv(path: Path) -> dict[str, str]:
    """The 4Q annotations' Song → Quadrant (a clip imported without tags is titled by its Song)."""
    with path.open(newline="", encoding="utf-8") as f:
        return {row["Song"]: row["Quadrant"] for row in csv.DictReader(f)}


def check_over_cli(labels: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None) -> dict:
    """Every taste quadrant through the `session` and `recommend` commands on DATABASE_URL."""

    def label_of(track: Mapping[str, Any]) -> str | None:
        return labels.get(track["title"]) if labels is not None else track["quadrant"]

    sessions: list[Any] = []

    def send_for() -> Send:
        ctx = session_process(env)
        sessions.append(ctx)
        return ctx.__enter__()

    try:
        return compare(send_for, lambda listener: static_over_cli(listener, env), label_of)
    finally:
        for ctx in sessions:
            ctx.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.tools.taste_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, help="annotations.csv (Song, Quadrant): the taste label of each title")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = check_over_cli(labels_from_csv(args.labels) if args.labels else None)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for q, r in report.items():
        print(
            f"taste {q} (hit rate in rounds 11-30, reward over 30): "
            + "  ".join(f"{k} {v['hit_rate_11_30']:.0%} {v['reward']:.0f}" for k, v in r.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
