"""The download name of a track (the now-playing bar's download link). The one audio player is
`app.ui.now_playing`; the Mood page's rows draw their own mood chips."""

from __future__ import annotations

import re

from app.catalog.summary import TrackSummary


def download_name(track: TrackSummary, suffix: str) -> str:
    """A file name built from tags, reduced to characters safe on every OS."""
    raw = f"{track.artist} - {track.title}"
    safe = re.sub(r"[^\w\- .,()&']+", "_", raw).strip(" ._")[:120] or f"track-{track.track_id}"
    return safe + suffix
