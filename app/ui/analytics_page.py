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
        f"{name}.csv",
        csv_bytes(frame),
        f"{name}.csv",
        "text/csv",
        icon=":material/download:",
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


CHANGE_COLOURS = {"Δ valence": "#2a9d8f", "Δ arousal": "#e9c46a"}
# Track labels on a chart are cut to this many characters (the table beside has them whole), so
# the bars keep most of a phone's width.
LABEL_CHARS = 24


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def change_text(mean: float, lo: float, hi: float, n: int) -> str:
    """A mean change with its 95 % interval, or the minimum rule's note."""
    if pd.isna(mean):
        return f"not enough data yet (n={n})"
    return f"{_signed(mean)} [{_signed(lo)}, {_signed(hi)}]"


def changes(frame: pd.DataFrame, axis: str) -> list[str]:
    """``change_text`` for each group of a ``analytics.mood_response_by_*`` frame, on one axis."""
    columns = (frame[f"d{axis}"], frame[f"d{axis}_lo"], frame[f"d{axis}_hi"], frame["n"])
    return [change_text(m, lo, hi, n) for m, lo, hi, n in zip(*columns, strict=True)]


def response_table(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """What the page shows per group: (for a strategy, the verdict first: on a phone the
    columns past the second are off-screen) the count, each mean change with its interval."""
    table = pd.DataFrame({key: frame[key]})
    if "verdict" in frame:
        table["did it work?"] = frame["verdict"]
    table["responses"] = frame["n"]
    for axis in analytics.MOOD_AXES:
        table[f"Δ {axis} (95 % CI)"] = changes(frame, axis)
    return table


def _change_range(frame: pd.DataFrame, columns: list[str]) -> list[float]:
    """A range symmetric about 0 that holds every interval (0 = no change sits in the middle)."""
    values = frame[columns].abs().to_numpy(dtype=float).ravel() if not frame.empty else []
    top = max([0.1, *(v for v in values if not pd.isna(v))])
    return [-top * 1.15, top * 1.15]


def response_figure(by_strategy: pd.DataFrame) -> go.Figure:
    """Mean change of valence and arousal per strategy with 95 % intervals as error bars;
    strategies under the minimum get a "not enough data" note instead of bars."""
    labels = [f"{k} (n={n})" for k, n in zip(by_strategy["strategy"], by_strategy["n"], strict=True)]
    rows = []
    for label, (_, row) in zip(labels, by_strategy.iterrows(), strict=True):
        for axis in analytics.MOOD_AXES:
            mean, lo, hi = row[f"d{axis}"], row[f"d{axis}_lo"], row[f"d{axis}_hi"]
            rows.append(
                {
                    "strategy": label,
                    "change": f"Δ {axis}",
                    "mean": mean,
                    "above": hi - mean,
                    "below": mean - lo,
                    "interval": change_text(mean, lo, hi, row["n"]),
                }
            )
    long = pd.DataFrame(rows)
    fig = px.bar(
        long,
        x="strategy",
        y="mean",
        color="change",
        barmode="group",
        error_y="above",
        error_y_minus="below",
        color_discrete_map=CHANGE_COLOURS,
        custom_data=["interval"],
        category_orders={"strategy": labels},
    )
    fig.update_traces(hovertemplate="%{x}<br>%{fullData.name}: %{customdata[0]}<extra></extra>")
    for label, enough in zip(labels, by_strategy["enough_data"], strict=True):
        if not enough:
            fig.add_annotation(x=label, y=0, text="not enough<br>data yet", showarrow=False, font={"size": 11})
    bounds = [f"d{a}_{x}" for a in analytics.MOOD_AXES for x in ("lo", "hi")]
    fig.update_yaxes(range=_change_range(by_strategy, bounds), title="mean change", zeroline=True)
    fig.update_xaxes(type="category", title=None)
    return fig


def track_label(rank: int, title: str, artist: str) -> str:
    """ "3. Title — Artist", cut to LABEL_CHARS (the rank keeps two cut labels apart)."""
    text = f"{rank}. {title} — {artist}"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def tracks_figure(tracks: pd.DataFrame, colour: str) -> go.Figure:
    """Mean Δvalence per track with its 95 % interval, one horizontal bar each, in the list's order."""
    frame = tracks.assign(
        label=[
            track_label(rank, title, artist)
            for rank, (title, artist) in enumerate(zip(tracks["title"], tracks["artist"], strict=True), start=1)
        ],
        above=tracks["dvalence_hi"] - tracks["dvalence"],
        below=tracks["dvalence"] - tracks["dvalence_lo"],
        interval=changes(tracks, "valence"),
    )
    fig = px.bar(
        plot_safe(frame, ["label", "title", "artist"]),  # titles as typed, never markup
        x="dvalence",
        y="label",
        orientation="h",
        error_x="above",
        error_x_minus="below",
        custom_data=["title", "artist", "n", "interval"],
    )
    fig.update_traces(
        marker_color=colour,
        hovertemplate="%{customdata[0]} — %{customdata[1]}<br>Δ valence %{customdata[3]} (n=%{customdata[2]})"
        "<extra></extra>",
    )
    fig.update_yaxes(autorange="reversed", title=None, type="category")
    fig.update_xaxes(range=_change_range(frame, ["dvalence_lo", "dvalence_hi"]), title="mean Δ valence")
    return fig


def _tracks(tracks: pd.DataFrame, heading: str, empty: str, colour: str, key: str) -> None:
    st.subheader(heading)
    if tracks.empty:
        st.info(empty)
    else:
        _chart(tracks_figure(tracks, colour), f"chart_{key}", height=90 + 34 * len(tracks))
        table = response_table(
            tracks.assign(track=[f"{t} — {a}" for t, a in zip(tracks["title"], tracks["artist"], strict=True)]), "track"
        )
        st.dataframe(table, hide_index=True, width="stretch")
    _csv(tracks, key)


def _did_it_work(view: analytics.Dashboard) -> None:
    by_strategy, minimum = view.response_by_strategy, analytics.MIN_RESPONSES
    st.header("Did it work?")
    st.caption(
        "How the listener's mood, read by the camera, moved from a track's start to its end (Δ = end − start, "
        "on the −1…1 scales). Lift aims to raise valence, calm to lower arousal, match to follow the mood. "
        f"Means with 95 % confidence intervals; a mean needs at least {minimum} mood responses."
    )
    st.subheader("Mood change by strategy")
    if not by_strategy["n"].any():
        st.info("No mood responses in this date range: one is recorded when a track plays with the camera on.")
    else:
        if not by_strategy["enough_data"].any():
            st.info(f"Not enough data yet: a mean needs at least {minimum} mood responses per strategy.")
        _chart(response_figure(by_strategy), "chart_mood_response")
        st.dataframe(response_table(by_strategy, "strategy"), hide_index=True, width="stretch")
    _csv(by_strategy, "mood_response_by_strategy")
    # One under the other, full width: each table has four columns to show whole.
    lifted, lowered = view.response_by_track
    _tracks(
        lifted,
        "Tracks that lifted the mood most",
        f"No track lifted the mood on average yet (among tracks with at least {minimum} mood responses).",
        CHANGE_COLOURS["Δ valence"],
        "tracks_lifting",
    )
    _tracks(
        lowered,
        "Tracks that lowered the mood",
        f"No track lowered the mood on average (among tracks with at least {minimum} mood responses).",
        "#e76f51",
        "tracks_lowering",
    )


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
    fig = rates_figure(feedback, key)
    if key == "quadrant":
        fig.update_xaxes(labelalias=QUADRANT_NAMES)  # words on the axis; the data keeps its codes
    _chart(fig, chart_key)
    st.dataframe(rates_table(feedback, key), hide_index=True, width="stretch")
    _csv(feedback, csv_name)


def render() -> None:
    st.title(":material/monitoring: Analytics")
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
        fig.update_xaxes(type="category", title=None, labelalias=QUADRANT_NAMES)
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
    fig.for_each_trace(lambda trace: trace.update(name=QUADRANT_NAMES.get(trace.name, trace.name)))
    fig.update_layout(legend_title_text="mood")
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

    _did_it_work(view)
