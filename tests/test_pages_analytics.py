"""Analytics: the aggregate queries (app.analytics) and the page that charts them, on a seeded
catalog with listening and mood events whose numbers are known."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import analytics
from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.models import ListeningEvent, MoodEvent
from app.ui import state_keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, seed_catalog

PASSWORD = "analytics-pass"
TODAY = datetime.now(UTC).replace(tzinfo=None, hour=12, minute=0, second=0, microsecond=0)
OLD = TODAY - timedelta(days=400)


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch):
    """8 tracks (2 per quadrant), one set by a curator; known events today and one old batch."""
    _, media = configure_env(monkeypatch, tmp_path, password=PASSWORD)
    tracks = seed_catalog(media, tmp_path, per_quadrant=2)
    q1, q3 = next(t for t in tracks if t.quadrant == "Q1"), next(t for t in tracks if t.quadrant == "Q3")
    q4 = next(t for t in tracks if t.quadrant == "Q4")

    def listen(session_id, track, action, strategy, when, *, n=1):
        for _ in range(n):
            s.add(
                ListeningEvent(
                    session_id=session_id,
                    track_id=track.track_id,
                    action=action,
                    strategy=strategy,
                    emotion="happy",
                    created_at=when,
                )
            )

    def mood(label, when, n=1):
        for _ in range(n):
            s.add(
                MoodEvent(
                    session_id="s1", distribution={label: 1.0}, label=label, valence=0.0, arousal=0.0, created_at=when
                )
            )

    with session_scope() as s:
        repository.set_track_mood_by_curator(s, q4.track_id, "Q4")
        listen("s1", q1, "played", "match", TODAY, n=3)
        listen("s1", q1, "liked", "match", TODAY, n=2)
        listen("s2", q1, "skipped", "match", TODAY, n=1)
        listen("s2", q3, "played", "lift", TODAY, n=1)
        listen("s2", q3, "skipped", "lift", TODAY, n=3)
        listen("s3", q3, "liked", "lift", TODAY, n=1)
        listen("old", q3, "liked", "calm", OLD, n=5)  # outside a range that starts last month
        mood("happy", TODAY, 3)
        mood("sad", TODAY, 1)
        mood("sad", OLD, 2)
    yield {"q1": q1, "q3": q3, "q4": q4}
    cleanup_engines()


RECENT = (TODAY.date() - timedelta(days=30), TODAY.date())


def test_catalog_aggregates(seeded):
    with session_scope() as s:
        assert list(analytics.tracks_per_quadrant(s)["tracks"]) == [2, 2, 2, 2]
        assert analytics.tagged_by_source(s).set_index("tagged_by")["tracks"].to_dict() == {"model": 7, "curator": 1}
        scatter = analytics.va_scatter(s)
        assert len(scatter) == 8 and set(scatter["quadrant"]) == {"Q1", "Q2", "Q3", "Q4"}
        thinned = analytics.va_scatter(s, limit=3)
        assert 1 <= len(thinned) <= 3 and thinned.attrs["total"] == 8


def test_listening_aggregates_respect_the_date_range(seeded):
    with session_scope() as s:
        rates = analytics.feedback_by_quadrant(s, *RECENT).set_index("quadrant")
        assert rates.loc["Q1", ["played", "liked", "skipped"]].tolist() == [3, 2, 1]
        assert rates.loc["Q1", "like_rate"] == pytest.approx(2 / 4)
        assert rates.loc["Q3", "skip_rate"] == pytest.approx(3 / 4)
        assert rates.loc["Q2", ["played", "liked", "skipped"]].tolist() == [0, 0, 0]

        by_strategy = analytics.feedback_by_strategy(s, *RECENT).set_index("strategy")
        assert by_strategy.loc["lift", "like_rate"] == pytest.approx(1 / 4)
        assert by_strategy.loc["calm", "liked"] == 0  # the old likes are outside the range
        assert analytics.feedback_by_strategy(s).set_index("strategy").loc["calm", "liked"] == 5

        used = analytics.strategies_used(s, *RECENT).set_index("strategy")
        assert used.loc["match", "events"] == 6 and used.loc["match", "sessions"] == 2
        assert used.loc["lift", "events"] == 5 and used.loc["calm", "events"] == 0

        liked = analytics.most_liked_tracks(s, *RECENT)
        assert list(liked["track_id"]) == [seeded["q1"].track_id, seeded["q3"].track_id]
        assert list(liked["likes"]) == [2, 1]
        assert list(analytics.most_liked_tracks(s)["track_id"])[0] == seeded["q3"].track_id  # 6 likes overall

        emotions = analytics.emotions_over_time(s, *RECENT, granularity="day")
        assert emotions.set_index("emotion")["count"].to_dict() == {"happy": 3, "sad": 1}
        assert emotions.set_index("emotion")["share"].to_dict() == {"happy": 0.75, "sad": 0.25}
        hourly = analytics.emotions_over_time(s, granularity="hour")
        assert set(hourly["period"]) == {TODAY.strftime("%Y-%m-%d %H:00"), OLD.strftime("%Y-%m-%d %H:00")}

        assert analytics.summary(s, *RECENT) == {"tracks": 8, "listening_events": 11, "mood_events": 4, "sessions": 3}


def _chart_specs(at: AppTest) -> dict[str, dict]:
    specs = {}
    for chart in at.get("plotly_chart"):
        key = chart.proto.id.rsplit("-", 1)[-1]
        specs[key] = json.loads(chart.proto.spec)
    return specs


def _values(data) -> list:
    """Plotly sends numeric arrays as base64 typed arrays ({"dtype", "bdata"}); decode them."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data)


def _xy(spec: dict) -> dict:
    """x → y over all traces of a bar chart."""
    return {x: y for trace in spec["data"] for x, y in zip(_values(trace["x"]), _values(trace["y"]), strict=True)}


def _bars(spec: dict) -> dict:
    """x → y per trace name."""
    return {
        trace.get("name", ""): dict(zip(_values(trace["x"]), _values(trace["y"]), strict=True))
        for trace in spec["data"]
    }


def test_analytics_page_charts_match_the_seeded_data(seeded):
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page("app_pages/analytics.py").run()
    at.text_input(key=state_keys.ADMIN_PASSWORD_INPUT).input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception

    # The default range covers everything on record, the old batch included.
    assert [m.value for m in at.metric] == ["8", "16", "6", "4"]
    specs = _chart_specs(at)
    assert {
        "chart_quadrants",
        "chart_sources",
        "chart_scatter",
        "chart_emotions",
        "chart_strategies",
        "chart_rates_quadrant",
        "chart_rates_strategy",
    } <= set(specs)
    assert _xy(specs["chart_quadrants"]) == {"Q1": 2, "Q2": 2, "Q3": 2, "Q4": 2}
    pie = specs["chart_sources"]["data"][0]
    assert dict(zip(_values(pie["labels"]), _values(pie["values"]), strict=True)) == {"model": 7, "curator": 1}
    assert sum(len(_values(trace["x"])) for trace in specs["chart_scatter"]["data"]) == 8

    # Narrow the range to the last month: the old events drop out of every number.
    at.date_input(key="analytics_range").set_value(RECENT).run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric] == ["8", "11", "4", "3"]
    specs = _chart_specs(at)
    rates = _bars(specs["chart_rates_quadrant"])
    assert rates["like_rate"]["Q1"] == pytest.approx(0.5) and rates["skip_rate"]["Q3"] == pytest.approx(0.75)
    assert _xy(specs["chart_strategies"]) == {"match": 6, "lift": 5, "calm": 0}
    liked = at.dataframe[0].value
    assert list(liked["title"]) == [seeded["q1"].title, seeded["q3"].title] and list(liked["likes"]) == [2, 1]
    assert {b.label for b in at.download_button} >= {"⬇️ most_liked.csv", "⬇️ feedback_by_quadrant.csv"}
