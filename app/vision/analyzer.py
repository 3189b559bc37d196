"""Live face-expression pipeline: detect faces → crop like FER2013 → classify in one batch.

Speed choices (`python -m app bench` measures them):
- detection (YuNet, app.vision.detector) runs on every frame: on the whole frame downscaled to
  320 px wide (what `eval-detect` scores; the model card says why this detector), and in a live
  stream, between full-frame searches, only around the faces already found (LiveAnalyzer);
- the crop is one affine warp per face that also levels the eyes;
- the classifier is the trained Keras model exported to TFLite and run with LiteRT's
  interpreter (XNNPACK), one invoke for all faces of a frame; TensorFlow is never imported here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import FACE_MODEL_FILE, MODELS_DIR
from app.emotions import FACE_LABELS
from app.model_loading import load_once
from app.vision.detector import Detection, DetectorError, Point, box_iou
from app.vision.detector import YuNetDetector as FaceDetector

INPUT_SIZE = 48
# The live stream's full-frame search cadence and how many faces it follows between (see LiveAnalyzer).
FULL_FRAME_EVERY = 10
MAX_FOLLOWED = 3
# The crop square's side as a share of the detector box's longer side. On FER2013's own crops
# YuNet's box is about as tall as the crop and centred in it, and re-cropping them through the
# detector reads best at this scale (`python -m app.vision.compare_detectors`, `crop_check`).
CROP_SCALE = 1.0


class VisionModelError(RuntimeError):
    """The face model or the face detector can't be loaded; the message says how to fix it."""


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h in the frame's pixels
    label: str
    probabilities: dict[str, float]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]


class ExpressionClassifier:
    """48×48 grayscale face crops → probabilities over FACE_LABELS (LiteRT, thread-safe)."""

    def __init__(self, model_path: Path, num_threads: int = 1, flip_average: bool = True):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise VisionModelError("ai-edge-litert is not installed; pip install -r requirements.txt") from exc
        if not model_path.is_file():
            raise VisionModelError(
                f"face model {model_path} is missing; train and export it with `python -m app.vision.train`"
            )
        try:
            self._interp = Interpreter(model_path=str(model_path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except Exception as exc:
            raise VisionModelError(f"face model {model_path} is corrupt or unreadable ({type(exc).__name__})") from None
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]
        self._batch = 1
        self.flip_average = flip_average
        # One interpreter per process; invoke is not re-entrant, so calls are serialised.
        self._lock = threading.Lock()

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """crops: uint8 (N, 48, 48). Returns float32 (N, 7) probabilities."""
        if len(crops) == 0:
            return np.zeros((0, len(FACE_LABELS)), np.float32)
        x = crops.astype(np.float32)[..., None] / 255.0
        if self.flip_average:
            x = np.concatenate([x, x[:, :, ::-1]])
        with self._lock:
            if x.shape[0] != self._batch:
                self._interp.resize_tensor_input(self._in, list(x.shape))
                self._interp.allocate_tensors()
                self._batch = x.shape[0]
            self._interp.set_tensor(self._in, np.ascontiguousarray(x))
            self._interp.invoke()
            probs = self._interp.get_tensor(self._out).copy()
        if self.flip_average:
            n = len(crops)
            probs = (probs[:n] + probs[n:]) / 2
        # A full-int8 model's softmax comes in steps of 1/256; renormalise so each row sums to 1.
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-9)


def crop_face(
    gray: np.ndarray,
    box: tuple[int, int, int, int],
    eyes: tuple[Point, Point] | None = None,
    scale: float = CROP_SCALE,
) -> np.ndarray:
    """The 48×48 crop as FER2013 made them: a square about the face box, roughly brows to chin,
    turned so the eyes are level when the detector gives them (FER2013's faces are upright)."""
    import cv2

    x, y, w, h = box
    side = scale * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    angle = 0.0
    if eyes is not None:
        (ax, ay), (bx, by) = sorted(eyes)  # image-left eye first, whatever the detector's order
        angle = float(np.degrees(np.arctan2(by - ay, bx - ax)))
    # Rotate about the box centre, scale the square to INPUT_SIZE, then move its centre there.
    m = cv2.getRotationMatrix2D((cx, cy), angle, INPUT_SIZE / side)
    m[:, 2] += (INPUT_SIZE / 2 - cx, INPUT_SIZE / 2 - cy)
    # INTER_AREA is not available to warpAffine; a big face is shrunk by resizing first so
    # bilinear sampling doesn't alias. Only the part the turned square covers is resized, not
    # the whole frame.
    shrink = side / INPUT_SIZE
    if shrink > 2:
        reach = 0.75 * side + 2  # ≥ half the square's diagonal, whatever the angle
        x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
        x1, y1 = min(gray.shape[1], int(cx + reach) + 1), min(gray.shape[0], int(cy + reach) + 1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            f = 2 / shrink
            part = gray[y0:y1, x0:x1]
            size = (max(1, round(part.shape[1] * f)), max(1, round(part.shape[0] * f)))
            m[:, 2] += m[:, :2] @ (x0, y0)
            m[:, :2] *= (part.shape[1] / size[0], part.shape[0] / size[1])
            gray = cv2.resize(part, size, interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(gray, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _check_frame(frame_bgr: np.ndarray) -> None:
    if frame_bgr is None or frame_bgr.ndim not in (2, 3) or frame_bgr.size == 0:
        raise ValueError("expected a non-empty BGR image")


class FaceAnalyzer:
    """Detect + classify every face of a BGR frame. One instance per process (`load()`; tests
    stand in for it with `FaceAnalyzer.load.override(stub)`, see app.model_loading)."""

    def __init__(self, classifier: ExpressionClassifier, detector: FaceDetector):
        self.classifier = classifier
        self.detector = detector

    @load_once
    def load(cls) -> FaceAnalyzer:
        """The process-wide analyzer with the model from the repo's models/ folder."""
        try:
            detector = FaceDetector()
        except DetectorError as exc:
            raise VisionModelError(str(exc)) from None
        return cls(ExpressionClassifier(MODELS_DIR / FACE_MODEL_FILE), detector)

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """The detector over the whole frame (what `eval-detect` scores; a live stream's first frame)."""
        _check_frame(frame_bgr)
        return self.detector.detect(frame_bgr)

    def classify_crops(self, crops: np.ndarray) -> list[dict[str, float]]:
        probs = self.classifier.predict(crops)
        return [{lab: float(p) for lab, p in zip(FACE_LABELS, row, strict=True)} for row in probs]

    def analyze(
        self, frame_bgr: np.ndarray, boxes: list[tuple[int, int, int, int]] | list[Detection] | None = None
    ) -> list[Face]:
        """Faces in the frame, largest first. Pass `boxes` (or earlier `Detection`s) to skip detection."""
        import cv2

        _check_frame(frame_bgr)
        dets = (
            self.detect(frame_bgr)
            if boxes is None
            else [b if isinstance(b, Detection) else Detection(tuple(b), 1.0) for b in boxes]
        )
        if not dets:
            return []
        gray = frame_bgr if frame_bgr.ndim == 2 else cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        crops = np.stack([crop_face(gray, d.box, d.eyes) for d in dets])
        return [Face(d.box, max(p, key=p.get), p) for d, p in zip(dets, self.classify_crops(crops), strict=True)]

    def stream(self) -> LiveAnalyzer:
        """A per-connection analyzer that follows faces from frame to frame (see LiveAnalyzer)."""
        return LiveAnalyzer(self)


def _centre_distance(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    return float(np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2))


class LiveAnalyzer:
    """Per video stream state: the faces being followed. Not shared across streams.

    Detection runs on every frame. While faces are in view it searches only around each of them
    (`detect_near`, a small region scaled to the detector's best face size); the whole frame is
    searched when a followed face is lost, when two of them land on one face, when more than
    MAX_FOLLOWED are in view, and every FULL_FRAME_EVERY frames, so that a face that comes into
    view is found within that many frames."""

    def __init__(self, analyzer: FaceAnalyzer, full_frame_every: int = FULL_FRAME_EVERY):
        self.analyzer = analyzer
        self.full_frame_every = full_frame_every
        self._since_full = 0
        self._dets: list[Detection] = []

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        _check_frame(frame_bgr)
        dets = self._follow(frame_bgr) if self._since_full < self.full_frame_every else None
        if dets is None:
            dets = self.analyzer.detect(frame_bgr)
            self._since_full = 0
        self._since_full += 1
        self._dets = dets
        return dets

    def analyze(self, frame_bgr: np.ndarray) -> list[Face]:
        dets = self.detect(frame_bgr)
        return self.analyzer.analyze(frame_bgr, boxes=dets) if dets else []

    def _follow(self, frame_bgr: np.ndarray) -> list[Detection] | None:
        """Each followed face found again near where it was, or None when the frame needs a full search."""
        near = getattr(self.analyzer.detector, "detect_near", None)
        if near is None or not self._dets or len(self._dets) > MAX_FOLLOWED:
            return None
        found: list[Detection] = []
        for prev in self._dets:
            candidates = near(frame_bgr, prev.box)
            if not candidates:
                return None
            best = min(candidates, key=lambda d: _centre_distance(d.box, prev.box))
            if found and box_iou(np.asarray(best.box, np.float64), np.asarray([d.box for d in found])).max() > 0.5:
                return None
            found.append(best)
        return sorted(found, key=lambda d: -d.box[2] * d.box[3])
