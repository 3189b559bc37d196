"""Analytics page (Plotly Express): the catalog and how listeners respond.
Only reached through app.ui.auth.require_admin(); all numbers come from app.analytics."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from app import analytics
from app.emotions import QUADRANT_NAMES
from app.escaping import csv_bytes, plot_safe

QUADRANT_COLOURS = {"Q1": "#f4a261", "Q2": "#e63946", "Q3": "#457b9d", "Q4": "#2a9d8f"}


def _csv(frame: pd.DataFrame, name: str) -> None:
    st.download_button(
        f"⬇️ {name}.csv",
        csv_bytes(frame),
        f"{name}.csv",
        "text/csv",
        key=f"csv_{name}",
        on_click="ignore",
    )


def _chart(fig, key: str) -> None:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=340)
    st.plotly_chart(fig, key=key)


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


def render() -> None:
    st.title("📊 Analytics")
    start, end = _date_range()
    granularity = st.radio("Emotions per", ["day", "hour"], horizontal=True, key="analytics_granularity")
    view = analytics.dashboard(start, end, granularity)
    totals, per_quadrant, sources, scatter = view.totals, view.per_quadrant, view.sources, view.scatter
    emotions, strategies, by_quadrant, by_strategy = view.emotions, view.strategies, view.by_quadrant, view.by_strategy
    liked = view.liked

    cols = st.columns(4)
    cols[0].metric("Tracks", totals["tracks"])
    cols[1].metric("Listening events", totals["listening_events"])
    cols[2].metric("Mood readings", totals["mood_events"])
    cols[3].metric("Listener sessions", totals["sessions"])

    st.header("Catalog")
    left, right = st.columns(2)
    with left:
        _chart(
            px.bar(
                per_quadrant,
                x="quadrant",
                y="tracks",
                color="quadrant",
                hover_data=["mood"],
                color_discrete_map=QUADRANT_COLOURS,
                title="Tracks per mood quadrant",
            ),
            "chart_quadrants",
        )
        _csv(per_quadrant, "tracks_per_quadrant")
    with right:
        _chart(px.pie(sources, names="tagged_by", values="tracks", title="Tagged by model vs curator"), "chart_sources")
        _csv(sources, "tagged_by")
    total = scatter.attrs.get("total", len(scatter))
    title = "Valence–arousal of the catalog" + (
        f" (sample of {len(scatter)} of {total})" if total > len(scatter) else ""
    )
    fig = px.scatter(
        plot_safe(scatter),  # hover data shows titles and artists: text as typed, never markup
        x="valence",
        y="arousal",
        color="quadrant",
        hover_data=["title", "artist", "tagged_by"],
        color_discrete_map=QUADRANT_COLOURS,
        range_x=[-1.05, 1.05],
        range_y=[-1.05, 1.05],
        title=title,
        category_orders={"quadrant": list(QUADRANT_NAMES)},
    )
    _chart(fig, "chart_scatter")
    _csv(scatter, "valence_arousal")

    st.header("Listening")
    if emotions.empty:
        st.info("No mood readings in this date range.")
    else:
        _chart(
            px.bar(
                emotions,
                x="period",
                y="share",
                color="emotion",
                hover_data=["count"],
                title=f"Detected emotions per {granularity} (share of readings)",
            ),
            "chart_emotions",
        )
    _csv(emotions, "emotions_over_time")
    left, right = st.columns(2)
    with left:
        _chart(
            px.bar(strategies, x="strategy", y="events", hover_data=["sessions"], title="Strategies used"),
            "chart_strategies",
        )
        _csv(strategies, "strategies")
    with right:
        rates = by_quadrant.melt(
            id_vars="quadrant", value_vars=["like_rate", "skip_rate"], var_name="rate", value_name="value"
        )
        _chart(
            px.bar(
                rates,
                x="quadrant",
                y="value",
                color="rate",
                barmode="group",
                title="Like and skip rates by quadrant (the track's mood when it played)",
            ),
            "chart_rates_quadrant",
        )
        _csv(by_quadrant, "feedback_by_quadrant")
    rates = by_strategy.melt(
        id_vars="strategy", value_vars=["like_rate", "skip_rate"], var_name="rate", value_name="value"
    )
    _chart(
        px.bar(rates, x="strategy", y="value", color="rate", barmode="group", title="Like and skip rates by strategy"),
        "chart_rates_strategy",
    )
    _csv(by_strategy, "feedback_by_strategy")
    st.caption("like rate = likes ÷ tracks moved on from (played, completed or skipped); skip rate = skips ÷ the same.")

    st.subheader("Most liked tracks")
    if liked.empty:
        st.info("No likes in this date range.")
    else:
        st.dataframe(liked, hide_index=True)
    _csv(liked, "most_liked")
