"""A track in a list (the Mood page's up next, history and liked): title, artist and a mood chip,
captions under them and the track's buttons beside them. Icons come from Streamlit's bundled
Material font, not emoji, which need a colour-emoji font a listener's machine may lack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from app.catalog.summary import TrackSummary
from app.emotions import QUADRANT_NAMES
from app.escaping import markdown_literal

PLAY, REMOVE, REPLAY, DISLIKE = (
    ":material/play_arrow:",
    ":material/close:",
    ":material/replay:",
    ":material/thumb_down:",
)
# A track's mood chip: Streamlit's badge colour closest to the bar's and the charts' quadrant
# colour, and an icon.
MOOD_BADGES = {
    "Q1": ("orange", ":material/wb_sunny:"),
    "Q2": ("red", ":material/bolt:"),
    "Q3": ("blue", ":material/rainy:"),
    "Q4": ("green", ":material/spa:"),
}


def track_text(track: TrackSummary) -> str:
    """Markdown: bold title · artist, and the mood chip in words."""
    colour, icon = MOOD_BADGES.get(track.quadrant, ("gray", ":material/music_note:"))
    words = markdown_literal(QUADRANT_NAMES.get(track.quadrant, track.quadrant))
    return f"**{markdown_literal(track.title)}** · {markdown_literal(track.artist)} :{colour}-badge[{icon} {words}]"


def like_icon(liked: bool) -> str:
    return ":material/heart_check:" if liked else ":material/favorite_border:"


@contextmanager
def track_row(key: str, track: TrackSummary, *captions: str) -> Iterator[None]:
    """One track's row: its text with `captions` under it; what the block draws (its buttons)
    goes beside them, on the same line."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False, key=key):
        with st.container(gap=None, width="stretch"):
            st.markdown(track_text(track))
            for caption in captions:
                st.caption(caption)
        yield


def track_button(label: str, key: str, action: Callable[[int], object], track_id: int, **options: Any) -> None:
    """A button that does `action` to one track."""
    st.button(label, key=key, on_click=action, args=(track_id,), **options)


def icon_button(key: str, icon: str, tip: str, action: Callable[[int], object], track_id: int, **options: Any) -> None:
    """An icon-only `track_button` (three fit beside a track's text on a phone); `tip` names it."""
    track_button("", key, action, track_id, icon=icon, help=tip, type="tertiary", **options)
