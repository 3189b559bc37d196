"""Live camera: streamlit-webrtc wiring (the ``av`` frame callback and the ICE servers).

The frame processing and the thread-safe mood holder it feeds are in ``app.listening.live``;
this module only wraps them for streamlit-webrtc, whose worker thread runs the callback, and
draws the camera's widget (``live_camera``).

ICE servers (``resolve_ice_servers``): an explicit list from settings wins
(``MOODTUNE_ICE_SERVERS`` or ``ice_servers`` in the secrets); an empty list, the default, is right
for localhost, where browser and server reach each other directly. Behind NAT, e.g. on Streamlit
Community Cloud, the browser needs a TURN relay. Either give the servers yourself::

    # .streamlit/secrets.toml (Community Cloud: app Settings → Secrets)
    ice_servers = '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'

or let ``streamlit_webrtc.credentials`` fetch short-lived credentials by putting one provider's
keys at the top level of the secrets (Streamlit exports top-level secrets as environment
variables, which is where streamlit-webrtc looks)::

    CLOUDFLARE_TURN_KEY_ID = "..."          # Cloudflare Realtime TURN, or
    CLOUDFLARE_TURN_KEY_API_TOKEN = "..."
    TWILIO_ACCOUNT_SID = "..."              # Twilio (needs `pip install twilio`), or
    TWILIO_AUTH_TOKEN = "..."
    HF_TOKEN = "..."                        # Hugging Face's TURN service
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from app.listening.live import MoodHolder, live_frame_processor
from app.ui import state_keys as keys


def make_video_frame_callback(process: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], Any]:
    """``av.VideoFrame`` in and out around a BGR-array processor (app.listening.live). Built
    before a session's first stream, so it also puts the latest-frame relay in place
    (`use_latest_frame_relay`)."""
    import av

    use_latest_frame_relay()

    def video_frame_callback(frame: av.VideoFrame) -> av.VideoFrame:
        image = frame.to_ndarray(format="bgr24")
        return av.VideoFrame.from_ndarray(process(image), format="bgr24")

    return video_frame_callback


_relay_lock = threading.Lock()


def latest_frame_relay():  # noqa: ANN201 - an aiortc MediaRelay, imported lazily
    """aiortc's MediaRelay whose consumers each get the newest frame instead of every frame.

    streamlit-webrtc relays each stream twice: the camera's frames to the processing track, and
    the processed frames to the VP8 encoder that sends the overlay back. Its relay queues every
    frame for a consumer that is behind, without limit, so when the encoder can't keep up (a few
    cameras on a small, busy machine) decoded frames pile up in the server's memory. Live video
    wants the newest frame anyway: aiortc's unbuffered subscription keeps just that one."""
    from aiortc.contrib.media import MediaRelay

    class LatestFrameRelay(MediaRelay):
        def subscribe(self, track, buffered: bool = False):  # noqa: ANN001, ANN202, ARG002 - aiortc's signature
            return super().subscribe(track, buffered=False)

    return LatestFrameRelay()


def use_latest_frame_relay() -> None:
    """Make `latest_frame_relay` the relay streamlit-webrtc uses in this server (once, before any
    stream starts; a no-op outside a running server, e.g. in AppTest). streamlit-webrtc has no
    setting for it: it keeps one relay on Streamlit's Runtime under a private name, made on first
    use, which this sets first."""
    from streamlit.runtime import Runtime
    from streamlit_webrtc import relay as webrtc_relay

    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    name = webrtc_relay._SERVER_GLOBAL_RELAY_ATTR_NAME_  # noqa: SLF001 - see the docstring
    with _relay_lock:
        if not hasattr(runtime, name):
            setattr(runtime, name, latest_frame_relay())


TURN_PROVIDER_KEYS = ("CLOUDFLARE_TURN_KEY_ID", "TWILIO_ACCOUNT_SID", "HF_TOKEN")


def resolve_ice_servers(configured: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Configured servers if any; else TURN credentials from a provider whose keys are set;
    else none (localhost)."""
    if configured:
        return [dict(s) for s in configured]
    if any(os.environ.get(key) for key in TURN_PROVIDER_KEYS):
        from streamlit_webrtc.credentials import get_available_ice_servers

        return [dict(s) for s in get_available_ice_servers()]
    return []


def rtc_configuration(ice_servers: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """Always an explicit list: streamlit-webrtc would otherwise fetch Google STUN/TURN servers
    from the network, which a localhost setup doesn't need (and offline can't reach)."""
    return {"iceServers": [dict(s) for s in ice_servers]}


def _frame_callback(holder: MoodHolder) -> Callable[[Any], Any]:
    """The frame callback for this browser session, built once so its smoother keeps state."""
    callback = st.session_state.get(keys.LIVE_CALLBACK)
    if callback is None:
        callback = st.session_state[keys.LIVE_CALLBACK] = make_video_frame_callback(live_frame_processor(holder))
    return callback


def camera_stream(holder: MoodHolder) -> bool:
    """The webrtc widget, its frames' moods going into `holder`. True while the stream is
    playing; else the holder is emptied (no reading outlives the stream) and a caption says
    what to do."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from app.config import get_settings

    ctx = webrtc_streamer(
        key="moodtune-live",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc_configuration(resolve_ice_servers(get_settings().ice_servers)),
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=_frame_callback(holder),
        async_processing=True,
    )
    playing = bool(ctx.state.playing)
    if not playing:
        holder.clear()
        st.caption(
            "Press **START** and allow the camera. If the browser blocks the camera or the "
            "connection doesn't come up, use *Snapshot*, *Photo* or *Pick* instead."
        )
    return playing
