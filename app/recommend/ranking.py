"""Ranking: the tracks a listener in a mood gets, best first.

listener mood (face distribution, label or point) → target point for the strategy
(`app.emotions.target_for_strategy`), or the steering path's points (`app.listening.steering`)
→ where this listener's taste says to look instead (`app.listening.taste`: pulled toward what
they liked, wider or elsewhere after a run of skips, bounded by the strategy) → the nearest
tracks there (`app.recommend.search`) → re-ranked by closeness, the track's probability for the
aimed quadrant, its overall like/skip record (a prior that fades as the session's own evidence
grows), this session's preference (`app.listening.preferences`) and, for lift and calm, how the
tracks moved listeners' moods (`app.listening.response`, near the aimed point only) → this
session's plays/skips removed → no artist twice in a row → when nothing new is left, the least
recently heard again (never silent while the catalog has music). Reasons: `app.recommend.reasons`.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.summary import TrackSummary
from app.emotions import (
    FACE_LABELS,
    QUADRANTS,
    STRATEGIES,
    MoodPoint,
    emotion_to_point,
    label_to_point,
    target_for_strategy,
)
from app.listening import preferences, response, taste
from app.listening.steering import target_at
from app.recommend.reasons import REASON_SOURCES, reason_for
from app.recommend.search import nearest_for_targets

MoodInput = Mapping[str, float] | MoodPoint | str

CLOSENESS_SIGMA = 0.35  # distance at which closeness falls to e^-0.5 ≈ 0.61
WEIGHT_CLOSENESS = 0.75
WEIGHT_QUADRANT_PROB = 0.25
FEEDBACK_SPAN = 0.6  # score multiplier ranges over 1 ± 0.3 from all-skips to all-likes
JITTER = 0.03  # seeded tie-breaking/variety, small against the score differences that matter
MAX_CANDIDATES = 500
LIKED_CANDIDATES = 30  # also searched around what the session liked
PATH_CANDIDATES = 15  # at least, around each point of a steering path (each gets about one pick)
# The session's own preference (in [-1, 1]) is added to the score (at most about 1): a clear
# taste outweighs a moderate difference in closeness; moving the neighbourhood itself is the
# taste's aim (`app.listening.taste`).
PREFERENCE_WEIGHT = 0.5
PRIOR_FADE = 2.0  # session evidence (sum of |weights|) at which pooled approval has half its say
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
    # The point it was ranked against (its place on the steering path, or where the listener's
    # taste moved it); None for a replay or a restored queue. Not part of equality: a queue
    # restored from a snapshot is the same queue.
    target: MoodPoint | None = field(default=None, compare=False)
    # Heard earlier in the session and offered again because nothing new was left to offer.
    replay: bool = field(default=False, compare=False)

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


# Never silent: when nothing new is left, tracks heard this session come back, ranked as usual
# among those heard longest ago: the most recently heard few are kept back (a repeat right after
# a track is not what a player does), and so are early skips, unless nothing else is left.
REPLAY_HOLD_BACK = 5


def recommend(
    session: Session,
    mood: MoodInput,
    *,
    strategy: str = "match",
    n: int = 10,
    session_id: str | None = None,
    exclude_track_ids: Collection[int] = (),
    heard_track_ids: Sequence[int] = (),
    seed: int | None = None,
    source: str | None = None,
    variant_start: int = 0,
    path: Sequence[MoodPoint] | None = None,
    path_start: int = 0,
    response_weight: float | None = None,
) -> list[Recommendation]:
    """Up to `n` tracks for a listener in `mood`, best first.

    `exclude_track_ids` are never offered (e.g. what plays now and the queue on screen).
    `session_id` learns from that listener's events: what it already heard is not offered again
    while anything new is left, the session's preference reranks (`app.listening.preferences`),
    and its taste may move where the tracks are looked for (`app.listening.taste`).
    `heard_track_ids` (most recent first) adds tracks heard that its events may not hold yet.
    When nothing new is left, heard tracks come back (the least recently heard, not the ones
    refused, unless nothing else is left), each saying so (`Recommendation.replay`), so the music
    never stops while the catalog has tracks.
    With `seed`, a small seeded jitter varies the order among near-equal tracks; the same inputs
    and seed always give the same list.
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
    blocked = set(exclude_track_ids)
    history = preferences.load_history(session, session_id) if session_id else preferences.SessionHistory()
    # Most recent first: the session's events, then what the caller knows of beyond them.
    heard = [tid for tid in dict.fromkeys([*heard_track_ids, *history.heard]) if tid not in blocked]
    preference = history.preference
    heard_points = {tid: (f[0], f[1]) for tid, f in history.features.items()}
    aims = {t: taste.aim(history, t, strategy) for t in dict.fromkeys(targets)}

    # Candidates: the nearest tracks to each point the queue aims at, and to what this session
    # liked (so a taste can pull in tracks the mood alone would not reach). Each is one bounded
    # indexed search; a wider aim asks for more.
    distinct = list(dict.fromkeys(a.point for a in aims.values()))
    spread = max(a.spread for a in aims.values())
    k = min(MAX_CANDIDATES, int(max(50, 5 * n) * spread**2))
    per_target = k if len(distinct) == 1 else max(PATH_CANDIDATES, k // len(distinct))
    wanted = dict.fromkeys(distinct, per_target)
    centre = preference.liked_centre()
    if centre is not None:
        liked = MoodPoint(*centre)  # the k nearest to a point hold its fewer nearest
        wanted[liked] = max(wanted.get(liked, 0), LIKED_CANDIDATES)
    found = nearest_for_targets(session, wanted, blocked | set(heard), excluded_points=heard_points)
    fresh = list(dict.fromkeys(tid for hits in found.values() for tid, _ in hits))
    ranker = _Ranker(session, point, strategy, preference, session_id, seed, response_weight)
    picks, seen = ranker.rank(fresh, targets, aims, n)
    replays: set[int] = set()
    if len(picks) < n and heard:
        # Nothing new left: the least recently heard come back (the newest few only as a last resort).
        taken = {tid for tid, _, _ in picks}
        hold_back = min(REPLAY_HOLD_BACK, max(0, len(heard) - (n - len(picks))))
        refused = {e.track_id for e in history.events if taste.is_refusal(e)}
        pool = [tid for tid in heard[hold_back:] if tid not in taken]
        welcome = [tid for tid in pool if tid not in refused]  # what was refused only as a last resort
        pool = welcome if len(welcome) >= n - len(picks) else pool
        more, seen_again = ranker.rank(pool, targets[len(picks) :], aims, n - len(picks), after=picks)
        replays = {tid for tid, _, _ in more}
        picks += more
        seen.update(seen_again)
    liked_any = any(e.action == "liked" for e in history.events[: preferences.EVIDENCE_LIMIT])
    return [
        Recommendation(
            track=seen[tid].track,
            score=round(sc, 4),
            reason=reason_for(
                label,
                point,
                strategy,
                seen[tid].track.valence,
                seen[tid].track.arousal,
                feedback=seen[tid].feedback,
                target=aims[target].point,
                source=source,
                variant=variant_start + rank,
                session_affinity=seen[tid].affinity,
                evidence=response.reason_words(strategy, seen[tid].effect),
                quadrant=seen[tid].track.quadrant,
                liked_any=liked_any,
                taste_note=aims[target].note
                if rank == 0 or aims[target].note != aims[targets[rank - 1]].note
                else None,
                replay=tid in replays,
            ),
            target=aims[target].point,
            replay=tid in replays,
        )
        for rank, (tid, sc, target) in enumerate(picks)
    ]


@dataclass(frozen=True)
class _Scored:
    """What the ranking knew of a picked track, for its reason."""

    track: TrackSummary
    feedback: repository.Feedback
    affinity: float
    effect: response.Effect


@dataclass(frozen=True)
class _Ranker:
    """One recommendation's ranking context: the listener, the strategy and the session's
    evidence; ``rank`` scores a set of candidates against the aims."""

    session: Session
    point: MoodPoint
    strategy: str
    preference: preferences.SessionPreference
    session_id: str | None
    seed: int | None
    response_weight: float | None

    def effects(self, tracks: Mapping[int, TrackSummary]) -> dict[int, response.Effect]:
        """The mood-response bandit's view of each track (none for match, without a session, or
        at weight 0)."""
        if self.session_id and self.weight and self.strategy in response.DIRECTED:
            evidence = response.ResponseEvidence.load(self.session, tracks, self.session_id)
            return evidence.effects(self.strategy, self.point, list(tracks.values()))
        return {tid: response.NO_EFFECT for tid in tracks}

    @property
    def weight(self) -> float:
        return RESPONSE_WEIGHT if self.response_weight is None else self.response_weight

    def rank(
        self,
        candidate_ids: Sequence[int],
        targets: Sequence[MoodPoint],
        aims: Mapping[MoodPoint, taste.Aim],
        n: int,
        *,
        after: Sequence[tuple[int, float, MoodPoint]] = (),
    ) -> tuple[list[tuple[int, float, MoodPoint]], dict[int, _Scored]]:
        """(track id, score, target) for up to `n` of the candidates, one per target in turn
        (each ranked against its aim), no artist twice in a row (`after`: the picks already
        made); and what was known of each candidate."""
        if not candidate_ids or n <= 0:
            return [], {}
        session, preference = self.session, self.preference
        tracks = {t.track_id: t for t in repository.track_summaries(session, list(candidate_ids), timeline=False)}
        if not tracks:
            return [], {}
        feedback = repository.track_feedback(session, list(tracks))
        no_feedback = repository.Feedback()
        rng = random.Random(self.seed) if self.seed is not None else None
        jitter = {tid: rng.uniform(0, JITTER) if rng else 0.0 for tid in sorted(tracks)}
        # Pooled approval (all listeners) is a prior: it has its full say in a fresh session and
        # fades as this session's own evidence grows.
        fade = 1.0 / (1.0 + preference.strength / PRIOR_FADE)
        prior = {tid: 1 + FEEDBACK_SPAN * (feedback.get(tid, no_feedback).approval - 0.5) * fade for tid in tracks}
        affinity = dict(zip(tracks, preference.scores(list(tracks.values())), strict=True))
        effects = self.effects(tracks)
        lift = {tid: self.weight * max(-1.0, min(1.0, e.value / RESPONSE_SCALE)) for tid, e in effects.items()}

        # Scored as arrays, one pass per distinct aim: the candidates' columns once.
        order = list(tracks)
        ids_arr = np.array(order, dtype=np.int64)
        valence = np.array([tracks[t].valence for t in order])
        arousal = np.array([tracks[t].arousal for t in order])
        probability = {q: np.array([tracks[t].probabilities[q] for t in order]) for q in QUADRANTS}
        prior_arr = np.array([prior[t] for t in order])
        taste_arr = np.array([PREFERENCE_WEIGHT * affinity[t] for t in order])
        jitter_arr = np.array([jitter[t] for t in order])
        lift_arr = np.array([lift[t] for t in order])

        def ranked_for(aim: taste.Aim) -> list[tuple[float, int]]:
            at = aim.point
            distance2 = (valence - at.valence) ** 2 + (arousal - at.arousal) ** 2
            closeness = np.exp(-distance2 / (2 * (CLOSENESS_SIGMA * aim.spread) ** 2))
            base = WEIGHT_CLOSENESS * closeness + WEIGHT_QUADRANT_PROB * probability[at.quadrant]
            score = base * prior_arr + taste_arr + jitter_arr
            score = np.where(distance2 <= (EXPLORE_RADIUS * aim.spread) ** 2, score + lift_arr, score)
            best_first = np.lexsort((ids_arr, -score))
            return list(zip(score[best_first].tolist(), ids_arr[best_first].tolist(), strict=True))

        artist = {tid: t.artist.casefold() for tid, t in tracks.items()}
        ranking: dict[taste.Aim, list[tuple[float, int]]] = {}
        picks: list[tuple[int, float, MoodPoint]] = []
        taken: set[int] = {tid for tid, _, _ in after}
        last_artist = artist.get(after[-1][0]) if after else None
        for target in targets[:n]:
            aim = aims[target]
            if aim not in ranking:
                ranking[aim] = ranked_for(aim)
            remaining = (st for st in ranking[aim] if st[1] not in taken)
            first = next(remaining, None)
            if first is None:
                break
            # No artist twice in a row (unless only that artist is left).
            if artist[first[1]] != last_artist:
                sc, tid = first
            else:
                sc, tid = next((st for st in remaining if artist[st[1]] != last_artist), first)
            picks.append((tid, sc, target))
            taken.add(tid)
            last_artist = artist[tid]
        scored = {
            tid: _Scored(t, feedback.get(tid, no_feedback), affinity[tid], effects[tid]) for tid, t in tracks.items()
        }
        return picks, scored
