"""Mood-aware recommendations from the catalog.

listener mood (face distribution, label or point) → target point for the strategy
(`app.emotions.target_for_strategy`) → nearest tracks, found through the indexed grid cell
(`Track.va_cell`) in a box around the target that widens until it surely holds the nearest
ones → re-ranked by closeness, the track's probability for the target quadrant, its overall like/skip
record (a prior that fades as the session's own evidence grows), this session's preference
(`app.listening.preferences`) and, for lift and calm, how the tracks moved listeners' moods
(`app.listening.response`, near the target only) → this session's plays/skips removed → no
artist twice in a row.
With a steering path (`app.listening.steering`) the i-th pick is ranked against the i-th point.

Only a bounded candidate set ever leaves the database, so the cost doesn't grow with the catalog.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import CompoundSelect, Float, Integer, Select, bindparam, literal_column, select, union_all
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import GRID, Track, grid_index
from app.catalog.summary import TrackSummary
from app.emotions import (
    FACE_LABELS,
    QUADRANT_NAMES,
    QUADRANTS,
    STRATEGIES,
    MoodPoint,
    emotion_to_point,
    label_to_point,
    target_for_strategy,
)
from app.listening import preferences, response
from app.listening.mood import READING_SOURCES
from app.listening.steering import target_at

MoodInput = Mapping[str, float] | MoodPoint | str

CLOSENESS_SIGMA = 0.35  # distance at which closeness falls to e^-0.5 ≈ 0.61
WEIGHT_CLOSENESS = 0.75
WEIGHT_QUADRANT_PROB = 0.25
FEEDBACK_SPAN = 0.6  # score multiplier ranges over 1 ± 0.3 from all-skips to all-likes
JITTER = 0.03  # seeded tie-breaking/variety, small against the score differences that matter
# The nearest-track search's first box: small enough that on a million-track catalog it holds a
# few times k rather than thousands to compute and sort (and check against the exclusions); a
# smaller catalog only doubles it a couple more times, each one cheap indexed query.
START_HALF_WIDTH = 0.0125
MAX_CANDIDATES = 500
LIKED_CANDIDATES = 30  # also searched around what the session liked
PATH_CANDIDATES = 15  # at least, around each point of a steering path (each gets about one pick)
# The session's own preference (in [-1, 1]) is added to the score (at most about 1): a clear
# taste outweighs a moderate difference in closeness, never a far miss of the mood.
PREFERENCE_WEIGHT = 0.5
PRIOR_FADE = 2.0  # session evidence (sum of |weights|) at which pooled approval has half its say
AFFINITY_REASON = 0.25  # session preference above which the reason says so
# The mood-response bandit (`app.listening.response`): a track's expected change toward the goal
# (plus its optimism bonus), over RESPONSE_SCALE and clipped to ±1, is added at this weight: like
# the session's taste, enough to reorder tracks that fit the path about equally, not to jump.
RESPONSE_WEIGHT = 0.5
RESPONSE_SCALE = 0.2  # a change toward the goal this big over one track is a strong response
# Bounded exploration: the response term applies only to tracks within this distance of the
# point they are ranked against, so neither evidence nor optimism pulls in a far one.
EXPLORE_RADIUS = 0.35


@dataclass(frozen=True)
class Recommendation:
    """A track picked for a listener: the catalog's summary plus why and how well it fits.
    The listener's queue holds these as they are."""

    track: TrackSummary
    score: float
    reason: str
    # The point it was ranked against (its place on the steering path); None for a replay or a
    # restored queue. Not part of equality: a queue restored from a snapshot is the same queue.
    target: MoodPoint | None = field(default=None, compare=False)

    # The fields the CLI, the queue and the pages read most, so they need not spell `.track.`.
    @property
    def track_id(self) -> int:
        return self.track.track_id

    @property
    def title(self) -> str:
        return self.track.title

    @property
    def artist(self) -> str:
        return self.track.artist

    @property
    def quadrant(self) -> str:
        return self.track.quadrant

    @property
    def valence(self) -> float:
        return self.track.valence

    @property
    def arousal(self) -> float:
        return self.track.arousal

    def as_json(self) -> dict[str, object]:
        """The DESIGN.md shape of `python -m app recommend --json`."""
        t = self.track
        return {
            "track_id": t.track_id,
            "title": t.title,
            "artist": t.artist,
            "quadrant": t.quadrant,
            "valence": round(t.valence, 3),
            "arousal": round(t.arousal, 3),
            "score": self.score,
            "reason": self.reason,
        }


def listener_point(mood: MoodInput) -> tuple[MoodPoint, str | None]:
    """The listener's point and, when known, their top face label."""
    if isinstance(mood, MoodPoint):
        return mood, None
    if isinstance(mood, str):
        return label_to_point(mood), mood
    point = emotion_to_point(mood)
    known = {k: float(v) for k, v in mood.items() if k in FACE_LABELS}
    return point, max(known, key=known.__getitem__)


# ----------------------------------------------------------------------------- reasons
# A reason reads "<who> → <what the track is> <what it is for> · <where it sits> [· feedback]":
# who says where the mood came from (never "you look sad" for a mood the listener picked), what
# is the track's own mood words, where is its place relative to the target. The wording of the
# middle rotates with `variant` (its rank in the queue), so five reasons never read alike.

# Where the listener's mood came from, as `app.listening.mood.MoodReading.source` names it;
# None is the command line's "this emotion", described as before ("you look sad").
_READER = {"camera": "the camera", "snapshot": "your snapshot", "photo": "your photo"}
_FEEL_BY_LABEL = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "afraid",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprised",
}
_FEEL_BY_QUADRANT = {"Q1": "upbeat", "Q2": "tense", "Q3": "low", "Q4": "relaxed"}

_WHAT = (
    "{a_energy} {energy}, {colour} track",
    "something {energy} and {colour}",
    "{a_colour} {colour}, {energy} song",
    "{energy}, {colour} music",
    "{a_energy} {energy} piece with a {colour} feel",
)
# What the track is for, per strategy. No phrase of one strategy appears in another's.
PURPOSES: dict[str, tuple[str, ...]] = {
    "match": (
        "that matches your mood",
        "in tune with how you feel",
        "that meets you where you are",
        "to keep you company",
        "that fits the moment",
    ),
    "lift": (
        "to lift you",
        "to brighten things up",
        "to raise your spirits",
        "for a lighter mood",
        "to nudge you upward",
    ),
    "calm": (
        "to calm you down",
        "to help you unwind",
        "to slow things down",
        "for a calmer moment",
        "to let you breathe",
    ),
}
# Within this distance of the target a track is "on target"; beyond it, the reason names the
# direction it leans (brighter, darker, livelier, gentler).
NEAR_TARGET = 0.12
# Beyond this distance in the plane a track is no longer "what you asked for", only the nearest
# the catalog has; the reason says so rather than over-promise.
FAR_FROM_TARGET = 0.75
REASON_SOURCES: tuple[str | None, ...] = (None, *READING_SOURCES)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _track_words(valence: float, arousal: float) -> tuple[str, str]:
    energy = "energetic" if arousal > 0.4 else "lively" if arousal > 0 else "gentle" if arousal > -0.4 else "very calm"
    colour = "bright" if valence > 0.4 else "warm" if valence > 0 else "wistful" if valence > -0.4 else "dark"
    return energy, colour


def describe_track_mood(valence: float, arousal: float) -> str:
    return ", ".join(_track_words(valence, arousal))


def describe_listener(label: str | None, listener: MoodPoint, source: str | None = None) -> str:
    """Who the music is for, true to where the mood came from: "you picked sad", "you picked
    calm / tender" (a point on the pad), "the camera reads you as tense", "your photo reads you
    as happy"; without a source (the command line), "you look sad" / "you seem low"."""
    if source not in REASON_SOURCES:
        raise ValueError(f"unknown mood source {source!r}; expected one of {', '.join(map(str, REASON_SOURCES))}")
    if source == "manual":
        return f"you picked {label or QUADRANT_NAMES[listener.quadrant]}"
    feel = _FEEL_BY_LABEL.get(label, label) if label else _FEEL_BY_QUADRANT[listener.quadrant]
    if source is not None:
        return f"{_READER[source]} reads you as {feel}"
    return f"you look {feel}" if label else f"you seem {feel}"


def describe_place(valence: float, arousal: float, target: MoodPoint, strategy: str) -> str:
    """Where the track sits relative to the target: on it, or the way it leans."""
    dv, da = valence - target.valence, arousal - target.arousal
    if math.hypot(dv, da) <= NEAR_TARGET:
        return "right on your mood" if strategy == "match" else "right on target"
    if abs(dv) >= abs(da):
        return "a step brighter" if dv > 0 else "a shade darker"
    return "a little livelier" if da > 0 else "a gentler one"


def reason_for(
    label: str | None,
    listener: MoodPoint,
    strategy: str,
    valence: float,
    arousal: float,
    *,
    feedback: repository.Feedback,
    target: MoodPoint | None = None,
    source: str | None = None,
    variant: int = 0,
    session_affinity: float = 0.0,
    evidence: str | None = None,
) -> str:
    """Why this track, in a line. `label`/`listener`: the listener's top face label (None for a
    bare point) and point; `source`: where that mood came from (see `describe_listener`);
    `valence`/`arousal`: the track's; `target`: the strategy's target (derived when None);
    `variant`: rotates the wording (the track's rank), deterministically; `session_affinity`:
    this session's preference for the track (`SessionPreference.score`); `evidence`: what mood
    responses say about it (`app.listening.response.reason_words`)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    target = target or target_for_strategy(listener, strategy)
    who = describe_listener(label, listener, source)
    energy, colour = _track_words(valence, arousal)
    if math.hypot(valence - target.valence, arousal - target.arousal) > FAR_FROM_TARGET:
        wanted = describe_track_mood(target.valence, target.arousal)
        text = f"{who} → {_article(energy)} {energy}, {colour} track, the nearest the catalog has to {wanted}"
    else:
        # Different strides through the two lists, so neighbours differ in both parts.
        what = _WHAT[(variant * 2) % len(_WHAT)].format(
            energy=energy, colour=colour, a_energy=_article(energy), a_colour=_article(colour)
        )
        purposes = PURPOSES[strategy]
        purpose = purposes[variant % len(purposes)]
        text = f"{who} → {what} {purpose} · {describe_place(valence, arousal, target, strategy)}"
    if evidence:
        text += f" · {evidence}"
    if session_affinity >= AFFINITY_REASON:
        text += " · like what you liked this session"
    elif not evidence and feedback.likes >= 2 and feedback.approval >= 0.6:
        text += " · liked by other listeners"
    return text


# ----------------------------------------------------------------------------- candidates


def _cells_in_box(v_lo: float, v_hi: float, a_lo: float, a_hi: float) -> list[int]:
    cols = range(grid_index(v_lo), grid_index(v_hi) + 1)
    rows = range(grid_index(a_lo), grid_index(a_hi) + 1)
    return [r * GRID + c for r in rows for c in cols]


def nearest_track_ids(
    session: Session, target: MoodPoint, k: int, exclude: Collection[int] = ()
) -> list[tuple[int, float]]:
    """The k tracks nearest to `target` (id, distance), nearest first, minus `exclude`.

    Searches a box of half-width h around the target through the grid-cell index and doubles h
    until the k-th hit is within h: nothing outside the box can then be nearer, so the answer is
    exact while touching only a few cells on a big catalog.
    """
    return nearest_for_targets(session, {target: k}, exclude)[target]


def nearest_for_targets(
    session: Session,
    wanted: Mapping[MoodPoint, int],
    exclude: Collection[int] = (),
    *,
    excluded_points: Mapping[int, tuple[float, float]] | None = None,
) -> dict[MoodPoint, list[tuple[int, float]]]:
    """`nearest_track_ids` for several targets (target -> k) at once: each round of the widening
    search is one query for all the targets still searching (a steering path has several points,
    and a round trip to the database costs more than the indexed read).

    `excluded_points` says where some of the excluded tracks lie (a session's history knows its
    tracks' points): only those inside a box can hide rows of it, so its query asks for fewer."""
    # The exclusions are dropped here rather than in SQL (a few hundred ids rendered into every
    # query of the search would cost more than the read): each target's query asks for k plus
    # the excluded tracks that may lie in its box (at most k of them at first), and only when the
    # excluded ones among those leave fewer than k, and the box had more, for all of them: then
    # the rows surely hold the k nearest that are not excluded.
    excluded = exclude if isinstance(exclude, set | frozenset) else set(exclude)
    placed = {tid: p for tid, p in (excluded_points or {}).items() if tid in excluded}
    unplaced = len(excluded) - len(placed)
    placed_v = np.array([p[0] for p in placed.values()], dtype=float)
    placed_a = np.array([p[1] for p in placed.values()], dtype=float)

    def excluded_in_box(t: MoodPoint, h: float) -> int:
        h += 1e-6  # the database's single-precision columns: count a hair wider, never fewer
        inside = (np.abs(placed_v - t.valence) <= h) & (np.abs(placed_a - t.arousal) <= h)
        return unplaced + int(inside.sum())

    half = dict.fromkeys(wanted, START_HALF_WIDTH)
    all_excluded = dict.fromkeys(wanted, False)  # asked for every excluded one the box may hold
    found: dict[MoodPoint, list[tuple[int, float]]] = {}
    while half:
        boxed = [t for t, h in half.items() if h < 2.0]
        rows: dict[MoodPoint, list[tuple[int, float]]] = {}
        asked: dict[MoodPoint, int] = {}
        if boxed:
            params: dict[str, object] = {}
            for i, t in enumerate(boxed):
                h = half[t]
                v_lo, v_hi, a_lo, a_hi = t.valence - h, t.valence + h, t.arousal - h, t.arousal + h
                hidden = excluded_in_box(t, h)
                extra = hidden if all_excluded[t] else min(hidden, wanted[t])
                asked[t] = wanted[t] + extra
                all_excluded[t] = extra == hidden
                params.update(
                    {
                        f"tv{i}": t.valence,
                        f"ta{i}": t.arousal,
                        f"k{i}": asked[t],
                        f"cells{i}": _cells_in_box(v_lo, v_hi, a_lo, a_hi),
                        f"v_lo{i}": v_lo,
                        f"v_hi{i}": v_hi,
                        f"a_lo{i}": a_lo,
                        f"a_hi{i}": a_hi,
                    }
                )
            by_arm: dict[int, list[tuple[int, float]]] = {i: [] for i in range(len(boxed))}
            for tid, d2, arm in session.execute(_boxes_statement(len(boxed)), params):
                by_arm[int(arm)].append((int(tid), float(d2)))
            rows = {t: by_arm[i] for i, t in enumerate(boxed)}
        for t in half.keys() - set(boxed):  # the box covers the plane: every track is a candidate
            asked[t] = wanted[t] + len(excluded)
            all_excluded[t] = True
            params = {"tv0": t.valence, "ta0": t.arousal, "k0": asked[t]}
            rows[t] = [(int(tid), float(d2)) for tid, d2, _ in session.execute(_plane_statement(), params)]
        for t, found_rows in rows.items():
            k = wanted[t]
            found_rows.sort(key=lambda hit: (hit[1], hit[0]))  # a union doesn't keep its parts' order
            hits = [hit for hit in found_rows if hit[0] not in excluded][:k]
            if len(hits) < k and len(found_rows) == asked[t] and not all_excluded[t]:
                all_excluded[t] = True  # the excluded hid some of the box: again, asking for all
            elif half[t] >= 2.0 or (len(hits) >= k and hits[-1][1] <= half[t] * half[t]):
                found[t] = [(tid, math.sqrt(max(0.0, d2))) for tid, d2 in hits]
                del half[t]
            else:
                half[t] *= 2
    return found


def _nearest_arm(i: int, *, boxed: bool = True) -> Select:
    """One target's part of the search: the nearest tracks in its box, its parameters suffixed
    with `i` (everything that varies is a parameter, so the statement is built and compiled
    once per shape)."""
    tv, ta = bindparam(f"tv{i}", type_=Float), bindparam(f"ta{i}", type_=Float)
    dist2 = ((Track.valence - tv) * (Track.valence - tv) + (Track.arousal - ta) * (Track.arousal - ta)).label("d2")
    stmt = (
        select(Track.id, dist2, literal_column(str(i), Integer).label("arm"))
        .where(repository.offered_to_listeners())  # jingles and fragments: not until a curator sets them
        .order_by(dist2, Track.id)
        .limit(bindparam(f"k{i}", type_=Integer))
    )
    if boxed:
        stmt = stmt.where(
            Track.va_cell.in_(bindparam(f"cells{i}", expanding=True)),
            Track.valence.between(bindparam(f"v_lo{i}", type_=Float), bindparam(f"v_hi{i}", type_=Float)),
            Track.arousal.between(bindparam(f"a_lo{i}", type_=Float), bindparam(f"a_hi{i}", type_=Float)),
        )
    return stmt


@functools.cache
def _boxes_statement(n: int) -> Select | CompoundSelect:
    """The search's round for `n` targets: their `_nearest_arm`s in one UNION ALL."""
    if n == 1:
        return _nearest_arm(0)
    parts = [_nearest_arm(i).subquery() for i in range(n)]
    return union_all(*(select(p.c.id, p.c.d2, p.c.arm) for p in parts))


@functools.cache
def _plane_statement() -> Select:
    return _nearest_arm(0, boxed=False)


# ----------------------------------------------------------------------------- ranking


def recommend(
    session: Session,
    mood: MoodInput,
    *,
    strategy: str = "match",
    n: int = 10,
    session_id: str | None = None,
    exclude_track_ids: Collection[int] = (),
    seed: int | None = None,
    source: str | None = None,
    variant_start: int = 0,
    path: Sequence[MoodPoint] | None = None,
    path_start: int = 0,
    response_weight: float | None = None,
) -> list[Recommendation]:
    """Up to `n` tracks for a listener in `mood`, best first.

    `session_id` excludes what that listener already played or skipped, and ranks by what the
    session's own events say it likes (`app.listening.preferences`); `exclude_track_ids`
    excludes more (e.g. the queue on screen). With `seed`, a small seeded jitter varies the
    order among near-equal tracks; the same inputs and seed always give the same list.
    `source` is where the mood came from (a `MoodReading.source`: "camera", "snapshot",
    "photo", "manual"; None for the command line's emotion), for the reasons' wording;
    `variant_start` is the first pick's wording variant (the queue passes a running count, so a
    track added at its end doesn't read like its neighbours).
    `path` (`app.listening.steering.steering_path`): the i-th pick is ranked against
    ``path[path_start + i]`` (the goal past its end) instead of the strategy's one target.
    With `session_id`, *lift* and *calm* also rank by mood responses (`app.listening.response`:
    how tracks moved listeners who started where this one is, and this session's own), at
    `response_weight` (default RESPONSE_WEIGHT; 0 leaves them out).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if source not in REASON_SOURCES:
        raise ValueError(f"unknown mood source {source!r}; expected one of {', '.join(map(str, REASON_SOURCES))}")
    if n <= 0:
        return []
    point, label = listener_point(mood)
    if path:
        targets = [target_at(path, path_start + i) for i in range(n)]
    else:
        targets = [target_for_strategy(point, strategy)] * n
    excluded = set(exclude_track_ids)
    preference = preferences.EMPTY
    heard_points: dict[int, tuple[float, float]] = {}
    if session_id:
        history = preferences.load_history(session, session_id)
        excluded.update(history.heard)
        preference = history.preference
        heard_points = {tid: (f[0], f[1]) for tid, f in history.features.items()}

    # Candidates: the nearest tracks to each point the queue aims at, and to what this session
    # liked (so a taste can pull in tracks the mood alone would not reach). Each is one bounded
    # indexed search.
    distinct = list(dict.fromkeys(targets))
    k = min(MAX_CANDIDATES, max(50, 5 * n))
    per_target = k if len(distinct) == 1 else max(PATH_CANDIDATES, k // len(distinct))
    wanted = dict.fromkeys(distinct, per_target)
    centre = preference.liked_centre()
    if centre is not None:
        liked = MoodPoint(*centre)  # the k nearest to a point hold its fewer nearest
        wanted[liked] = max(wanted.get(liked, 0), LIKED_CANDIDATES)
    found = nearest_for_targets(session, wanted, excluded, excluded_points=heard_points)
    candidates = {tid: None for hits in found.values() for tid, _ in hits}
    if not candidates:
        return []
    ids = list(candidates)
    tracks = {t.track_id: t for t in repository.track_summaries(session, ids, timeline=False)}
    feedback = repository.track_feedback(session, ids)
    no_feedback = repository.Feedback()
    rng = random.Random(seed) if seed is not None else None
    jitter = {tid: rng.uniform(0, JITTER) if rng else 0.0 for tid in sorted(tracks)}
    # Pooled approval (all listeners) is a prior: it has its full say in a fresh session and
    # fades as this session's own evidence grows.
    fade = 1.0 / (1.0 + preference.strength / PRIOR_FADE)
    prior = {tid: 1 + FEEDBACK_SPAN * (feedback.get(tid, no_feedback).approval - 0.5) * fade for tid in tracks}
    affinity = dict(zip(tracks, preference.scores(list(tracks.values())), strict=True))
    weight = RESPONSE_WEIGHT if response_weight is None else response_weight
    effects = {tid: response.NO_EFFECT for tid in tracks}
    if session_id and weight and strategy in response.DIRECTED:
        evidence = response.ResponseEvidence.load(session, tracks, session_id)
        effects = evidence.effects(strategy, point, list(tracks.values()))
    lift = {tid: weight * max(-1.0, min(1.0, e.value / RESPONSE_SCALE)) for tid, e in effects.items()}

    # Scored as arrays, one pass per distinct point of the path: the candidates' columns once.
    order = list(tracks)
    ids_arr = np.array(order, dtype=np.int64)
    valence = np.array([tracks[t].valence for t in order])
    arousal = np.array([tracks[t].arousal for t in order])
    probability = {q: np.array([tracks[t].probabilities[q] for t in order]) for q in QUADRANTS}
    prior_arr = np.array([prior[t] for t in order])
    taste = np.array([PREFERENCE_WEIGHT * affinity[t] for t in order])
    jitter_arr = np.array([jitter[t] for t in order])
    lift_arr = np.array([lift[t] for t in order])

    def ranked_for(target: MoodPoint) -> list[tuple[float, int]]:
        distance2 = (valence - target.valence) ** 2 + (arousal - target.arousal) ** 2
        closeness = np.exp(-distance2 / (2 * CLOSENESS_SIGMA**2))
        base = WEIGHT_CLOSENESS * closeness + WEIGHT_QUADRANT_PROB * probability[target.quadrant]
        score = base * prior_arr + taste + jitter_arr
        score = np.where(distance2 <= EXPLORE_RADIUS**2, score + lift_arr, score)
        best_first = np.lexsort((ids_arr, -score))
        return list(zip(score[best_first].tolist(), ids_arr[best_first].tolist(), strict=True))

    artist = {tid: t.artist.casefold() for tid, t in tracks.items()}
    ranking: dict[MoodPoint, list[tuple[float, int]]] = {}
    picks: list[tuple[int, float, MoodPoint]] = []
    taken: set[int] = set()
    for target in targets:
        if target not in ranking:
            ranking[target] = ranked_for(target)
        remaining = (st for st in ranking[target] if st[1] not in taken)
        first = next(remaining, None)
        if first is None:
            break
        # No artist twice in a row (unless only that artist is left).
        previous = artist[picks[-1][0]] if picks else None
        if artist[first[1]] != previous:
            sc, tid = first
        else:
            sc, tid = next((st for st in remaining if artist[st[1]] != previous), first)
        picks.append((tid, sc, target))
        taken.add(tid)

    return [
        Recommendation(
            track=tracks[tid],
            score=round(sc, 4),
            reason=reason_for(
                label,
                point,
                strategy,
                tracks[tid].valence,
                tracks[tid].arousal,
                feedback=feedback.get(tid, no_feedback),
                target=target,
                source=source,
                variant=variant_start + rank,
                session_affinity=affinity[tid],
                evidence=response.reason_words(strategy, effects[tid]),
            ),
            target=target,
        )
        for rank, (tid, sc, target) in enumerate(picks)
    ]
