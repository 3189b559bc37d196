"""Analytics: the aggregate queries (app.analytics) and the page that charts them, on a seeded
catalog with listening and mood events whose numbers are known."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
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
        # 12 tracks moved on from in Q1 (match) and in Q3 (lift): enough for rates (MIN_MOVED_ON).
        listen("s1", q1, "played", "match", TODAY, n=9)
        listen("s1", q1, "liked", "match", TODAY, n=6)
        listen("s2", q1, "skipped", "match", TODAY, n=3)
        listen("s2", q3, "played", "lift", TODAY, n=3)
        listen("s2", q3, "skipped", "lift", TODAY, n=9)
        listen("s3", q3, "liked", "lift", TODAY, n=3)
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
        assert rates.loc["Q1", ["played", "liked", "skipped", "moved_on"]].tolist() == [9, 6, 3, 12]
        assert rates.loc["Q1", "like_rate"] == pytest.approx(6 / 12)
        assert rates.loc["Q3", "skip_rate"] == pytest.approx(9 / 12)
        assert rates.loc["Q2", ["played", "liked", "skipped"]].tolist() == [0, 0, 0]
        assert pd.isna(rates.loc["Q2", "like_rate"]) and not rates.loc["Q2", "enough_data"]

        by_strategy = analytics.feedback_by_strategy(s, *RECENT).set_index("strategy")
        assert by_strategy.loc["lift", "like_rate"] == pytest.approx(3 / 12)
        assert by_strategy.loc["calm", "liked"] == 0  # the old likes are outside the range
        assert analytics.feedback_by_strategy(s).set_index("strategy").loc["calm", "liked"] == 5

        used = analytics.strategies_used(s, *RECENT).set_index("strategy")
        assert used.loc["match", "events"] == 18 and used.loc["match", "sessions"] == 2
        assert used.loc["lift", "events"] == 15 and used.loc["calm", "events"] == 0

        liked = analytics.most_liked_tracks(s, *RECENT)
        assert list(liked["track_id"]) == [seeded["q1"].track_id, seeded["q3"].track_id]
        assert list(liked["likes"]) == [6, 3]
        assert list(analytics.most_liked_tracks(s)["track_id"])[0] == seeded["q3"].track_id  # 8 likes overall

        emotions = analytics.emotions_over_time(s, *RECENT, granularity="day")
        assert emotions.set_index("emotion")["count"].to_dict() == {"happy": 3, "sad": 1}
        assert emotions.set_index("emotion")["share"].to_dict() == {"happy": 0.75, "sad": 0.25}
        hourly = analytics.emotions_over_time(s, granularity="hour")
        assert set(hourly["period"]) == {TODAY.strftime("%Y-%m-%d %H:00"), OLD.strftime("%Y-%m-%d %H:00")}

        assert analytics.summary(s, *RECENT) == {"tracks": 8, "listening_events": 33, "mood_events": 4, "sessions": 3}


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
    assert [(m.label, m.value) for m in at.metric] == [
        ("Tracks added", "8"),
        ("Listening events", "38"),
        ("Sessions with plays", "4"),
        ("Mood readings", "6"),
    ]
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
    assert [m.value for m in at.metric] == ["8", "33", "3", "4"]
    specs = _chart_specs(at)
    rates = _bars(specs["chart_rates_quadrant"])
    assert rates["like rate"]["Q1 (n=12)"] == pytest.approx(0.5)
    assert rates["skip rate"]["Q3 (n=12)"] == pytest.approx(0.75)
    assert rates["like rate"]["Q2 (n=0)"] is None  # no bar: "not enough data yet" instead
    notes = {a["x"]: a["text"] for a in specs["chart_rates_quadrant"]["layout"]["annotations"]}
    assert set(notes) == {"Q2 (n=0)", "Q4 (n=0)"} and "not enough" in notes["Q2 (n=0)"]
    assert _xy(specs["chart_strategies"]) == {"match": 18, "lift": 15, "calm": 0}
    table = at.dataframe[0].value.set_index("quadrant")  # the counts beside every rate
    assert table.loc["Q1", "like rate"] == "50% (6 of 12)" and table.loc["Q3", "skip rate"] == "75% (9 of 12)"
    assert table.loc["Q2", "like rate"].startswith("not enough data yet")
    liked = at.dataframe[-1].value
    assert list(liked["title"]) == [seeded["q1"].title, seeded["q3"].title] and list(liked["likes"]) == [6, 3]
    labels = {b.label for b in at.download_button}
    assert labels >= {"most_liked.csv", "feedback_by_quadrant.csv"}
    # The download icon is Material's, not an emoji that draws as an empty box without a colour font.
    assert all(b.proto.icon == ":material/download:" for b in at.download_button)


def _open_analytics() -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page("app_pages/analytics.py").run()
    at.text_input(key=state_keys.ADMIN_PASSWORD_INPUT).input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def _listen(session_id: str, track_id: int, action: str, strategy: str, n: int = 1) -> None:
    with session_scope() as s:
        for _ in range(n):
            repository.record_listening(s, session_id, track_id, action, strategy=strategy)


def test_a_like_of_a_track_never_started_cannot_push_the_like_rate_past_1(seeded):
    q4 = seeded["q4"].track_id
    _listen("heard", q4, "played", "calm", n=10)
    _listen("queue-liker", q4, "liked", "calm", n=13)  # liked in the queue, never started
    with session_scope() as s:
        for frame, key in ((analytics.feedback_by_quadrant(s), "Q4"), (analytics.feedback_by_strategy(s), "calm")):
            row = frame.set_index(frame.columns[0]).loc[key]
            assert row["liked"] >= 13 and row["moved_on"] == 10
            assert row["like_rate"] == 1.0 and row["likes_capped"] == row["liked"] - 10
            assert (frame["like_rate"].dropna() <= 1).all() and (frame["skip_rate"].dropna() <= 1).all()


def test_a_tiny_sample_shows_counts_and_no_rates(seeded):
    """The issue's calm/tender group: one like and one skip read as like 1.0 and skip 1.0."""
    _listen("tiny", seeded["q4"].track_id, "liked", "calm")
    _listen("tiny", seeded["q4"].track_id, "skipped", "calm")
    with session_scope() as s:
        row = analytics.feedback_by_quadrant(s, *RECENT).set_index("quadrant").loc["Q4"]
    assert row[["liked", "skipped", "moved_on"]].tolist() == [1, 1, 1]
    assert pd.isna(row["like_rate"]) and pd.isna(row["skip_rate"]) and not row["enough_data"]

    at = _open_analytics()
    at.date_input(key="analytics_range").set_value(RECENT).run()
    table = at.dataframe[0].value.set_index("quadrant")
    assert table.loc["Q4", "like rate"] == table.loc["Q4", "skip rate"] == "not enough data yet (n=1)"
    rates = _bars(_chart_specs(at)["chart_rates_quadrant"])
    assert rates["like rate"]["Q4 (n=1)"] is None and rates["skip rate"]["Q4 (n=1)"] is None


def _layout_axes(spec: dict) -> tuple[dict, dict]:
    layout = spec["layout"]
    return layout.get("xaxis", {}), layout.get("yaxis", {})


def test_an_empty_catalog_draws_axes_from_0_and_says_there_is_no_data(tmp_path: Path, monkeypatch):
    configure_env(monkeypatch, tmp_path, password=PASSWORD)
    try:
        at = _open_analytics()
        assert [m.value for m in at.metric] == ["0", "0", "0", "0"]
        specs = _chart_specs(at)
        assert "chart_emotions" not in specs and "chart_sources" not in specs  # empty-state text instead
        infos = " ".join(i.value for i in at.info)
        assert "No mood readings" in infos and "Not enough data yet" in infos and "No tracks" in infos
        for key in ("chart_quadrants", "chart_strategies"):
            _, y = _layout_axes(specs[key])
            assert y["range"] == [0, 1] and y["dtick"] == 1, key  # not -1..1
        for key in ("chart_rates_quadrant", "chart_rates_strategy"):
            _, y = _layout_axes(specs[key])
            assert y["range"] == [0, 1] and y["tickformat"] == ".0%", key  # not -1..4
        for key, spec in specs.items():
            assert "text" not in spec["layout"].get("title", {}), key  # titles are subheaders: they wrap
        for chart in at.get("plotly_chart"):
            assert json.loads(chart.proto.config)["displayModeBar"] is False
    finally:
        cleanup_engines()


def test_a_single_day_of_moods_is_one_dated_bar(seeded):
    at = _open_analytics()
    at.date_input(key="analytics_range").set_value(RECENT).run()
    spec = _chart_specs(at)["chart_emotions"]
    x, y = _layout_axes(spec)
    assert x["type"] == "category" and x["range"] == [-3.5, 3.5]  # one slot of seven, not the whole width
    assert {v for trace in spec["data"] for v in _values(trace["x"])} == {TODAY.date().isoformat()}
    assert y["range"] == [0, 1] and y["tickformat"] == ".0%"


def test_moods_are_named_in_words_on_the_charts_not_as_quadrant_codes(seeded):
    """Issue 30 (9): wherever a curator reads a mood on the Analytics page, it is in words."""
    from app.emotions import QUADRANT_NAMES

    at = _open_analytics()
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    aliased = [s for s in specs if s["layout"].get("xaxis", {}).get("labelalias") == QUADRANT_NAMES]
    assert len(aliased) >= 2  # tracks per mood, and like/skip rates by mood
    markers = [s for s in specs if any(t.get("type") == "scatter" and t.get("mode") == "markers" for t in s["data"])]
    scatter = markers[0]
    names = {t["name"] for t in scatter["data"]}
    assert names and names <= set(QUADRANT_NAMES.values()), names
