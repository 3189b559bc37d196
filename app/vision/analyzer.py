"""Live face-expression pipeline: detect faces → crop like FER2013 → classify in one batch.

Speed choices (`python -m app bench` measures them):
- detection (YuNet, app.vision.detector) runs on every frame, downscaled to 320 px wide;
  `eval-detect` and the model card give its recall by face size and why it was picked;
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
from app.vision.detector import Detection, DetectorError, Point
from app.vision.detector import YuNetDetector as FaceDetector

INPUT_SIZE = 48
# The crop square's side as a share of the detector box's longer side: of the scales tried, the
# one whose crops the classifier reads most like the Haar-box crops it was tuned with.
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


def crop_face(gray: np.ndarray, box: tuple[int, int, int, int], eyes: tuple[Point, Point] | None = None) -> np.ndarray:
    """The 48×48 crop as FER2013 made them: a square about the face box, roughly brows to chin,
    turned so the eyes are level when the detector gives them (FER2013's faces are upright)."""
    import cv2

    x, y, w, h = box
    side = CROP_SCALE * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    angle = 0.0
    if eyes is not None:
        (ax, ay), (bx, by) = sorted(eyes)  # image-left eye first, whatever the detector's order
        angle = float(np.degrees(np.arctan2(by - ay, bx - ax)))
    # Rotate about the box centre, scale the square to INPUT_SIZE, then move its centre there.
    m = cv2.getRotationMatrix2D((cx, cy), angle, INPUT_SIZE / side)
    m[:, 2] += (INPUT_SIZE / 2 - cx, INPUT_SIZE / 2 - cy)
    # INTER_AREA is not available to warpAffine; a big face is shrunk by resizing first so
    # bilinear sampling doesn't alias.
    shrink = side / INPUT_SIZE
    if shrink > 2:
        f = 2 / shrink
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m[:, :2] /= f
    return cv2.warpAffine(gray, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FaceAnalyzer:
    """Detect + classify every face of a BGR frame. One instance per process (`load()`; tests
    stand in for it with `FaceAnalyzer.load.override(stub)`, see app.model_loading)."""

    def __init__(self, classifier: ExpressionClassifier, detector: FaceDetector, detect_every: int = 1):
        self.classifier = classifier
        self.detector = detector
        self.detect_every = detect_every

    @load_once
    def load(cls) -> FaceAnalyzer:
        """The process-wide analyzer with the model from the repo's models/ folder."""
        try:
            detector = FaceDetector()
        except DetectorError as exc:
            raise VisionModelError(str(exc)) from None
        return cls(ExpressionClassifier(MODELS_DIR / FACE_MODEL_FILE), detector)

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """The detector as every live frame runs it (also what `eval-detect` scores)."""
        if frame_bgr is None or frame_bgr.ndim not in (2, 3) or frame_bgr.size == 0:
            raise ValueError("expected a non-empty BGR image")
        return self.detector.detect(frame_bgr)

    def classify_crops(self, crops: np.ndarray) -> list[dict[str, float]]:
        probs = self.classifier.predict(crops)
        return [{lab: float(p) for lab, p in zip(FACE_LABELS, row, strict=True)} for row in probs]

    def analyze(
        self, frame_bgr: np.ndarray, boxes: list[tuple[int, int, int, int]] | list[Detection] | None = None
    ) -> list[Face]:
        """Faces in the frame, largest first. Pass `boxes` (or earlier `Detection`s) to skip detection."""
        import cv2

        if frame_bgr is None or frame_bgr.ndim not in (2, 3) or frame_bgr.size == 0:
            raise ValueError("expected a non-empty BGR image")
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
        """A per-connection analyzer (detects every `detect_every` frames, reusing detections between)."""
        return LiveAnalyzer(self)


class LiveAnalyzer:
    """Per video stream state: detection cadence and the last detections. Not shared across streams."""

    def __init__(self, analyzer: FaceAnalyzer):
        self.analyzer = analyzer
        self._frame_no = 0
        self._dets: list[Detection] = []

    def analyze(self, frame_bgr: np.ndarray) -> list[Face]:
        detect = self._frame_no % self.analyzer.detect_every == 0 or not self._dets
        self._frame_no += 1
        if detect:
            self._dets = self.analyzer.detect(frame_bgr)
        return self.analyzer.analyze(frame_bgr, boxes=self._dets) if self._dets else []
