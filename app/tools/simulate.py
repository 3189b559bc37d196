"""`python -m app eval-recommender`: simulated listeners, five policies, rewards with 95 % intervals,
on the demo catalog and on a larger synthetic one.

A simulated listener has hidden tastes, a preferred region of the valence–arousal plane and a
liked sound profile over the music model's quadrant probabilities, that no policy is told; a
strategy (match, lift, calm); and a mood that responds to what plays: it moves toward the
played track's point by a step (a longer one when the track is liked, a shorter one the earlier
it is skipped), plus the track's own hidden effect, and settles a little back toward where it
started after every track (music has to keep working). How well a track suits them is part taste,
part fit to where they are willing to go next: one step from their mood toward the strategy's
goal (the iso principle's premise, which the steering path is built on), and a little how the
track makes them feel. These are the simulator's assumptions, stated so a reader can judge them.

Hidden effects: some tracks lift (or calm) more than their tag suggests, some less. No policy
is told which; only a camera would show it. The camera reads the mood about once a second while
a track plays (with noise), and what it saw becomes a mood response exactly as on the Mood page
(`app.listening.response.MoodTrace`: stored only when it saw enough).

Catalogs: "demo" is the demo's 32 tracks (`app.tools.demo.demo_specs`, their durations) at
places in their quadrants, and "synthetic-N" a synthetic catalog (clusters plus a uniform
share). The simulator doesn't run the music model: in both, a track's sound profile is its
quadrant probabilities as the model might give them, centred on its point but varying from
track to track, so two tracks at the same point can sound different.

Each listener in turn meets each policy from the same start with the same random draws:
- random: any unheard track;
- static: the nearest-mood ranking (`app.recommend.recommend` with the strategy's fixed target
  and pooled approval, no session learning);
- steering: the same along the steering path, learning nothing;
- learning_no_mood: the steering path plus this session's likes, skips and completions;
- learning: everything the Mood page uses, the mood-response bandit too.

Reported per policy: cumulative reward (like 1, completion 0.5, skip 0) over 20 and 50 tracks
with bootstrap 95 % intervals, likes and skips, the share of lift and calm sessions whose mood
reached the goal within 10 and 20 tracks (Wilson 95 % intervals), and how far it moved toward
the goal in 20 tracks. The demo catalog has fewer tracks than 50: its sessions end when every
track was heard.

Listeners whose taste lies away from their mood (`app.tools.taste_check`, through the `session`
command): a steady neutral face on match, liking only one quadrant's tracks and skipping the rest
at 8 s, 30 rounds; per taste quadrant, the share of rounds 11–30 whose first track is their
kind and the likes over 30 rounds, for the learning session and the static ranking. On the demo
catalog always; on an imported catalog (`--taste-db`, labels from `--taste-labels`) when given.

Every session's listening events are deleted before the next listener, so listeners don't
inform each other through likes (pooled approval stays neutral). The full policy's mood
responses are kept: that pooled evidence is how it learns which tracks lift people, so later
listeners benefit from earlier ones, as on a live site (``warmup`` unscored listeners first
stand for a site that has been used a while).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.db import dispose_engines, init_db, session_scope
from app.catalog.models import Track, va_cell_of
from app.catalog.summary import TrackSummary
from app.catalog.synthetic import populate
from app.emotions import QUADRANT_VA, QUADRANTS, MoodPoint, quadrant_of, target_for_strategy
from app.listening import response
from app.listening.steering import steering_path
from app.recommend import recommend
from app.tools import taste_check

POLICIES = ("random", "static", "steering", "learning_no_mood", "learning")
HORIZONS = (20, 50)
GOAL_HORIZONS = (10, 20)
STRATEGIES_SCORED = ("lift", "calm")
DEFAULT_SESSIONS = 30
DEFAULT_CATALOG_SIZE = 3000
DEFAULT_WARMUP = 0

# The listener's response (see the module docstring).
TASTE_WIDTH = 0.35
FIT_WIDTH = 0.4
ISO_STEP = 0.25  # share of the way to the goal a listener is willing to go in one track
WEIGHT_TASTE = 0.55
WEIGHT_FEEL = 0.5  # how much a track's effect toward the listener's goal adds to liking it
NOISE = 0.08
LIKE_ABOVE = 0.62
COMPLETE_ABOVE = 0.42
MOOD_STEP = {"liked": 0.12, "completed": 0.08, "skipped": 0.08}  # a skip's step scales with what was heard
DRIFT = 0.1  # share of the way back to where the listener started, per track: moods settle back
OBSERVATION_NOISE = 0.05  # the policy's reading of the mood at each pick
CAMERA_NOISE = 0.08  # one smoothed camera reading while a track plays
CAMERA_EVERY_S = 1.0
REWARD = {"liked": 1.0, "completed": 0.5, "skipped": 0.0}

# Catalog worlds.
SOUND_SPREAD = 1.0  # track-to-track variation of the sound profile (logit units)
UNIFORM_SHARE = 0.3  # of the synthetic catalog spread over the whole plane, not clustered
DEMO_SPREAD = 0.22
# Hidden effects, per axis: a share of tracks move the mood this much further than their point
# would (lifters/calmers), a share less (letdowns/stirrers), the rest as their tag suggests.
HELPFUL_SHARE, HELPFUL = 0.25, (0.08, 0.16)
UNHELPFUL_SHARE, UNHELPFUL = 0.2, (0.03, 0.08)


# The goal mood: lift reached at valence ≥ this, calm at arousal ≤ minus this.
GOAL_LINE = 0.3


def goal_reached(strategy: str, mood: MoodPoint) -> bool:
    if strategy == "lift":
        return mood.valence >= GOAL_LINE
    if strategy == "calm":
        return mood.arousal <= -GOAL_LINE
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


# ----------------------------------------------------------------------------- catalogs


def sound_profiles(rng: np.random.Generator, va: np.ndarray) -> np.ndarray:
    """Quadrant probabilities (n × 4) centred on each point's quadrants, varying per track."""
    centres = np.array([QUADRANT_VA[q] for q in QUADRANTS])
    logits = -((va[:, None, :] - centres[None]) ** 2).sum(-1) * 4 + rng.normal(0, SOUND_SPREAD, (len(va), 4))
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def hidden_effects(rng: np.random.Generator, ids: list[int]) -> dict[int, tuple[float, float]]:
    """(extra valence, extra arousal) each track moves a listener by, beyond its point's pull."""

    def axis(sign: float) -> np.ndarray:
        u = rng.random(len(ids))
        helpful = rng.uniform(*HELPFUL, len(ids))
        unhelpful = rng.uniform(*UNHELPFUL, len(ids))
        return sign * np.where(u < HELPFUL_SHARE, helpful, np.where(u > 1 - UNHELPFUL_SHARE, -unhelpful, 0.0))

    ev, ea = axis(1.0), axis(-1.0)  # helpful: valence up; calming: arousal down
    return {tid: (float(v), float(a)) for tid, v, a in zip(ids, ev, ea, strict=True)}


def build_catalog(s: Session, name: str, size: int, seed: int) -> list[int]:
    """Fill the (empty) catalog as ``name`` ("demo" or "synthetic"); returns the track ids."""
    rng = np.random.default_rng([seed, 11])
    if name == "synthetic":
        populate(s, size, 0, seed=seed, uniform_share=UNIFORM_SHARE)
        ids = list(s.scalars(select(Track.id).order_by(Track.id)))
        va = np.array(s.execute(select(Track.valence, Track.arousal).order_by(Track.id)).all(), dtype=float)
        probs = sound_profiles(rng, va)
        s.connection().execute(
            update(Track.__table__).where(Track.__table__.c.id == bindparam("tid")),
            [{"tid": tid, **{f"prob_q{j + 1}": float(probs[i, j]) for j in range(4)}} for i, tid in enumerate(ids)],
        )
        return ids
    from app.tools.demo import demo_specs

    specs = demo_specs()
    rows = []
    for n, (quadrant, index, title, artist) in enumerate(specs, start=1):
        cv, ca = QUADRANT_VA[quadrant]
        sv, sa = math.copysign(1, cv), math.copysign(1, ca)
        # Inside its quadrant, spread around the centre.
        v = sv * float(np.clip(abs(cv + rng.normal(0, DEMO_SPREAD)), 0.05, 0.95))
        a = sa * float(np.clip(abs(ca + rng.normal(0, DEMO_SPREAD)), 0.05, 0.95))
        rows.append((n, quadrant, index, title, artist, v, a))
    probs = sound_profiles(rng, np.array([[r[5], r[6]] for r in rows]))
    s.connection().execute(
        insert(Track.__table__),
        [
            {
                "id": n,
                "title": title,
                "artist": artist,
                "album": "Moodtune Demo",
                "duration_s": 20.0 + (index * 1.37) % 10.0,  # as `mood_clip` makes them
                "sha256": f"{n:064x}",
                "media_path": f"demo/{n}.wav",
                "format": "wav",
                "quadrant": quadrant_of(v, a),
                "valence": v,
                "arousal": a,
                **{f"prob_q{j + 1}": float(probs[n - 1, j]) for j in range(4)},
                "tagged_by": "simulated",
                "confidence": float(probs[n - 1].max()),
                "va_cell": va_cell_of(v, a),
                "created_at": datetime(2026, 1, 1),
            }
            for n, quadrant, index, title, artist, v, a in rows
        ],
    )
    return [r[0] for r in rows]


# ----------------------------------------------------------------------------- policies


@dataclass
class Outcome:
    rewards: list[float]
    likes: int
    skips: int
    goal_steps: int | None  # first track after which the mood was at the goal
    gains: list[float]  # the mood's progress toward the goal after each track


Picker = Callable[[Session, str, MoodPoint, str, set[int]], TrackSummary | None]


def pick_random(rng: np.random.Generator, ids: list[int]) -> Picker:
    def pick(s: Session, _sid: str, _mood: MoodPoint, _strategy: str, heard: set[int]) -> TrackSummary | None:
        unheard = [tid for tid in ids if tid not in heard] if len(heard) > len(ids) // 2 else ids
        for _ in range(100):
            tid = unheard[int(rng.integers(0, len(unheard)))] if unheard else None
            if tid is not None and tid not in heard:
                return repository.track_summaries(s, [tid])[0]
        return None

    return pick


def pick_static(s: Session, _sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(s, mood, strategy=strategy, n=1, exclude_track_ids=heard)
    return picks[0].track if picks else None


def pick_steering(s: Session, _sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(s, mood, strategy=strategy, n=1, exclude_track_ids=heard, path=steering_path(mood, strategy))
    return picks[0].track if picks else None


def pick_learning_no_mood(s: Session, sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(
        s,
        mood,
        strategy=strategy,
        n=1,
        session_id=sid,
        exclude_track_ids=heard,
        path=steering_path(mood, strategy),
        response_weight=0.0,
    )
    return picks[0].track if picks else None


def pick_learning(s: Session, sid: str, mood: MoodPoint, strategy: str, heard: set[int]) -> TrackSummary | None:
    picks = recommend(
        s, mood, strategy=strategy, n=1, session_id=sid, exclude_track_ids=heard, path=steering_path(mood, strategy)
    )
    return picks[0].track if picks else None


def _camera_trace(
    track: TrackSummary, strategy: str, moods: tuple[MoodPoint, MoodPoint], listened_s: float, rng: np.random.Generator
) -> response.MoodTrace:
    """What the camera saw while the track played: one noisy smoothed reading a second, the
    mood moving evenly from ``start`` to ``end``."""
    start, end = moods
    trace = response.MoodTrace(track.track_id, strategy)
    times = np.arange(0.0, listened_s + 1e-9, CAMERA_EVERY_S)
    noise = rng.normal(0, CAMERA_NOISE, (len(times), 2))
    for t, (nv, na) in zip(times, noise, strict=True):
        share = t / listened_s if listened_s > 0 else 1.0
        v = start.valence + share * (end.valence - start.valence) + nv
        a = start.arousal + share * (end.arousal - start.arousal) + na
        trace.add(MoodPoint(_clip(v), _clip(a)), float(t))
    return trace


def _progress(strategy: str, start: MoodPoint, mood: MoodPoint) -> float:
    return response.goal_change(strategy, mood.valence - start.valence, mood.arousal - start.arousal)


def run_session(
    s: Session,
    sid: str,
    listener: Listener,
    pick: Picker,
    *,
    rng: np.random.Generator,
    steps: int,
    effects: Mapping[int, tuple[float, float]] | None = None,
    camera: np.random.Generator | None = None,
) -> Outcome:
    """One listener's session with one policy. ``effects``: the tracks' hidden effects (none
    without); ``camera``: record mood responses, with this generator's noise (not without)."""
    effects = effects or {}
    mood = listener.start
    heard: set[int] = set()
    out = Outcome([], 0, 0, None, [])
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
        ev, ea = effects.get(track.track_id, (0.0, 0.0))
        feel = response.goal_change(listener.strategy, ev, ea)
        u = (
            WEIGHT_TASTE * listener.appeal(track)
            + (1 - WEIGHT_TASTE) * listener.fit(track, mood)
            + WEIGHT_FEEL * feel
            + noise
        )
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
        before = mood
        dv, da = track.valence - mood.valence, track.arousal - mood.arousal
        distance = math.hypot(dv, da)
        move = min(distance, MOOD_STEP[result] * heard_share) / distance if distance > 0 else 0.0
        v = mood.valence + dv * move + ev * heard_share
        a = mood.arousal + da * move + ea * heard_share
        v, a = v + DRIFT * (listener.start.valence - v), a + DRIFT * (listener.start.arousal - a)
        mood = MoodPoint(_clip(v), _clip(a))
        if camera is not None:
            listened = heard_share * track.duration_s
            measured = _camera_trace(track, listener.strategy, (before, mood), listened, camera).response(listened)
            if measured is not None:
                response.store(s, sid, [measured])
        out.gains.append(_progress(listener.strategy, listener.start, mood))
        if out.goal_steps is None and goal_reached(listener.strategy, mood):
            out.goal_steps = step + 1
    return out


# ----------------------------------------------------------------------------- report


def _ci(values: list[float], rng: np.random.Generator, resamples: int = 2000) -> dict[str, object]:
    """Mean and bootstrap percentile 95 % interval over sessions."""
    x = np.asarray(values, dtype=float)
    if not len(x):
        return {"mean": 0.0, "ci95": [0.0, 0.0]}
    means = x[rng.integers(0, len(x), (resamples, len(x)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": round(float(x.mean()), 3), "ci95": [round(float(lo), 3), round(float(hi), 3)]}


def _share_ci(hits: int, n: int) -> list[float]:
    """Wilson 95 % interval of a share."""
    if n == 0:
        return [0.0, 0.0]
    z, p = 1.96, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)]


def _summarise(rows: list[tuple[str, Outcome]], boot: np.random.Generator) -> dict[str, object]:
    entry: dict[str, object] = {f"reward_{h}": _ci([sum(o.rewards[:h]) for _, o in rows], boot) for h in HORIZONS}
    entry["likes_20"] = round(float(np.mean([sum(r == 1.0 for r in o.rewards[:20]) for _, o in rows])), 3)
    entry["skips_20"] = round(float(np.mean([sum(r == 0.0 for r in o.rewards[:20]) for _, o in rows])), 3)
    for h in GOAL_HORIZONS:
        shares, intervals = {}, {}
        for strategy in STRATEGIES_SCORED:
            hits = [o.goal_steps is not None and o.goal_steps <= h for st, o in rows if st == strategy]
            shares[strategy] = round(float(np.mean(hits or [0.0])), 3)
            intervals[strategy] = _share_ci(sum(hits), len(hits))
        entry[f"goal_reached_{h}"] = shares
        entry[f"goal_reached_{h}_ci95"] = intervals
    entry["mood_gain_20"] = {
        strategy: _ci([o.gains[min(19, len(o.gains) - 1)] for st, o in rows if st == strategy and o.gains], boot)
        for strategy in STRATEGIES_SCORED
    }
    return entry


def evaluate_catalog(
    name: str,
    sessions: int = DEFAULT_SESSIONS,
    catalog_size: int = DEFAULT_CATALOG_SIZE,
    seed: int = 0,
    *,
    warmup: int = DEFAULT_WARMUP,
    policies: tuple[str, ...] = POLICIES,
) -> dict:
    """Every policy (or those named) on one catalog ("demo" or "synthetic"):
    ``{"policies": {…}, "tracks": n}``."""
    strategies = ("match", "lift", "calm")
    steps = max(HORIZONS)
    results: dict[str, list[tuple[str, Outcome]]] = {p: [] for p in policies}
    with tempfile.TemporaryDirectory(prefix="moodtune-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        init_db(url)
        try:
            with session_scope(url) as s:
                ids = build_catalog(s, name, catalog_size, seed)
                effects = hidden_effects(np.random.default_rng([seed, 12]), ids)
                for i in range(-warmup, sessions):
                    strategy = strategies[i % len(strategies)]
                    listener = make_listener(np.random.default_rng([seed, i + 10_000]), strategy)
                    pickers: dict[str, Picker] = {
                        "random": pick_random(np.random.default_rng([seed, i + 10_000, 1]), ids),
                        "static": pick_static,
                        "steering": pick_steering,
                        "learning_no_mood": pick_learning_no_mood,
                        "learning": pick_learning,
                    }
                    for policy, pick in pickers.items():
                        if policy not in policies or (i < 0 and policy != "learning"):
                            continue  # warm-up listeners only leave the full policy's evidence
                        sid = f"eval-{policy}-{i}"
                        outcome = run_session(
                            s,
                            sid,
                            listener,
                            pick,
                            rng=np.random.default_rng([seed, i + 10_000, 2]),
                            steps=steps,
                            effects=effects,
                            camera=np.random.default_rng([seed, i + 10_000, 3]) if policy == "learning" else None,
                        )
                        repository.forget_session(s, sid)  # likes and skips; the responses stay
                        if i >= 0:
                            results[policy].append((strategy, outcome))
            taste_away = taste_check.check_over_cli(env={**os.environ, "DATABASE_URL": url}) if name == "demo" else None
        finally:
            dispose_engines()
    boot = np.random.default_rng(seed)
    return {
        "policies": {p: _summarise(rows, boot) for p, rows in results.items()},
        "tracks": len(ids),
        "taste_away": taste_away,
    }


def evaluate(
    sessions: int = DEFAULT_SESSIONS,
    catalog_size: int = DEFAULT_CATALOG_SIZE,
    seed: int = 0,
    warmup: int = DEFAULT_WARMUP,
    *,
    taste_db: str | None = None,
    taste_labels: Path | None = None,
) -> dict:
    """The report of `eval-recommender --json`: the DESIGN.md shape for the synthetic catalog
    (``policies``, ``sessions``, ``catalog``), and every catalog under ``catalogs``; with
    ``taste_db``, that catalog's taste-away listeners under ``catalogs["taste-db"]``."""
    synthetic = f"synthetic-{catalog_size}"
    catalogs = {
        "demo": evaluate_catalog("demo", sessions, catalog_size, seed, warmup=warmup),
        synthetic: evaluate_catalog("synthetic", sessions, catalog_size, seed, warmup=warmup),
    }
    if taste_db:
        labels = taste_check.labels_from_csv(taste_labels) if taste_labels else None
        env = {**os.environ, "DATABASE_URL": taste_db}
        catalogs["taste-db"] = {"taste_away": taste_check.check_over_cli(labels, env=env)}
    return {
        "policies": catalogs[synthetic]["policies"],
        "sessions": sessions,
        "catalog": synthetic,
        "warmup": warmup,
        "catalogs": catalogs,
    }


def _interval(x: Mapping) -> str:
    return f"{x['mean']:6.2f} [{x['ci95'][0]:.2f}, {x['ci95'][1]:.2f}]"


def eval_recommender_cli(args: argparse.Namespace) -> int:
    report = evaluate(
        sessions=args.sessions,
        catalog_size=args.catalog_size,
        seed=args.seed,
        warmup=getattr(args, "warmup", 0),
        taste_db=getattr(args, "taste_db", None),
        taste_labels=getattr(args, "taste_labels", None),
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, catalog in report["catalogs"].items():
        if "policies" in catalog:
            print(f"{report['sessions']} simulated sessions on {name} ({catalog['tracks']} tracks)")
        for policy, p in catalog.get("policies", {}).items():
            g10, g20 = p["goal_reached_10"], p["goal_reached_20"]
            print(
                f"  {policy:16} reward@20 {_interval(p['reward_20'])}  reward@50 {_interval(p['reward_50'])}"
                f"  likes@20 {p['likes_20']:4.1f}  skips@20 {p['skips_20']:4.1f}"
                f"  goal@10 lift {g10['lift']:4.0%} calm {g10['calm']:4.0%}"
                f"  goal@20 lift {g20['lift']:4.0%} calm {g20['calm']:4.0%}"
            )
        for taste, by_policy in (catalog.get("taste_away") or {}).items():
            print(
                f"  taste {taste} away from a neutral face (hit rate rounds 11-30, likes/30): "
                + "  ".join(f"{k} {v['hit_rate_11_30']:.0%} {v['reward']:.0f}" for k, v in by_policy.items())
            )
    return 0
