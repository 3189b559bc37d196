"""The nearest-track search: the k tracks nearest to a point of the valence–arousal plane, found
through the indexed grid cell (`Track.va_cell`) in a box around the point that widens until it
surely holds the nearest ones. Only a bounded candidate set ever leaves the database, so the cost
doesn't grow with the catalog.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping

import numpy as np
from sqlalchemy import CompoundSelect, Float, Integer, Select, bindparam, literal_column, select, union_all
from sqlalchemy.orm import Session

from app.catalog import repository
from app.catalog.models import GRID, Track, grid_index
from app.config import get_settings
from app.emotions import MoodPoint

# The search's first box: small enough that on a million-track catalog it holds a few times k
# rather than thousands to compute and sort (and check against the exclusions); a smaller
# catalog only doubles it a couple more times, each one cheap indexed query.
START_HALF_WIDTH = 0.0125


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

    fragment_below_s = get_settings().fragment_below_s  # a parameter: the statements are cached
    half = dict.fromkeys(wanted, START_HALF_WIDTH)
    all_excluded = dict.fromkeys(wanted, False)  # asked for every excluded one the box may hold
    found: dict[MoodPoint, list[tuple[int, float]]] = {}
    while half:
        boxed = [t for t, h in half.items() if h < 2.0]
        rows: dict[MoodPoint, list[tuple[int, float]]] = {}
        asked: dict[MoodPoint, int] = {}
        if boxed:
            params: dict[str, object] = {FRAGMENT_PARAM: fragment_below_s}
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
            params = {"tv0": t.valence, "ta0": t.arousal, "k0": asked[t], FRAGMENT_PARAM: fragment_below_s}
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


FRAGMENT_PARAM = "fragment_below_s"


def _nearest_arm(i: int, *, boxed: bool = True) -> Select:
    """One target's part of the search: the nearest tracks in its box, its parameters suffixed
    with `i` (everything that varies is a parameter, so the statement is built and compiled
    once per shape)."""
    tv, ta = bindparam(f"tv{i}", type_=Float), bindparam(f"ta{i}", type_=Float)
    dist2 = ((Track.valence - tv) * (Track.valence - tv) + (Track.arousal - ta) * (Track.arousal - ta)).label("d2")
    stmt = (
        select(Track.id, dist2, literal_column(str(i), Integer).label("arm"))
        # jingles and fragments: not until a curator sets them
        .where(repository.offered_to_listeners(bindparam(FRAGMENT_PARAM, type_=Float)))
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
