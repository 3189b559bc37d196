"""Analytics' "Did it work?": how the listener's mood moved while tracks played, per strategy and
per track, from seeded mood responses whose means and intervals are known (SQLite and MariaDB)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from app import analytics
from app.catalog.db import session_scope
from app.catalog.models import MoodResponse
from tests.catalog_helpers import add

NOW = datetime(2026, 3, 10, 12)
RANGE = (NOW.date() - timedelta(days=30), NOW.date())
MIN = analytics.MIN_RESPONSES


def _respond(s, track_id: int, strategy: str, dvs, das=None, *, when: datetime = NOW) -> None:
    das = [0.0] * len(dvs) if das is None else das
    for i, (dv, da) in enumerate(zip(dvs, das, strict=True)):
        s.add(
            MoodResponse(
                session_id=f"s{i % 3}",
                track_id=track_id,
                strategy=strategy,
                valence_start=-0.2,
                arousal_start=0.1,
                valence_end=-0.2 + dv,
                arousal_end=0.1 + da,
                readings=30,
                listened_s=120.0,
                created_at=when,
            )
        )


# Known changes: lift raises valence (12 responses), calm lowers arousal (only 4: under the
# minimum); Little lift, under match, lifts a little (exactly the minimum).
LIFT_DV = [0.2, 0.4, 0.3, 0.5, 0.1, 0.3, 0.25, 0.35, 0.45, 0.15, 0.3, 0.3]
LIFT_DA = [0.1, -0.1] * 6
CALM_DA = [-0.4, -0.3, -0.5, -0.2]
MATCH_DV = [0.1, 0.0] * (MIN // 2)


@pytest.fixture
def responses(db_url):
    with session_scope(db_url) as s:
        tracks = {
            name: add(s, name, v, a).id
            for name, v, a in (
                ("Sunrise", 0.8, 0.3),
                ("Drizzle", -0.6, -0.4),
                ("Little lift", 0.3, 0.1),
                ("Almost", 0.5, 0.5),
                ("Hush", 0.4, -0.7),
            )
        }
        # Per strategy (the first three tracks carry them).
        _respond(s, tracks["Sunrise"], "lift", LIFT_DV, LIFT_DA)
        _respond(s, tracks["Hush"], "calm", [0.0] * 4, CALM_DA)
        _respond(s, tracks["Little lift"], "match", MATCH_DV)
        # Per track, beyond those: Drizzle lowers the mood, Almost lifts a lot but too rarely.
        _respond(s, tracks["Drizzle"], "match", [-0.3] * MIN)
        _respond(s, tracks["Almost"], "lift", [0.9] * (MIN - 1))
        # Long ago: outside the range, however many.
        _respond(s, tracks["Hush"], "calm", [-0.5] * 20, [-0.5] * 20, when=NOW - timedelta(days=400))
    return tracks


def _t_interval(values) -> tuple[float, float, float]:
    x = np.asarray(values, dtype=float)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return float(x.mean()), float(lo), float(hi)


def test_mood_change_per_strategy_has_counts_means_and_95_percent_intervals(responses, db_url):
    with session_scope(db_url) as s:
        frame = analytics.mood_response_by_strategy(s, *RANGE).set_index("strategy")
    assert list(frame.index) == ["match", "lift", "calm"]
    assert frame["n"].to_dict() == {"match": MIN + MIN, "lift": len(LIFT_DV) + MIN - 1, "calm": 4}
    # Only the long-ago calm responses would give calm enough data: the range leaves them out.
    with session_scope(db_url) as s:
        everything = analytics.mood_response_by_strategy(s).set_index("strategy")
    assert everything.at["calm", "n"] == 24

    lift = frame.loc["lift"]
    mean, lo, hi = _t_interval(LIFT_DV + [0.9] * (MIN - 1))
    assert lift["dvalence"] == pytest.approx(mean, abs=1e-4)  # MariaDB stores FLOAT (single precision)
    assert (lift["dvalence_lo"], lift["dvalence_hi"]) == (pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4))
    mean, lo, hi = _t_interval(LIFT_DA + [0.0] * (MIN - 1))
    assert (lift["darousal"], lift["darousal_lo"], lift["darousal_hi"]) == (
        pytest.approx(mean, abs=1e-4),
        pytest.approx(lo, abs=1e-4),
        pytest.approx(hi, abs=1e-4),
    )
    assert lift["enough_data"] and lift["verdict"] == "worked: mood lifted"


def test_under_the_minimum_a_strategy_shows_not_enough_data_not_a_mean(responses, db_url):
    with session_scope(db_url) as s:
        frame = analytics.mood_response_by_strategy(s, *RANGE).set_index("strategy")
    calm = frame.loc["calm"]
    assert not calm["enough_data"]
    assert all(math.isnan(calm[c]) for c in ("dvalence", "darousal", "darousal_lo", "darousal_hi"))
    assert calm["verdict"] == "not enough data yet (n=4)"
    # Match: Little lift's small rise and Drizzle's fall, which wins.
    mean, lo, hi = _t_interval(MATCH_DV + [-0.3] * MIN)
    assert frame.at["match", "dvalence_hi"] == pytest.approx(hi, abs=1e-4) and hi < 0
    assert frame.at["match", "verdict"] == "mood moved: valence fell"


def test_an_empty_range_reports_every_strategy_with_no_data(responses, db_url):
    with session_scope(db_url) as s:
        frame = analytics.mood_response_by_strategy(s, NOW.date() + timedelta(days=1), NOW.date() + timedelta(days=2))
        lifted, lowered = analytics.mood_response_by_track(
            s, NOW.date() + timedelta(days=1), NOW.date() + timedelta(days=2)
        )
    assert list(frame["strategy"]) == ["match", "lift", "calm"]
    assert list(frame["n"]) == [0, 0, 0] and not frame["enough_data"].any()
    assert lifted.empty and lowered.empty


def test_tracks_that_lifted_and_lowered_the_mood_need_the_minimum_count(responses, db_url):
    with session_scope(db_url) as s:
        lifted, lowered = analytics.mood_response_by_track(s, *RANGE)
    # Almost lifts most but has one response too few (exactly the minimum is enough: Little
    # lift); Drizzle lowered the mood, so it is not among the tracks that lifted it.
    assert list(lifted["title"]) == ["Sunrise", "Little lift"]
    assert list(lifted["n"]) == [len(LIFT_DV), MIN]
    assert lifted.iloc[0]["dvalence"] == pytest.approx(float(np.mean(LIFT_DV)), abs=1e-4)
    assert list(lowered["title"]) == ["Drizzle"]
    drizzle = lowered.iloc[0]
    assert drizzle["dvalence"] == pytest.approx(-0.3, abs=1e-4)
    assert drizzle["dvalence_lo"] == pytest.approx(-0.3, abs=1e-4) == drizzle["dvalence_hi"]  # no spread
    assert drizzle["artist"] == "Artist" and drizzle["quadrant"] == "Q3"


def test_verdicts_read_the_interval_the_strategy_aims_at():
    def row(dv, da, n=MIN):
        return {
            "n": n,
            "enough_data": n >= MIN,
            "dvalence_lo": dv[0],
            "dvalence_hi": dv[1],
            "darousal_lo": da[0],
            "darousal_hi": da[1],
        }

    assert analytics.verdict("lift", row((0.1, 0.3), (-1, 1))) == "worked: mood lifted"
    assert analytics.verdict("lift", row((-0.3, -0.1), (-1, 1))) == "the opposite: valence fell"
    assert analytics.verdict("lift", row((-0.1, 0.3), (0.1, 0.2))) == "no clear change yet"
    assert analytics.verdict("calm", row((-1, 1), (-0.4, -0.1))) == "worked: listeners calmed"
    assert analytics.verdict("calm", row((-1, 1), (0.1, 0.3))) == "the opposite: arousal rose"
    assert analytics.verdict("match", row((-0.1, 0.1), (-0.1, 0.1))) == "mood held steady"
    assert analytics.verdict("match", row((0.1, 0.2), (-0.1, 0.1))) == "mood moved: valence rose"
    assert analytics.verdict("lift", row((0.1, 0.3), (-1, 1), n=MIN - 1)) == f"not enough data yet (n={MIN - 1})"


def test_mean_ci_matches_students_t_from_sums():
    values = [0.1, 0.5, -0.2, 0.3]
    x = np.asarray(values)
    mean, lo, hi = analytics.mean_ci(len(x), float(x.sum()), float((x * x).sum()))
    assert (mean, lo, hi) == pytest.approx(_t_interval(values))
    assert analytics.mean_ci(1, 0.4, 0.16) == (0.4, 0.4, 0.4)
    assert all(math.isnan(v) for v in analytics.mean_ci(0, 0.0, 0.0))
