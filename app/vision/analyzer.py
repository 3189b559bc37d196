"""Live face-expression pipeline: detect faces → crop like FER2013 → classify in one batch.

Speed choices (`python -m app bench` measures them):
- detection runs on a frame downscaled to 320 px wide, and only every `detect_every` frames;
  in between, the last boxes are reused (faces move little in 100 ms);
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

INPUT_SIZE = 48
DETECT_WIDTH = 320


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


class FaceDetector:
    """OpenCV's frontal-face Haar cascade (shipped inside opencv-python-headless 4.x)."""

    def __init__(self):
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise VisionModelError(f"face detector {path} could not be loaded (opencv-python-headless 4.x is required)")
        self._lock = threading.Lock()

    def detect(self, gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Boxes (x, y, w, h) in `gray`'s pixels, largest first."""
        import cv2

        scale = min(1.0, DETECT_WIDTH / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        # No histogram equalisation: it makes the cascade miss faces against flat backgrounds.
        # The smallest window sizes cost the most, so faces under 18 % of the frame height (a
        # listener sits closer than that) are not searched.
        min_side = max(24, int(min(small.shape[:2]) * 0.18))
        with self._lock:  # CascadeClassifier is not documented as thread-safe
            found = self._cascade.detectMultiScale(
                small, scaleFactor=1.15, minNeighbors=5, minSize=(min_side, min_side)
            )
        boxes = [tuple(int(round(v / scale)) for v in b) for b in found]
        return sorted(boxes, key=lambda b: -b[2] * b[3])


def crop_face(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 48×48 crop as FER2013 made them: the detector's square, which runs roughly from the
    brows to the chin, shifted down slightly (Haar boxes sit a little high)."""
    import cv2

    x, y, w, h = box
    side = int(w * 1.0)
    cx, cy = x + w / 2, y + h / 2 + 0.05 * h
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h_img, w_img = gray.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w_img, y0 + side - h_img)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    crop = gray[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)


class FaceAnalyzer:
    """Detect + classify every face of a BGR frame. One instance per process (`load()`; tests
    stand in for it with `FaceAnalyzer.load.override(stub)`, see app.model_loading)."""

    def __init__(self, classifier: ExpressionClassifier, detector: FaceDetector, detect_every: int = 3):
        self.classifier = classifier
        self.detector = detector
        self.detect_every = detect_every

    @load_once
    def load(cls) -> FaceAnalyzer:
        """The process-wide analyzer with the model from the repo's models/ folder."""
        return cls(ExpressionClassifier(MODELS_DIR / FACE_MODEL_FILE), FaceDetector())

    def classify_crops(self, crops: np.ndarray) -> list[dict[str, float]]:
        probs = self.classifier.predict(crops)
        return [{lab: float(p) for lab, p in zip(FACE_LABELS, row, strict=True)} for row in probs]

    def analyze(self, frame_bgr: np.ndarray, boxes: list[tuple[int, int, int, int]] | None = None) -> list[Face]:
        """Faces in the frame, largest first. Pass `boxes` to skip detection (tracking reuse)."""
        import cv2

        if frame_bgr is None or frame_bgr.ndim not in (2, 3) or frame_bgr.size == 0:
            raise ValueError("expected a non-empty BGR image")
        gray = frame_bgr if frame_bgr.ndim == 2 else cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        if boxes is None:
            boxes = self.detector.detect(gray)
        if not boxes:
            return []
        crops = np.stack([crop_face(gray, b) for b in boxes])
        return [Face(box, max(p, key=p.get), p) for box, p in zip(boxes, self.classify_crops(crops), strict=True)]

    def stream(self) -> LiveAnalyzer:
        """A per-connection analyzer that detects every few frames and reuses boxes between."""
        return LiveAnalyzer(self)


class LiveAnalyzer:
    """Per video stream state: detection cadence and the last boxes. Not shared across streams."""

    def __init__(self, analyzer: FaceAnalyzer):
        self.analyzer = analyzer
        self._frame_no = 0
        self._boxes: list[tuple[int, int, int, int]] = []

    def analyze(self, frame_bgr: np.ndarray) -> list[Face]:
        detect = self._frame_no % self.analyzer.detect_every == 0 or not self._boxes
        self._frame_no += 1
        if detect:
            faces = self.analyzer.analyze(frame_bgr)
            self._boxes = [f.box for f in faces]
            return faces
        return self.analyzer.analyze(frame_bgr, boxes=self._boxes)
