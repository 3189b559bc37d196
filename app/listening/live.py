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

# The face analyses of all live streams of the process together may take about this share of
# one core. After a stream's analysis begins, its next waits the recent cost of one (a moving
# average, so a stream's slow first analysis or an occasional whole-frame search doesn't stall
# it) times the streams analysing now, over this share; never longer than MAX_ANALYSIS_GAP_S.
# For one listener on a machine where an analysis is cheap next to the camera's frame interval,
# every frame is analysed (the overlay follows the face, the tracker sees small steps); with
# many listeners, or on a slow or busy machine, analyses space out instead of falling behind the
# streams, and frames in between reuse the last faces for the overlay. The smoother is
# time-based, so the mood means the same at any rate.
ANALYSIS_CPU_SHARE = 0.4
MAX_ANALYSIS_GAP_S = 0.2
COST_SMOOTHING = 0.2  # weight of the newest analysis in the moving average of their cost
ACTIVE_WITHIN_S = 1.0  # a stream that analysed this recently counts as analysing


class AnalysisBudget:
    """The CPU share the live streams' face analyses may take together (one per process:
    ``LIVE_BUDGET``); each stream asks it how long to wait before its next analysis."""

    def __init__(self, share: float = ANALYSIS_CPU_SHARE) -> None:
        self.share = share
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}  # stream -> when it last analysed

    def gap(self, stream: int, cost_s: float, now: float) -> float:
        """Seconds `stream` waits after an analysis that began at `now`, analyses costing it
        `cost_s` lately."""
        with self._lock:
            self._last[stream] = now
            for other, at in list(self._last.items()):
                if now - at > ACTIVE_WITHIN_S:
                    del self._last[other]
            active = len(self._last)
        return min(MAX_ANALYSIS_GAP_S, cost_s * active / self.share)


LIVE_BUDGET = AnalysisBudget()


@dataclass(frozen=True)
class LiveSnapshot:
    """What the script sees of the live stream at one moment."""

    frames_seen: int
    mood: SmoothedMood | None  # None when no face is in view
    updated_at: float | None  # time.monotonic() of the last analysis
    error: str | None
    faces: int = 0  # faces in the last analysed frame (the music follows the most prominent)


class MoodHolder:
    """Hands the smoothed mood from the video thread to the script thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames_seen = 0
        self._mood: SmoothedMood | None = None
        self._updated_at: float | None = None
        self._error: str | None = None
        self._faces = 0

    def put(self, mood: SmoothedMood | None, now: float, faces: int = 0) -> None:
        with self._lock:
            self._frames_seen += 1
            self._mood = mood
            self._updated_at = now
            self._error = None
            self._faces = faces

    def put_error(self, message: str) -> None:
        with self._lock:
            self._error = message

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return LiveSnapshot(self._frames_seen, self._mood, self._updated_at, self._error, self._faces)

    def clear(self) -> None:
        with self._lock:
            self._frames_seen, self._mood, self._updated_at, self._error, self._faces = 0, None, None, None, 0


def make_frame_processor(
    analyzer: Any,
    holder: MoodHolder,
    smoother: Any,
    draw_overlay: Callable[..., np.ndarray],
    *,
    clock: Callable[[], float] = time.monotonic,
    budget: AnalysisBudget = LIVE_BUDGET,
) -> Callable[[np.ndarray], np.ndarray]:
    """BGR frame in → BGR frame with overlay out; feeds ``holder`` as a side effect.

    ``analyzer`` has ``.analyze(frame) -> list[Face]`` (app.vision.FaceAnalyzer or its per-stream
    LiveAnalyzer), ``smoother`` is an app.vision.MoodSmoother. Separate from the av.VideoFrame
    wrapper so it can be tested with plain arrays.
    """
    state: dict[str, Any] = {"faces": [], "label": None, "box": None, "next": float("-inf"), "cost": 0.0}
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
                    holder.put(mood, now, len(faces))
                    state["label"] = mood.label if mood is not None else None
                    state["box"] = mood.face_box if mood is not None else None  # the face the music follows
                state["faces"] = faces
                state["cost"] += COST_SMOOTHING * (clock() - now - state["cost"])
                state["next"] = now + budget.gap(id(state), state["cost"], now)
            faces, label, box = state["faces"], state["label"], state["box"]
        if not faces:
            return image_bgr
        return draw_overlay(image_bgr.copy(), faces, primary_label=label, followed_box=box)

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
