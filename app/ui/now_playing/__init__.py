"""The now-playing bar: the page's one audio player, a Streamlit custom component (v2).

Why a custom component: `st.audio` can't tell Python that a track ended (nor where it was
paused or skipped), so nothing could follow it; and each rerun that re-renders an `st.audio`
with new surroundings may replace its element and restart the track. This bar keeps one
`<audio>` element for the whole page load, on `document.body`, outside the DOM Streamlit
re-renders: a rerun that hands it the same current track (a like, a strategy switch, a mood
update, a fragment rerun) changes nothing it plays; only a different track id changes `src`.
It plays the next tracks it was given by itself when one ends, and reports what the audio did
(`app.listening.playback` turns the reports into listening events).

Audio comes from the app's own route (`app.ui.server.grant_audio`), not Streamlit's media
file manager: a URL the bar holds stays valid as long as the track is in the catalog and the
browser session is connected, whatever runs come and go (the manager's files vanished with an
interrupted run, and the bar's next track answered 404). A link with the `download` attribute
on the same URL lets the listener keep a copy.

The bar's HTML, CSS and JavaScript are the files in `frontend/` (linted and unit-tested on
their own, see tests/test_now_playing_frontend.py); no build step, nothing from a CDN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app.catalog.media import MediaPathError, MediaStore, open_media_store
from app.catalog.summary import TrackSummary
from app.emotions import QUADRANT_NAMES
from app.ui.player import download_name
from app.ui.server import grant_audio

REPORTS = "reports"  # the component's state value: {"page": id, "events": [report, …]}
UPCOMING_SENT = 3  # next tracks handed to the bar, so it can keep going through a slow rerun
FRONTEND = Path(__file__).parent / "frontend"
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_FALLBACK_COLOUR = "#888888"

# Read here rather than named as asset-dir paths: an asset_dir needs the package to declare the
# component in its pyproject manifest, which this app (run from a checkout) has no build for.
_component = st.components.v2.component(
    "moodtune_now_playing",
    html=(FRONTEND / "bar.html").read_text(encoding="utf-8"),
    css=(FRONTEND / "bar.css").read_text(encoding="utf-8"),
    js=(FRONTEND / "bar.js").read_text(encoding="utf-8"),
)


def audio_url(track_id: int) -> str:
    """The URL this browser session fetches a track from (relative, so an app served under a
    base path resolves it against the page's own address). Empty outside a script run."""
    ctx = get_script_run_ctx()
    return grant_audio(ctx.session_id, track_id) if ctx is not None else ""


def _colour(colours: Mapping[str, str] | None, quadrant: str) -> str:
    colour = (colours or {}).get(quadrant, _FALLBACK_COLOUR)
    return colour if _COLOUR_RE.match(colour) else _FALLBACK_COLOUR


def _bar_track(track: TrackSummary, store: MediaStore, colours: Mapping[str, str] | None) -> dict[str, object] | None:
    """What the bar needs of a track, or None when its audio file is gone."""
    try:
        if not store.exists(track.media_path):
            return None
    except MediaPathError:
        return None
    return {
        "id": track.track_id,
        "title": track.title,  # user data: the bar sets it as text, never as HTML
        "artist": track.artist,
        "mood": QUADRANT_NAMES.get(track.quadrant, ""),
        "colour": _colour(colours, track.quadrant),
        "duration_s": float(track.duration_s),
        "url": audio_url(track.track_id),
        "download": download_name(track, Path(track.media_path).suffix),
    }


def now_playing_bar(
    current: TrackSummary | None,
    upcoming: Sequence[TrackSummary] = (),
    *,
    key: str = "now_playing",
    store: MediaStore | None = None,
    colours: Mapping[str, str] | None = None,
    autoplay: bool = False,
    start_at_s: float = 0.0,
    on_report: Callable[[], None] | None = None,
) -> object:
    """Render the bar for `current`, followed by `upcoming` (the first few are handed over).

    Returns the bar's reports (its state value, `{"page": …, "events": [...]}`, or None before
    the first), which every rerun sees again: `app.listening.playback.PlayerLog.take` returns
    and stores each report once. Every report reruns the page; `on_report` (no arguments) runs
    before that rerun, when `reports_of(key)` already holds them: the place to take them, so
    the page can follow `PlayerLog.track_id` (where the bar moved on by itself) before it
    renders. Read what the store needs from session state before calling `take`.

    `autoplay` and `start_at_s` apply when the bar loads a track it doesn't already hold (a
    browser may still refuse to start audio before the listener has touched the page; the bar
    then asks for a press of play). A track whose file is missing is left out. `colours` maps
    a quadrant to the mood chip's CSS colour (#rgb or #rrggbb).
    """
    store = store or open_media_store()
    now = _bar_track(current, store, colours) if current is not None else None
    nexts = []
    for track in upcoming:
        if len(nexts) == UPCOMING_SENT:
            break
        if current is not None and track.track_id == current.track_id:
            continue
        item = _bar_track(track, store, colours)
        if item is not None:
            nexts.append(item)
    data = {
        "key": key,
        "current": now,
        "upcoming": nexts,
        "autoplay": bool(autoplay),
        "start_at_s": max(0.0, float(start_at_s or 0.0)),
    }
    result = _component(key=key, data=data, on_reports_change=on_report or _ignore)
    return result.get(REPORTS) if result is not None else None


def reports_of(key: str = "now_playing") -> object:
    """The bar's reports as they stand in session state (inside an `on_report` callback)."""
    value = st.session_state.get(key)
    return value.get(REPORTS) if isinstance(value, Mapping) else None


def _ignore() -> None:
    """Registers the state value (a component only keeps state it has a callback for)."""
