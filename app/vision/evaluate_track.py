"""Face following on moving faces: the live stream's detector (LiveAnalyzer) against a full-frame
search on every frame, on sequences made by moving each `eval-detect` photo.

    python -m app.vision.evaluate_track [--data ../shared/data/faces_detect] [--frames 16]

Each photo becomes a short clip: shifted, scaled and turned a little more each frame along a smooth
path (`moving_frames`), its labelled boxes moved with it. Both detectors see every frame; recall
and precision at IoU ≥ 0.5 (the eval-detect matching) and ms per frame are counted over all frames.
Writes the `tracking` entry of `models/detector_metrics.json` (the model card's detector section).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from app.tools.evaluation import update_metrics
from app.vision.detector import Box
from app.vision.evaluate_detect import HEIGHT_BINS, height_bin, load_boxes, match

# The path of a clip: at most this far (px), this much larger or smaller, this many degrees.
SHIFT_PX = (60.0, 30.0)
SCALE = 0.12
TURN_DEG = 8.0
GREY = 114


def _path(i: int, n: int) -> tuple[float, float, float, float]:
    """dx, dy, scale, angle of frame i of n: one smooth sweep out and back."""
    t = 2 * np.pi * i / max(1, n)
    return SHIFT_PX[0] * np.sin(t), SHIFT_PX[1] * np.sin(2 * t), 1 + SCALE * np.sin(t + 1.0), TURN_DEG * np.sin(t)


def moving_frames(frame_bgr: np.ndarray, boxes: list[Box], n: int) -> list[tuple[np.ndarray, list[Box]]]:
    """`n` frames of `frame_bgr` moving along `_path`, each with its faces' boxes moved along (a box
    keeps its centre's path and scales; the small turn is left out of its size)."""
    import cv2

    h, w = frame_bgr.shape[:2]
    out = []
    for i in range(n):
        dx, dy, scale, angle = _path(i, n)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += (dx, dy)
        moved = cv2.warpAffine(
            frame_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(GREY,) * 3
        )
        new_boxes = []
        for bx, by, bw, bh in boxes:
            cx, cy = m @ (bx + bw / 2, by + bh / 2, 1.0)
            new_boxes.append(
                (int(round(cx - bw * scale / 2)), int(round(cy - bh * scale / 2)), round(bw * scale), round(bh * scale))
            )
        out.append((moved, new_boxes))
    return out


class _Tally:
    def __init__(self) -> None:
        self.hits: dict[str, list[bool]] = {name: [] for name, _, _ in HEIGHT_BINS}
        self.found = self.true_pos = 0
        self.times: list[float] = []

    def add(self, truth: list[Box], found: list[Box], seconds: float) -> None:
        matched = match(truth, found)
        self.found += len(found)
        self.true_pos += sum(m is not None for m in matched)
        for box, m in zip(truth, matched, strict=True):
            self.hits[height_bin(box[3])].append(m is not None)
        self.times.append(seconds)

    def report(self) -> dict:
        n = sum(len(v) for v in self.hits.values())
        return {
            "recall": round(self.true_pos / max(1, n), 4),
            "precision": round(self.true_pos / self.found, 4) if self.found else 0.0,
            "by_height": {k: (round(sum(v) / len(v), 4) if v else None) for k, v in self.hits.items()},
            "ms_per_frame_p50": round(float(np.median(self.times)) * 1000, 2),
            "ms_per_frame_p95": round(float(np.percentile(self.times, 95)) * 1000, 2),
        }


def evaluate_tracking(root: Path, frames: int = 16) -> dict:
    """Full-frame search on every frame vs the live stream's following, on each photo's clip."""
    import cv2

    from app.vision.analyzer import FULL_FRAME_EVERY, FaceAnalyzer

    analyzer = FaceAnalyzer.load()
    full, follow = _Tally(), _Tally()
    truth = load_boxes(root)
    for file, boxes in truth.items():
        frame = cv2.imread(str(root / "images" / file), cv2.IMREAD_COLOR)
        live = analyzer.stream()
        for moved, moved_boxes in moving_frames(frame, boxes, frames):
            t0 = time.perf_counter()
            found = [d.box for d in analyzer.detect(moved)]
            full.add(moved_boxes, found, time.perf_counter() - t0)
            t0 = time.perf_counter()
            found = [d.box for d in live.detect(moved)]
            follow.add(moved_boxes, found, time.perf_counter() - t0)
    return {
        "data": root.name,
        "n_clips": len(truth),
        "frames_per_clip": frames,
        "n_faces_per_frame_total": sum(len(v) for v in full.hits.values()),
        "path": {"shift_px": list(SHIFT_PX), "scale": SCALE, "turn_deg": TURN_DEG},
        "full_frame_every": FULL_FRAME_EVERY,
        "full_frame_search": full.report(),
        "live_stream": follow.report(),
    }


def main(argv: list[str] | None = None) -> None:
    import cv2
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/faces_detect")
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    with threadpool_limits(1):
        report = evaluate_tracking(Path(args.data), args.frames)
    update_metrics("detector_metrics.json", tracking=report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
