"""Live camera: streamlit-webrtc wiring, the frame callback and a thread-safe mood holder.

``video_frame_callback`` runs in streamlit-webrtc's worker thread, where ``st.session_state`` is
not available. The callback therefore writes into a ``MoodHolder`` (a lock-protected box) that
the script reads from an ``st.fragment(run_every=...)``; nothing blocks the script.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Analysing every frame would eat both cores; the smoother averages over ~1 s anyway, so a few
# analyses a second are enough. Frames in between reuse the last faces for the overlay.
ANALYSIS_INTERVAL_S = 0.2


@dataclass(frozen=True)
class LiveSnapshot:
    """What the script sees of the live stream at one moment."""

    frames_seen: int
    mood: Any | None  # app.vision.SmoothedMood, or None when no face is in view
    updated_at: float | None  # time.monotonic() of the last analysis
    error: str | None


class MoodHolder:
    """Hands the smoothed mood from the video thread to the script thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames_seen = 0
        self._mood: Any | None = None
        self._updated_at: float | None = None
        self._error: str | None = None

    def put(self, mood: Any | None, now: float) -> None:
        with self._lock:
            self._frames_seen += 1
            self._mood = mood
            self._updated_at = now
            self._error = None

    def put_error(self, message: str) -> None:
        with self._lock:
            self._error = message

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return LiveSnapshot(self._frames_seen, self._mood, self._updated_at, self._error)

    def clear(self) -> None:
        with self._lock:
            self._frames_seen, self._mood, self._updated_at, self._error = 0, None, None, None


def make_frame_processor(
    analyzer: Any,
    holder: MoodHolder,
    smoother: Any,
    draw_overlay: Callable[..., np.ndarray],
    clock: Callable[[], float] = time.monotonic,
    interval_s: float = ANALYSIS_INTERVAL_S,
) -> Callable[[np.ndarray], np.ndarray]:
    """BGR frame in → BGR frame with overlay out; feeds ``holder`` as a side effect.

    ``analyzer`` has ``.analyze(frame) -> list[Face]`` (app.vision.FaceAnalyzer or its per-stream
    LiveAnalyzer), ``smoother`` is an app.vision.MoodSmoother. Separate from the av.VideoFrame
    wrapper so it can be tested with plain arrays.
    """
    state: dict[str, Any] = {"faces": [], "label": None, "last": float("-inf")}
    lock = threading.Lock()  # the worker may call us from more than one thread

    def process(image_bgr: np.ndarray) -> np.ndarray:
        now = clock()
        with lock:
            if now - state["last"] >= interval_s:
                state["last"] = now
                try:
                    faces = analyzer.analyze(image_bgr)
                except Exception as exc:  # keep the stream alive; the page shows the problem
                    holder.put_error(f"face analysis failed: {type(exc).__name__}: {str(exc)[:200]}")
                    faces = []
                else:
                    height, width = image_bgr.shape[:2]
                    mood = smoother.update(faces, now, (width, height))
                    holder.put(mood, now)
                    state["label"] = mood.label if mood is not None else None
                state["faces"] = faces
            faces, label = state["faces"], state["label"]
        if not faces:
            return image_bgr
        return draw_overlay(image_bgr.copy(), faces, primary_label=label)

    return process


def make_video_frame_callback(process: Callable[[np.ndarray], np.ndarray]):
    import av

    def video_frame_callback(frame: av.VideoFrame) -> av.VideoFrame:
        image = frame.to_ndarray(format="bgr24")
        return av.VideoFrame.from_ndarray(process(image), format="bgr24")

    return video_frame_callback


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
