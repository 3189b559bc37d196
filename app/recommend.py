"""Mood-aware recommendations from the catalog.

listener mood (face distribution, label or point) → target point for the strategy
(`app.emotions.target_for_strategy`) → nearest tracks, found through the indexed grid cell
(`Track.va_cell`) in a box around the target that widens until it surely holds the nearest
ones → re-ranked by closeness, the track's probability for the target quadrant, its overall like/skip
record (a prior that fades as the session's own evidence grows) and this session's preference
(`app.listening.preferences`) → this session's plays/skips removed → no artist twice in a row.
With a steering path (`app.listening.steering`) the i-th pick is ranked against the i-th point.

Only a bounded candidate set ever leaves the database, so the cost doesn't grow with the catalog.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import GRID, Track, grid_index
from app.catalog.summary import TrackSummary
from app.emotions import (
    FACE_LABELS,
    QUADRANT_NAMES,
    STRATEGIES,
    MoodPoint,
    emotion_to_point,
    label_to_point,
    target_for_strategy,
)
from app.listening import preferences
from app.listening.mood import READING_SOURCES
from app.listening.steering import target_at

MoodInput = Mapping[str, float] | MoodPoint | str

CLOSENESS_SIGMA = 0.35  # distance at which closeness falls to e^-0.5 ≈ 0.61
WEIGHT_CLOSENESS = 0.75
WEIGHT_QUADRANT_PROB = 0.25
FEEDBACK_SPAN = 0.6  # score multiplier ranges over 1 ± 0.3 from all-skips to all-likes
JITTER = 0.03  # seeded tie-breaking/variety, small against the score differences that matter
START_HALF_WIDTH = 0.05
MAX_CANDIDATES = 500
LIKED_CANDIDATES = 50  # also searched around what the session liked
PATH_CANDIDATES = 25  # at least, around each point of a steering path (each gets about one pick)
# The session's own preference (in [-1, 1]) is added to the score (at most about 1): a clear
# taste outweighs a moderate difference in closeness, never a far miss of the mood.
PREFERENCE_WEIGHT = 0.5
PRIOR_FADE = 2.0  # session evidence (sum of |weights|) at which pooled approval has half its say
AFFINITY_REASON = 0.25  # session preference above which the reason says so


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
) -> str:
    """Why this track, in a line. `label`/`listener`: the listener's top face label (None for a
    bare point) and point; `source`: where that mood came from (see `describe_listener`);
    `valence`/`arousal`: the track's; `target`: the strategy's target (derived when None);
    `variant`: rotates the wording (the track's rank), deterministically; `session_affinity`:
    this session's preference for the track (`SessionPreference.score`)."""
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
    if session_affinity >= AFFINITY_REASON:
        text += " · like what you liked this session"
    elif feedback.likes >= 2 and feedback.approval >= 0.6:
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
    tv, ta = target.valence, target.arousal
    dist2 = (Track.valence - tv) * (Track.valence - tv) + (Track.arousal - ta) * (Track.arousal - ta)
    half = START_HALF_WIDTH
    while True:
        v_lo, v_hi, a_lo, a_hi = tv - half, tv + half, ta - half, ta + half
        covers_plane = half >= 2.0
        stmt = select(Track.id, dist2.label("d2")).order_by(dist2, Track.id).limit(k)
        if not covers_plane:
            stmt = stmt.where(
                Track.va_cell.in_(_cells_in_box(v_lo, v_hi, a_lo, a_hi)),
                Track.valence.between(v_lo, v_hi),
                Track.arousal.between(a_lo, a_hi),
            )
        if exclude:
            stmt = stmt.where(Track.id.not_in(list(exclude)))
        rows = session.execute(stmt).all()
        if covers_plane or (len(rows) >= k and rows[-1].d2 <= half * half):
            return [(int(r.id), math.sqrt(max(0.0, float(r.d2)))) for r in rows]
        half *= 2


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
    if session_id:
        excluded.update(repository.session_track_ids(session, session_id))
        preference = preferences.load(session, session_id)

    # Candidates: the nearest tracks to each point the queue aims at, and to what this session
    # liked (so a taste can pull in tracks the mood alone would not reach). Each is one bounded
    # indexed search.
    distinct = list(dict.fromkeys(targets))
    k = min(MAX_CANDIDATES, max(50, 5 * n))
    per_target = k if len(distinct) == 1 else max(PATH_CANDIDATES, k // len(distinct))
    candidates: dict[int, None] = {}
    for target in distinct:
        candidates.update(dict.fromkeys(tid for tid, _ in nearest_track_ids(session, target, per_target, excluded)))
    centre = preference.liked_centre()
    if centre is not None:
        liked_near = nearest_track_ids(session, MoodPoint(*centre), LIKED_CANDIDATES, excluded)
        candidates.update(dict.fromkeys(tid for tid, _ in liked_near))
    if not candidates:
        return []
    ids = list(candidates)
    tracks = {t.track_id: t for t in repository.track_summaries(session, ids)}
    feedback = repository.track_feedback(session, ids)
    no_feedback = repository.Feedback()
    rng = random.Random(seed) if seed is not None else None
    jitter = {tid: rng.uniform(0, JITTER) if rng else 0.0 for tid in sorted(tracks)}
    # Pooled approval (all listeners) is a prior: it has its full say in a fresh session and
    # fades as this session's own evidence grows.
    fade = 1.0 / (1.0 + preference.strength / PRIOR_FADE)
    prior = {tid: 1 + FEEDBACK_SPAN * (feedback.get(tid, no_feedback).approval - 0.5) * fade for tid in tracks}
    affinity = dict(zip(tracks, preference.scores(list(tracks.values())), strict=True))

    def ranked_for(target: MoodPoint) -> list[tuple[float, int]]:
        scored = []
        for tid, t in tracks.items():
            distance2 = (t.valence - target.valence) ** 2 + (t.arousal - target.arousal) ** 2
            closeness = math.exp(-distance2 / (2 * CLOSENESS_SIGMA**2))
            base = WEIGHT_CLOSENESS * closeness + WEIGHT_QUADRANT_PROB * t.probabilities[target.quadrant]
            scored.append((base * prior[tid] + PREFERENCE_WEIGHT * affinity[tid] + jitter[tid], tid))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return scored

    ranking: dict[MoodPoint, list[tuple[float, int]]] = {}
    picks: list[tuple[int, float, MoodPoint]] = []
    taken: set[int] = set()
    for target in targets:
        ranked = ranking.setdefault(target, ranked_for(target))
        remaining = [(sc, tid) for sc, tid in ranked if tid not in taken]
        if not remaining:
            break
        # No artist twice in a row (unless only that artist is left).
        previous = tracks[picks[-1][0]].artist.casefold() if picks else None
        sc, tid = next(((sc, tid) for sc, tid in remaining if tracks[tid].artist.casefold() != previous), remaining[0])
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
            ),
            target=target,
        )
        for rank, (tid, sc, target) in enumerate(picks)
    ]
