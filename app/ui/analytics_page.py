"""Analytics page (Plotly Express): the catalog and how listeners respond.
Only reached through app.ui.auth.require_admin(); all numbers come from app.analytics."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app import analytics
from app.emotions import QUADRANT_COLOURS, QUADRANT_NAMES
from app.escaping import csv_bytes, plot_safe


def _csv(frame: pd.DataFrame, name: str) -> None:
    st.download_button(
        f"⬇️ {name}.csv",
        csv_bytes(frame),
        f"{name}.csv",
        "text/csv",
        key=f"csv_{name}",
        on_click="ignore",
    )


# No toolbar: on a phone it sits over the top of the chart, and the page has CSV exports.
PLOT_CONFIG = {"displayModeBar": False}
# A period chart spans at least this many bar slots, so a single day is one bar, not the chart.
MIN_SLOTS = 7


def _chart(fig: go.Figure, key: str, *, height: int = 320) -> None:
    """A chart with no title of its own (the subheader above it wraps on a phone, a Plotly title
    is cut off) and its legend above the plot."""
    fig.update_layout(
        title=None,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=height,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None},
    )
    st.plotly_chart(fig, key=key, config=PLOT_CONFIG, width="stretch")


def count_axis(fig: go.Figure, values) -> go.Figure:
    """A count axis from 0 (Plotly's autorange gives -1..1 when every count is 0), whole ticks."""
    top = max([0, *(int(v) for v in values)])
    fig.update_yaxes(range=[0, max(1.0, top * 1.1)], rangemode="tozero", dtick=1 if top <= 5 else None)
    return fig


def rate_axis(fig: go.Figure) -> go.Figure:
    fig.update_yaxes(range=[0, 1], tickformat=".0%", rangemode="tozero")
    return fig


def period_axis(fig: go.Figure, periods: int) -> go.Figure:
    """Periods as category labels ("2026-03-01", "2026-03-01 09:00": a date axis draws one day as
    a bar a day wide with ticks at "23:59:59.9996"), padded to ``MIN_SLOTS``."""
    pad = max(0, MIN_SLOTS - periods) / 2
    fig.update_xaxes(type="category", range=[-0.5 - pad, periods - 0.5 + pad], title=None)
    return fig


def _rate_text(count: int, moved_on: int, rate: float | None) -> str:
    if rate is None or pd.isna(rate):
        return f"not enough data yet (n={moved_on})"
    return f"{rate:.0%} ({count} of {moved_on})"


def rates_table(feedback: pd.DataFrame, key: str) -> pd.DataFrame:
    """The counts beside each rate, as the page shows them."""
    return pd.DataFrame(
        {
            key: feedback[key],
            "like rate": [
                _rate_text(min(liked, n), n, r)
                for liked, n, r in zip(feedback["liked"], feedback["moved_on"], feedback["like_rate"], strict=True)
            ],
            "skip rate": [
                _rate_text(skipped, n, r)
                for skipped, n, r in zip(feedback["skipped"], feedback["moved_on"], feedback["skip_rate"], strict=True)
            ],
            "moved on": feedback["moved_on"],
            "likes": feedback["liked"],
            "completed": feedback["completed"],
        }
    )


def rates_figure(feedback: pd.DataFrame, key: str) -> go.Figure:
    """Like and skip rates per group on a 0..1 axis, each tick labelled with its count; groups
    under the minimum get a "not enough data" note instead of a bar."""
    labels = [f"{k} (n={n})" for k, n in zip(feedback[key], feedback["moved_on"], strict=True)]
    fig = go.Figure()
    for column, name, colour, count in (
        ("like_rate", "like rate", "#2a9d8f", "liked"),
        ("skip_rate", "skip rate", "#e76f51", "skipped"),
    ):
        fig.add_bar(
            x=labels,
            y=feedback[column].astype(float).tolist(),
            name=name,
            marker_color=colour,
            customdata=list(zip(feedback[count].clip(upper=feedback["moved_on"]), feedback["moved_on"], strict=True)),
            hovertemplate=f"{name}: %{{y:.0%}} (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>",
            # Text per bar rather than a template, which writes "0%" where a group has no rate.
            text=["" if pd.isna(r) else f"{r:.0%}" for r in feedback[column]],
            textposition="outside",
        )
    for label, enough in zip(labels, feedback["enough_data"], strict=True):
        if not enough:
            fig.add_annotation(x=label, y=0.5, text="not enough<br>data yet", showarrow=False, font={"size": 11})
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", title=None)
    return rate_axis(fig)


def _date_range() -> tuple[date | None, date | None]:
    bounds = analytics.recorded_range()
    today = date.today()
    lo, hi = bounds if bounds else (today - timedelta(days=30), today)
    hi = max(hi, today)
    picked = st.date_input("Date range", value=(lo, hi), key="analytics_range", help="Inclusive, in UTC.")
    if isinstance(picked, (tuple, list)):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return None, None
    return picked, picked


def _metrics(totals: dict[str, int]) -> None:
    # A wrapping row of fixed-width metrics: four across on a desktop, two per row on a phone
    # (st.columns(4) stacks into four full-width rows there).
    with st.container(horizontal=True, wrap=True, gap="small", key="analytics_metrics"):
        st.metric("Tracks added", totals["tracks"], width=170, border=True)
        st.metric("Listening events", totals["listening_events"], width=170, border=True)
        st.metric(
            "Sessions with plays",
            totals["sessions"],
            width=170,
            border=True,
            help="Listener sessions with a play, like or skip in the range.",
        )
        st.metric(
            "Mood readings",
            totals["mood_events"],
            width=170,
            border=True,
            help="Moods read from the camera or picked on the pad; a session can read moods without playing anything.",
        )


def _feedback(feedback: pd.DataFrame, key: str, group: str, chart_key: str, csv_name: str) -> None:
    st.subheader(f"Like and skip rates by {group}")
    if not feedback["enough_data"].any():
        st.info(
            f"Not enough data yet: a rate needs at least {analytics.MIN_MOVED_ON} tracks moved on from "
            f"per {group} (played, completed or skipped)."
        )
    _chart(rates_figure(feedback, key), chart_key)
    st.dataframe(rates_table(feedback, key), hide_index=True, width="stretch")
    _csv(feedback, csv_name)


def render() -> None:
    st.title("📊 Analytics")
    start, end = _date_range()
    granularity = st.radio("Emotions per", ["day", "hour"], horizontal=True, key="analytics_granularity")
    view = analytics.dashboard(start, end, granularity)
    totals, per_quadrant, sources, scatter = view.totals, view.per_quadrant, view.sources, view.scatter
    emotions, strategies, by_quadrant, by_strategy = view.emotions, view.strategies, view.by_quadrant, view.by_strategy
    liked = view.liked

    _metrics(totals)

    st.header("Catalog")
    left, right = st.columns(2)
    with left:
        st.subheader("Tracks per mood quadrant")
        fig = px.bar(
            per_quadrant,
            x="quadrant",
            y="tracks",
            color="quadrant",
            hover_data=["mood"],
            color_discrete_map=QUADRANT_COLOURS,
        )
        fig.update_layout(showlegend=False)
        fig.update_xaxes(type="category", title=None)
        _chart(count_axis(fig, per_quadrant["tracks"]), "chart_quadrants")
        if not per_quadrant["tracks"].any():
            st.caption("No tracks were added in this date range.")
        _csv(per_quadrant, "tracks_per_quadrant")
    with right:
        st.subheader("Tagged by model vs curator")
        if sources["tracks"].any():
            _chart(px.pie(sources, names="tagged_by", values="tracks"), "chart_sources")
        else:
            st.info("No tracks were added in this date range.")
        _csv(sources, "tagged_by")
    total = scatter.attrs.get("total", len(scatter))
    st.subheader("Valence–arousal of the catalog")
    if total > len(scatter):
        st.caption(f"A sample of {len(scatter)} of {total} tracks.")
    fig = px.scatter(
        plot_safe(scatter),  # hover data shows titles and artists: text as typed, never markup
        x="valence",
        y="arousal",
        color="quadrant",
        hover_data=["title", "artist", "tagged_by"],
        color_discrete_map=QUADRANT_COLOURS,
        range_x=[-1.05, 1.05],
        range_y=[-1.05, 1.05],
        category_orders={"quadrant": list(QUADRANT_NAMES)},
    )
    _chart(fig, "chart_scatter", height=380)
    if scatter.empty:
        st.caption("No tracks were added in this date range.")
    _csv(scatter, "valence_arousal")

    st.header("Listening")
    st.subheader(f"Detected emotions per {granularity}")
    if emotions.empty:
        st.info("No mood readings in this date range.")
    else:
        fig = px.bar(emotions, x="period", y="share", color="emotion", hover_data=["count"])
        fig.update_yaxes(title="share of readings")
        _chart(rate_axis(period_axis(fig, emotions["period"].nunique())), "chart_emotions")
    _csv(emotions, "emotions_over_time")

    st.subheader("Strategies used")
    fig = px.bar(strategies, x="strategy", y="events", hover_data=["sessions"])
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(title="listening events")
    _chart(count_axis(fig, strategies["events"]), "chart_strategies")
    if not strategies["events"].any():
        st.caption("No listening in this date range.")
    _csv(strategies, "strategies")

    left, right = st.columns(2)
    with left:
        _feedback(by_quadrant, "quadrant", "quadrant", "chart_rates_quadrant", "feedback_by_quadrant")
    with right:
        _feedback(by_strategy, "strategy", "strategy", "chart_rates_strategy", "feedback_by_strategy")
    st.caption(
        "Quadrant: the track's mood when it played. Like rate = likes ÷ tracks moved on from (played, completed "
        "or skipped), at most 100 %: a like of a track not yet moved on from (liked in the queue, or still "
        "playing) counts in the likes but can't raise the rate past every track. Skip rate = skips ÷ the same. "
        f"Rates need at least {analytics.MIN_MOVED_ON} tracks moved on from."
    )

    st.subheader("Most liked tracks")
    if liked.empty:
        st.info("No likes in this date range.")
    else:
        st.dataframe(liked, hide_index=True)
    _csv(liked, "most_liked")
