"""Player card: st.audio from the media store, title, artist, mood chip, reason, like/skip/download."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app.catalog.summary import TrackSummary
from app.emotions import QUADRANT_NAMES
from app.library.formats import mime_type
from app.recommend import Recommendation

QUADRANT_ICONS = {"Q1": "☀️", "Q2": "⚡", "Q3": "🌧️", "Q4": "🌿"}


def quadrant_chip(quadrant: str) -> str:
    """Plain-text chip for a track's mood (no HTML: titles and tags are user data)."""
    return f"{QUADRANT_ICONS.get(quadrant, '🎵')} {QUADRANT_NAMES.get(quadrant, quadrant)}"


def download_name(track: TrackSummary, suffix: str) -> str:
    """A file name built from tags, reduced to characters safe on every OS."""
    raw = f"{track.artist} - {track.title}"
    safe = re.sub(r"[^\w\- .,()&']+", "_", raw).strip(" ._")[:120] or f"track-{track.track_id}"
    return safe + suffix


def render_player_card(
    item: Recommendation,
    media_path: Path | None,
    *,
    now_playing: bool,
    liked: bool,
    on_like: Callable[[int], None],
    on_skip: Callable[[int], None],
    on_next: Callable[[], None] | None = None,
    autoplay: bool = False,
    key_prefix: str = "card",
) -> None:
    """One track. Titles and artists are user data: rendered as plain text, never as HTML."""
    with st.container(border=True):
        heading = "▶️ Now playing" if now_playing else "Up next"
        st.caption(heading)
        # st.text / st.markdown without unsafe HTML: markdown syntax in a title could still
        # restyle it, so plain text elements are used for user-provided strings.
        st.text(f"{item.title} — {item.artist}")
        st.caption(f"{quadrant_chip(item.quadrant)} · valence {item.valence:+.2f} · arousal {item.arousal:+.2f}")
        st.text(item.reason)
        data: bytes | None = None
        if media_path is None:
            st.warning("This track's audio file is missing from the media store.")
        else:
            data = media_path.read_bytes()
            st.audio(data, format=mime_type(media_path), autoplay=autoplay and now_playing)
        cols = st.columns(4 if now_playing else 3)
        cols[0].button(
            "💚 Liked" if liked else "🤍 Like",
            key=f"{key_prefix}_like_{item.track_id}",
            on_click=on_like,
            args=(item.track_id,),
            disabled=liked,
        )
        cols[1].button("⏭️ Skip", key=f"{key_prefix}_skip_{item.track_id}", on_click=on_skip, args=(item.track_id,))
        if data is not None and media_path is not None:
            cols[2].download_button(
                "⬇️ Download",
                data=data,
                file_name=download_name(item.track, media_path.suffix),
                mime=mime_type(media_path),
                key=f"{key_prefix}_dl_{item.track_id}",
                on_click="ignore",
            )
        if now_playing and on_next is not None:
            cols[-1].button("Next ▶", key=f"{key_prefix}_next", on_click=on_next, type="primary")
