"""The live camera's side of the listener's mood, without Streamlit or ``av``: a thread-safe
holder and the frame processor that feeds it.

streamlit-webrtc calls the frame callback in its worker thread, where ``st.session_state`` is
not available. The processor therefore writes into a ``MoodHolder`` (a lock-protected box) that
the page's script thread reads from a periodic fragment; nothing blocks the script. The
webrtc/``av`` wiring around it lives in ``app.ui.live``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.vision import Face, SmoothedMood

# Face analysis may take at most this share of one core: each analysis waits its own cost over
# this share after the previous one began. Where a frame's analysis is cheap next to the camera's
# frame interval, every frame is analysed (the overlay follows the face, the tracker sees small
# steps); on a slow or busy machine analyses space out instead of falling behind the stream, and
# frames in between reuse the last faces for the overlay. The smoother is time-based, so the
# mood means the same at any rate.
ANALYSIS_CPU_SHARE = 0.3


@dataclass(frozen=True)
class LiveSnapshot:
    """What the script sees of the live stream at one moment."""

    frames_seen: int
    mood: SmoothedMood | None  # None when no face is in view
    updated_at: float | None  # time.monotonic() of the last analysis
    error: str | None


class MoodHolder:
    """Hands the smoothed mood from the video thread to the script thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames_seen = 0
        self._mood: SmoothedMood | None = None
        self._updated_at: float | None = None
        self._error: str | None = None

    def put(self, mood: SmoothedMood | None, now: float) -> None:
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
    *,
    clock: Callable[[], float] = time.monotonic,
    cpu_share: float = ANALYSIS_CPU_SHARE,
) -> Callable[[np.ndarray], np.ndarray]:
    """BGR frame in → BGR frame with overlay out; feeds ``holder`` as a side effect.

    ``analyzer`` has ``.analyze(frame) -> list[Face]`` (app.vision.FaceAnalyzer or its per-stream
    LiveAnalyzer), ``smoother`` is an app.vision.MoodSmoother. Separate from the av.VideoFrame
    wrapper so it can be tested with plain arrays.
    """
    state: dict[str, Any] = {"faces": [], "label": None, "next": float("-inf")}
    lock = threading.Lock()  # the worker may call us from more than one thread

    def process(image_bgr: np.ndarray) -> np.ndarray:
        now = clock()
        with lock:
            if now >= state["next"]:
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
                state["next"] = now + (clock() - now) / cpu_share
            faces, label = state["faces"], state["label"]
        if not faces:
            return image_bgr
        return draw_overlay(image_bgr.copy(), faces, primary_label=label)

    return process


class LazyStreamAnalyzer:
    """Loads the face model on the first frame, in the video thread, not when the page opens;
    one LiveAnalyzer per stream (it detects on every frame it analyses)."""

    def __init__(self) -> None:
        self._stream = None

    def analyze(self, image: np.ndarray) -> list[Face]:
        if self._stream is None:
            from app.vision import FaceAnalyzer

            self._stream = FaceAnalyzer.load().stream()
        return self._stream.analyze(image)


def live_frame_processor(holder: MoodHolder) -> Callable[[np.ndarray], np.ndarray]:
    """The processor for one browser session's stream: lazy model, its own smoother, the overlay."""
    from app.vision import MoodSmoother, draw_overlay

    return make_frame_processor(LazyStreamAnalyzer(), holder, MoodSmoother(), draw_overlay)
