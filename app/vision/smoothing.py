"""Temporal smoothing of per-frame expressions into a steady mood.

Per-frame predictions flicker; the listener's mood should not. Each tracked face keeps an
exponential moving average of its distribution with a time constant of about one second
(so it adapts at the same speed whatever the frame rate). The primary face is the largest,
nudged toward the centre of the frame. After `forget_s` without a face the state resets and
reports "no face".
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from app.emotions import FACE_LABELS, MoodPoint, emotion_to_point
from app.vision.analyzer import Face


@dataclass(frozen=True)
class SmoothedMood:
    label: str
    probabilities: dict[str, float]
    confidence: float  # probability of the label, times how long the face has been seen (ramps up over ~1 s)
    point: MoodPoint
    face_box: tuple[int, int, int, int]
    faces: int  # faces in view


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclass
class _Track:
    box: tuple[int, int, int, int]
    probs: np.ndarray
    seen_s: float
    last_t: float


class MoodSmoother:
    """Feed `update(faces, t, frame_size)` every frame; thread-safe."""

    def __init__(self, tau_s: float = 1.0, forget_s: float = 1.5):
        self.tau_s = tau_s
        self.forget_s = forget_s
        self._tracks: list[_Track] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._tracks = []

    def update(self, faces: list[Face], t: float, frame_size: tuple[int, int] | None = None) -> SmoothedMood | None:
        """Blend this frame's faces into the tracks; return the primary face's mood or None."""
        with self._lock:
            matched: list[_Track] = []
            free = list(self._tracks)
            for face in faces:
                p = np.array([face.probabilities[k] for k in FACE_LABELS], dtype=np.float64)
                best = max(free, key=lambda tr: _iou(tr.box, face.box), default=None)
                if best is not None and _iou(best.box, face.box) > 0.2:
                    free.remove(best)
                    dt = max(0.0, t - best.last_t)
                    alpha = 1.0 - math.exp(-dt / self.tau_s) if dt > 0 else 0.5
                    best.probs = (1 - alpha) * best.probs + alpha * p
                    best.seen_s += dt
                    best.box, best.last_t = face.box, t
                    matched.append(best)
                else:
                    matched.append(_Track(face.box, p, 0.0, t))
            # Faces briefly missed by the detector survive until forget_s.
            kept = [tr for tr in free if t - tr.last_t <= self.forget_s]
            self._tracks = matched + kept
            if not self._tracks:
                return None
            primary = max(self._tracks, key=lambda tr: self._prominence(tr.box, frame_size))
            probs = primary.probs / primary.probs.sum()
            dist = {k: float(v) for k, v in zip(FACE_LABELS, probs, strict=True)}
            label = max(dist, key=dist.get)
            ramp = min(1.0, 0.3 + primary.seen_s / self.tau_s)
            return SmoothedMood(label, dist, dist[label] * ramp, emotion_to_point(dist), primary.box, len(matched))

    @staticmethod
    def _prominence(box: tuple[int, int, int, int], frame_size: tuple[int, int] | None) -> float:
        x, y, w, h = box
        area = float(w * h)
        if not frame_size:
            return area
        fw, fh = frame_size
        off = math.hypot((x + w / 2 - fw / 2) / fw, (y + h / 2 - fh / 2) / fh)
        return area * (1.0 - 0.5 * min(1.0, off))
