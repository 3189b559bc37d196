"""`python -m app eval-recommender`: simulated listeners, three policies, rewards with 95 % intervals.

A simulated listener has hidden tastes, a preferred region of the valence–arousal plane and a
liked sound profile over the music model's quadrant probabilities, that no policy is told; a
strategy (match, lift, calm); and a mood that responds to what plays: it moves toward the
played track's point by a step, a longer one when the track is liked, a shorter one the earlier
it is skipped. How well a track suits them is part taste, part fit to where they are willing to
go next: one step from their mood toward the strategy's goal (the iso principle's premise, which
the steering path is built on; it is stated here so a reader can judge it).

Each listener in turn meets each policy from the same start with the same random draws:
- random: any unheard track;
- static: today's ranking (`app.recommend.recommend` with the strategy's fixed target and pooled
  approval, no session learning);
- learning: the same ranking along the steering path, learning from the session's own listening
  events, exactly as the Mood page's service asks for it.

Every session's events are deleted before the next listener, so listeners don't inform each
other (pooled approval stays neutral) and the order of sessions doesn't matter.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.db import dispose_engines, init_db, session_scope
from app.catalog.models import Track
from app.catalog.summary import TrackSummary
from app.catalog.synthetic import populate
from app.emotions import QUADRANTS, MoodPoint, target_for_strategy
from app.listening.steering import steering_path
from app.recommend import recommend

POLICIES = ("random", "static", "learning")
HORIZONS = (20, 50)
GOAL_HORIZON = 20
DEFAULT_SESSIONS = 30
DEFAULT_CATALOG_SIZE = 3000

# The listener's response (see the module docstring).
TASTE_WIDTH = 0.35
FIT_WIDTH = 0.4
ISO_STEP = 0.25  # share of the way to the goal a listener is willing to go in one track
WEIGHT_TASTE = 0.55
NOISE = 0.08
LIKE_ABOVE = 0.62
COMPLETE_ABOVE = 0.42
MOOD_STEP = {"liked": 0.25, "completed": 0.15, "skipped": 0.15}  # a skip's step scales with what was heard
OBSERVATION_NOISE = 0.05  # the camera's smoothed reading of the mood
REWARD = {"liked": 1.0, "completed": 0.5, "skipped": 0.0}


def goal_reached(strategy: str, mood: MoodPoint) -> bool:
    if strategy == "lift":
        return mood.valence >= 0.3
    if strategy == "calm":
        return mood.arousal <= -0.3
    return False


@dataclass(frozen=True)
class Listener:
    strategy: str
    start: MoodPoint
    taste_centre: tuple[float, float]
    sound: tuple[float, ...]  # weights over QUADRANTS, sum 1

    def appeal(self, track: TrackSummary) -> float:
        """Hidden taste in [0, 1]: near the preferred region, and sounding as liked."""
        d2 = (track.valence - self.taste_centre[0]) ** 2 + (track.arousal - self.taste_centre[1]) ** 2
        region = math.exp(-d2 / (2 * TASTE_WIDTH**2))
        sound = sum(w * track.probabilities.get(q, 0.0) for w, q in zip(self.sound, QUADRANTS, strict=True))
        return 0.5 * region + 0.5 * sound / max(self.sound)

    def fit(self, track: TrackSummary, mood: MoodPoint) -> float:
        """How well the track suits the mood now: near one step from it toward the goal."""
        goal = target_for_strategy(mood, self.strategy)
        want_v = mood.valence + ISO_STEP * (goal.valence - mood.valence)
        want_a = mood.arousal + ISO_STEP * (goal.arousal - mood.arousal)
        d2 = (track.valence - want_v) ** 2 + (track.arousal - want_a) ** 2
        return math.exp(-d2 / (2 * FIT_WIDTH**2))


def make_listener(rng: np.random.Generator, strategy: str) -> Listener:
    if strategy == "lift":
        start = (rng.uniform(-0.8, -0.3), rng.uniform(-0.6, 0.7))
    elif strategy == "calm":
        start = (rng.uniform(-0.8, 0.6), rng.uniform(0.4, 0.9))
    else:
        start = (rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8))
    return Listener(
        strategy=strategy,
        start=MoodPoint(*start),
        taste_centre=(float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.8))),
        sound=tuple(float(x) for x in rng.dirichlet([0.5] * len(QUADRANTS))),
    )


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


@dataclass
class Outcome:
    rewards: list[float]
    likes: int
    skips: int
    goal_step: int | None  # first track after which the mood was at the goal


Picker = Callable[[Session, str, MoodPoint, str, set[int]], TrackSummary | None]


def pick_random(rng: np.random.Generator, ids: list[int]) -> Picker:
    def pick(s: Session, _sid: str, _mood: MoodPoint, _strategy: str, heard: set[int]) -> TrackSummary | None:
        for _ in range(100):
            tid = ids[int(rng.integers(0, len(ids)))]
            if tid not in heard:
                return repository.track_summaries(s, [tid])[0]
        return None

    return pick


def pick_static(s: Session, _sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(s, mood, strategy=strategy, n=1, exclude_track_ids=heard)
    return picks[0].track if picks else None


def pick_learning(s: Session, sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(
        s, mood, strategy=strategy, n=1, session_id=sid, exclude_track_ids=heard, path=steering_path(mood, strategy)
    )
    return picks[0].track if picks else None


def run_session(
    s: Session, sid: str, listener: Listener, pick: Picker, *, rng: np.random.Generator, steps: int
) -> Outcome:
    mood = listener.start
    heard: set[int] = set()
    out = Outcome([], 0, 0, None)
    for step in range(steps):
        seen = MoodPoint(
            _clip(mood.valence + rng.normal(0, OBSERVATION_NOISE)),
            _clip(mood.arousal + rng.normal(0, OBSERVATION_NOISE)),
        )
        track = pick(s, sid, seen, listener.strategy, heard)
        noise = rng.normal(0, NOISE)  # drawn whatever was picked, so policies share the draws
        u_skip = rng.uniform(0.3, 1.0)
        if track is None:
            break
        heard.add(track.track_id)
        u = WEIGHT_TASTE * listener.appeal(track) + (1 - WEIGHT_TASTE) * listener.fit(track, mood) + noise
        if u > LIKE_ABOVE:
            result, heard_share = "liked", 1.0
            repository.record_listening(s, sid, track.track_id, "liked")
            repository.record_listening(s, sid, track.track_id, "completed", position_s=track.duration_s)
        elif u > COMPLETE_ABOVE:
            result, heard_share = "completed", 1.0
            repository.record_listening(s, sid, track.track_id, "completed", position_s=track.duration_s)
        else:
            result = "skipped"
            heard_share = max(0.0, u / COMPLETE_ABOVE) ** 2 * u_skip
            repository.record_listening(s, sid, track.track_id, "skipped", position_s=heard_share * track.duration_s)
        out.rewards.append(REWARD[result])
        out.likes += result == "liked"
        out.skips += result == "skipped"
        dv, da = track.valence - mood.valence, track.arousal - mood.arousal
        distance = math.hypot(dv, da)
        if distance > 0:
            move = min(distance, MOOD_STEP[result] * heard_share) / distance
            mood = MoodPoint(_clip(mood.valence + dv * move), _clip(mood.arousal + da * move))
        if out.goal_step is None and goal_reached(listener.strategy, mood):
            out.goal_step = step + 1
    return out


def _ci(values: list[float], rng: np.random.Generator, resamples: int = 2000) -> dict[str, object]:
    """Mean and bootstrap percentile 95 % interval over sessions."""
    x = np.asarray(values, dtype=float)
    means = x[rng.integers(0, len(x), (resamples, len(x)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": round(float(x.mean()), 3), "ci95": [round(float(lo), 3), round(float(hi), 3)]}


def evaluate(sessions: int = DEFAULT_SESSIONS, catalog_size: int = DEFAULT_CATALOG_SIZE, seed: int = 0) -> dict:
    """The DESIGN.md report of `eval-recommender --json`."""
    strategies = ("match", "lift", "calm")
    steps = max(HORIZONS)
    results: dict[str, list[tuple[str, Outcome]]] = {p: [] for p in POLICIES}
    with tempfile.TemporaryDirectory(prefix="moodtune-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        init_db(url)
        try:
            with session_scope(url) as s:
                populate(s, catalog_size, 0, seed=seed)
                ids = list(s.scalars(select(Track.id)))
                for i in range(sessions):
                    strategy = strategies[i % len(strategies)]
                    listener = make_listener(np.random.default_rng([seed, i]), strategy)
                    pickers = {
                        "random": pick_random(np.random.default_rng([seed, i, 1]), ids),
                        "static": pick_static,
                        "learning": pick_learning,
                    }
                    for policy, pick in pickers.items():
                        sid = f"eval-{policy}-{i}"
                        outcome = run_session(
                            s, sid, listener, pick, rng=np.random.default_rng([seed, i, 2]), steps=steps
                        )
                        repository.forget_session(s, sid)
                        results[policy].append((strategy, outcome))
        finally:
            dispose_engines()
    boot = np.random.default_rng(seed)
    report: dict[str, dict] = {}
    for policy, rows in results.items():
        entry: dict[str, object] = {f"reward_{h}": _ci([sum(o.rewards[:h]) for _, o in rows], boot) for h in HORIZONS}
        entry["likes_20"] = round(float(np.mean([sum(r == 1.0 for r in o.rewards[:20]) for _, o in rows])), 3)
        entry["skips_20"] = round(float(np.mean([sum(r == 0.0 for r in o.rewards[:20]) for _, o in rows])), 3)
        entry["goal_reached_20"] = {
            strategy: round(
                float(
                    np.mean(
                        [o.goal_step is not None and o.goal_step <= GOAL_HORIZON for st, o in rows if st == strategy]
                        or [0.0]
                    )
                ),
                3,
            )
            for strategy in ("lift", "calm")
        }
        report[policy] = entry
    return {"policies": report, "sessions": sessions, "catalog": f"synthetic-{catalog_size}"}


def eval_recommender_cli(args: argparse.Namespace) -> int:
    report = evaluate(sessions=args.sessions, catalog_size=args.catalog_size, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['sessions']} simulated sessions on {report['catalog']}")
    for policy, p in report["policies"].items():
        r20, r50 = p["reward_20"], p["reward_50"]
        print(
            f"{policy:9} reward@20 {r20['mean']:6.2f} [{r20['ci95'][0]:.2f}, {r20['ci95'][1]:.2f}]"
            f"  reward@50 {r50['mean']:6.2f} [{r50['ci95'][0]:.2f}, {r50['ci95'][1]:.2f}]"
            f"  likes@20 {p['likes_20']:.1f}  skips@20 {p['skips_20']:.1f}"
            f"  goal@20 lift {p['goal_reached_20']['lift']:.0%} calm {p['goal_reached_20']['calm']:.0%}"
        )
    return 0
