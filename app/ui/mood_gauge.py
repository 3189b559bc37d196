"""A small valence–arousal circumplex with the listener's point and the quadrant names, and the
mood pad: the listener's own pick of an emotion or of a point on that circle."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import plotly.graph_objects as go
import streamlit as st

from app.emotions import FACE_LABELS, FACE_VA, QUADRANT_NAMES, MoodPoint
from app.listening.mood import MoodReading, reading_from_point

# Material icons rather than emoji, which need a colour-emoji font a listener's machine may lack.
EMOTION_ICONS = {
    "angry": ":material/sentiment_extremely_dissatisfied:",
    "disgust": ":material/sick:",
    "fear": ":material/sentiment_worried:",
    "happy": ":material/sentiment_very_satisfied:",
    "neutral": ":material/sentiment_neutral:",
    "sad": ":material/sentiment_sad:",
    "surprise": ":material/sentiment_excited:",
}

_QUADRANT_LABEL_POS = {"Q1": (0.8, 1.1), "Q2": (-0.8, 1.1), "Q3": (-0.8, -1.1), "Q4": (0.8, -1.1)}


def mood_gauge_figure(
    point: MoodPoint | None,
    label: str | None = None,
    target: MoodPoint | None = None,
    path: Sequence[MoodPoint] = (),
    queued: Sequence[MoodPoint] = (),
) -> go.Figure:
    """Unit circle, axes, the seven face labels as faint reference dots, the listener's point,
    the strategy's goal, and (optionally) the steering path from the mood toward the goal with
    where each queued track sits."""
    fig = go.Figure()
    fig.add_shape(type="circle", x0=-1, y0=-1, x1=1, y1=1, line={"color": "#bbb"})
    fig.add_hline(y=0, line={"color": "#ddd", "width": 1})
    fig.add_vline(x=0, line={"color": "#ddd", "width": 1})
    fig.add_trace(
        go.Scatter(
            x=[v for v, _ in FACE_VA.values()],
            y=[a for _, a in FACE_VA.values()],
            text=list(FACE_VA),
            mode="markers+text",
            textposition="top center",
            textfont={"size": 9, "color": "#999"},
            marker={"size": 5, "color": "#ccc"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for quadrant, (x, y) in _QUADRANT_LABEL_POS.items():
        fig.add_annotation(x=x, y=y, text=QUADRANT_NAMES[quadrant], showarrow=False, font={"size": 9, "color": "#888"})
    if path:
        fig.add_trace(
            go.Scatter(
                x=[point.valence if point else path[0].valence] + [p.valence for p in path],
                y=[point.arousal if point else path[0].arousal] + [p.arousal for p in path],
                mode="lines+markers",
                name="path",
                line={"color": "#2a9d8f", "dash": "dot", "width": 2},
                marker={"size": 6, "color": "#2a9d8f"},
                hovertemplate="step toward the goal<extra></extra>",
            )
        )
    if queued:
        fig.add_trace(
            go.Scatter(
                x=[q.valence for q in queued],
                y=[q.arousal for q in queued],
                mode="markers+text",
                text=[str(i + 1) for i in range(len(queued))],
                textposition="bottom center",
                textfont={"size": 9, "color": "#bbb"},
                name="up next",
                marker={"size": 8, "symbol": "diamond", "color": "#f4a261"},
                hovertemplate="up next #%{text}<extra></extra>",
            )
        )
    if target is not None:
        fig.add_trace(
            go.Scatter(
                x=[target.valence],
                y=[target.arousal],
                mode="markers",
                name="music target",
                marker={"size": 12, "symbol": "star", "color": "#2a9d8f"},
            )
        )
    if point is not None:
        fig.add_trace(
            go.Scatter(
                x=[point.valence],
                y=[point.arousal],
                mode="markers",
                name=label or "you",
                marker={"size": 16, "color": "#e76f51", "line": {"width": 2, "color": "white"}},
            )
        )
    fig.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [-1.15, 1.15], "title": "valence", "zeroline": False, "showgrid": False},
        yaxis={"range": [-1.15, 1.15], "title": "arousal", "zeroline": False, "showgrid": False, "scaleanchor": "x"},
        showlegend=False,
    )
    return fig


PAD_STEPS = 17  # grid points per axis on the clickable mood pad (every 0.125)


def mood_pad_figure(current: MoodPoint | None) -> go.Figure:
    """The circumplex as a click target: a faint grid of points inside the circle; clicking one
    selects that valence/arousal (Streamlit's plotly selection only reports existing points)."""
    fig = mood_gauge_figure(current, "you")
    steps = [round(-1 + 2 * i / (PAD_STEPS - 1), 3) for i in range(PAD_STEPS)]
    xs, ys = zip(*[(v, a) for v in steps for a in steps if v * v + a * a <= 1.0001], strict=True)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            name="pick",
            marker={"size": 11, "color": "rgba(42,157,143,0.12)"},
            hovertemplate="valence %{x:+.2f}<br>arousal %{y:+.2f}<extra>click to pick</extra>",
        )
    )
    fig.update_layout(height=320, clickmode="event+select", dragmode=False)
    return fig


def _clicked_point(on_reading: Callable[[MoodReading], object]) -> None:
    event = st.session_state.get("mood_pad_click")
    points = getattr(getattr(event, "selection", None), "points", None) or (
        event.get("selection", {}).get("points", []) if isinstance(event, dict) else []
    )
    if points:
        on_reading(reading_from_point(float(points[-1]["x"]), float(points[-1]["y"])))


def _slider_point(on_reading: Callable[[MoodReading], object]) -> None:
    on_reading(reading_from_point(st.session_state["mood_pad_valence"], st.session_state["mood_pad_arousal"]))


def mood_pad(
    current: MoodPoint | None,
    pick_key: str,
    on_pick: Callable[[], object],
    on_reading: Callable[[MoodReading], object],
) -> None:
    """The listener's own mood: an emotion from the pills (their value under `pick_key`,
    `on_pick` on a change), or a point clicked on the circle or set with the sliders, handed to
    `on_reading`. `current` is the mood the music follows, marked on the circle."""
    st.pills(
        "How do you feel?",
        FACE_LABELS,
        format_func=lambda label: f"{EMOTION_ICONS[label]} {label}",
        key=pick_key,
        on_change=on_pick,
    )
    with st.expander("…or pick a point on the circle"):
        st.plotly_chart(
            mood_pad_figure(current),
            key="mood_pad_click",
            on_select=lambda: _clicked_point(on_reading),  # (plotly_chart passes no args)
            selection_mode="points",
            config={"displayModeBar": False},
        )
        st.caption("Click the circle, or set the point with the sliders:")
        st.slider("Valence: unpleasant → pleasant", -1.0, 1.0, 0.0, 0.05, key="mood_pad_valence")
        st.slider("Arousal: calm → excited", -1.0, 1.0, 0.0, 0.05, key="mood_pad_arousal")
        st.button("Use this point", key="mood_pad_use_point", on_click=_slider_point, args=(on_reading,))
