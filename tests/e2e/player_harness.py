"""A test-only page around the now-playing bar (tests/e2e/test_player.py runs it in Chromium).

It makes its own catalog of three generated WAV clips (short, long, short) in the media folder
and database the test points it at, queues them in order and renders the bar with what a real
page does around it: a Like button and a strategy radio that rerun the whole script, and a
fragment that reruns every second. The bar's reports go through `app.listening.playback` into
the database, as the Mood page's will.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from app.catalog import repository
from app.catalog.db import init_db, session_scope
from app.catalog.media import FolderStore
from app.catalog.summary import TrackSummary
from app.emotions import QUADRANT_VA, STRATEGIES
from app.listening.playback import PlayerLog, record, writes_for
from app.ui.now_playing import now_playing_bar, reports_of
from tests.pages_support import wav_bytes

KEY = "now_playing"
CLIPS = (
    ("Short Opening", "Harness Trio", "Q1", 3.0),
    ("Long Middle", "Harness Trio", "Q4", 12.0),
    ("Short Ending", "Harness Trio", "Q3", 3.0),
)
COLOURS = {"Q1": "#f4a261", "Q2": "#e63946", "Q3": "#457b9d", "Q4": "#2a9d8f"}


@st.cache_resource
def catalog() -> list[TrackSummary]:
    init_db()
    store = FolderStore()
    tracks = []
    with session_scope() as s, tempfile.TemporaryDirectory() as tmp:
        for i, (title, artist, quadrant, seconds) in enumerate(CLIPS):
            data = wav_bytes(freq=330.0 + 110 * i, seconds=seconds, tremolo=0.3)
            sha = hashlib.sha256(data).hexdigest()
            track = repository.get_track_by_sha(s, sha)
            if track is None:
                source = Path(tmp) / f"clip{i}.wav"
                source.write_bytes(data)
                rel, _ = store.put_file(source, sha, "wav")
                valence, arousal = QUADRANT_VA[quadrant]
                track = repository.add_track(
                    s,
                    title=title,
                    artist=artist,
                    album=None,
                    duration_s=seconds,
                    sha256=sha,
                    media_path=rel,
                    format="wav",
                    quadrant=quadrant,
                    valence=valence,
                    arousal=arousal,
                    probabilities={quadrant: 1.0},
                    tagged_by="model:test",
                )
            tracks.append(TrackSummary.of(track))
    return tracks


st.set_page_config(page_title="Player harness", layout="wide")  # as the app's pages are
SESSION_ID = st.query_params.get("sid", "player-harness")  # each test's own rows
tracks = catalog()
ids = [t.track_id for t in tracks]
state = st.session_state
state.setdefault("current", ids[0])
state.setdefault("ticks", 0)
log: PlayerLog = state.setdefault("player_log", PlayerLog())


def on_report() -> None:
    """Runs before the rerun a report causes. Everything read from session state is read
    before `take`: Streamlit may stop a run at any session-state access (see PlayerLog)."""
    raw, strategy = reports_of(KEY), state.get("strategy")

    def store(events) -> None:
        with session_scope() as s:
            record(s, SESSION_ID, writes_for(events), strategy=strategy)

    log.take(raw, known_ids=set(ids), store=store)


# Follow the bar on every run: where it moved on by itself is the current track now.
if log.track_id in ids and ids.index(log.track_id) > ids.index(state.current):
    state.current = log.track_id

st.title("Player harness")
st.radio("Strategy", STRATEGIES, key="strategy", horizontal=True)
if st.button("Like", key="like"):
    with session_scope() as s:
        repository.record_listening(s, SESSION_ID, state.current, "liked", strategy=state.strategy)

position = ids.index(state.current)
now_playing_bar(tracks[position], tracks[position + 1 :], key=KEY, colours=COLOURS, autoplay=True, on_report=on_report)


@st.fragment(run_every=1)
def ticker() -> None:
    state.ticks += 1
    st.caption(f"tick {state.ticks}")


ticker()
st.caption(f"current {state.current}")
