"""`python -m app eval-detect DIR`: score the app's face detector on photos with labelled boxes.

DIR holds `images/<file>` and `boxes.csv` (`file,x,y,w,h`, one row per face, pixels). Each image
goes through the detector exactly as a live frame does (`FaceAnalyzer.detect`); detections are
matched to faces greedily, best IoU first, at IoU ≥ 0.5. Recall is also given per face height.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.tools.evaluation import print_figures
from app.vision.detector import Box, box_iou

IOU_THRESHOLD = 0.5
HEIGHT_BINS: tuple[tuple[str, float, float], ...] = (
    ("0-60", 0, 60),
    ("60-100", 60, 100),
    ("100-160", 100, 160),
    ("160+", 160, float("inf")),
)


def height_bin(h: float) -> str:
    return next(name for name, lo, hi in HEIGHT_BINS if lo <= h < hi)


def load_boxes(root: Path) -> dict[str, list[Box]]:
    """`boxes.csv` → {file: [box, …]} in file order (an image may have several rows)."""
    path = root / "boxes.csv"
    if not path.is_file() or not (root / "images").is_dir():
        raise SystemExit(f"{root} must hold images/<file> and boxes.csv (file,x,y,w,h)")
    boxes: dict[str, list[Box]] = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            boxes[row["file"]].append(tuple(int(round(float(row[k]))) for k in ("x", "y", "w", "h")))
    return dict(boxes)


def match(truth: Sequence[Box], found: Sequence[Box], threshold: float = IOU_THRESHOLD) -> list[int | None]:
    """Greedy one-to-one matching, highest IoU pair first: for each true box, the index of the
    detection it got (or None)."""
    pairs = []
    for i, t in enumerate(truth):
        if found:
            for j, iou in enumerate(box_iou(np.asarray(t, np.float64), np.asarray(found, np.float64))):
                if iou >= threshold:
                    pairs.append((iou, i, j))
    matched: list[int | None] = [None] * len(truth)
    used: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if matched[i] is None and j not in used:
            matched[i] = j
            used.add(j)
    return matched


def evaluate_detector(root: Path, detect: Callable[[np.ndarray], list[Box]]) -> dict:
    """The eval-detect report for any `detect(frame_bgr) -> boxes`."""
    import cv2

    truth = load_boxes(root)
    hits: dict[str, list[bool]] = {name: [] for name, _, _ in HEIGHT_BINS}
    n_found = n_true_pos = n_images = 0
    times = []
    for file, boxes in truth.items():
        frame = cv2.imread(str(root / "images" / file), cv2.IMREAD_COLOR)
        if frame is None:
            raise SystemExit(f"{root / 'images' / file} is missing or not an image")
        t0 = time.perf_counter()
        found = detect(frame)
        times.append(time.perf_counter() - t0)
        n_images += 1
        matched = match(boxes, found)
        n_found += len(found)
        n_true_pos += sum(m is not None for m in matched)
        for box, m in zip(boxes, matched, strict=True):
            hits[height_bin(box[3])].append(m is not None)
    n_faces = sum(len(v) for v in hits.values())
    return {
        "n_images": n_images,
        "n_faces": n_faces,
        "recall": round(n_true_pos / max(1, n_faces), 4),
        "precision": round(n_true_pos / n_found, 4) if n_found else 0.0,
        "ms_per_image_p50": round(float(np.median(times)) * 1000, 2) if times else 0.0,
        "by_height": {name: (round(sum(v) / len(v), 4) if v else None) for name, v in hits.items()},
        "n_by_height": {name: len(v) for name, v in hits.items()},
    }


def evaluate_dir(root: Path) -> dict:
    from app.vision.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer.load()
    return evaluate_detector(root, lambda frame: [d.box for d in analyzer.detect(frame)])


def eval_detect_cli(args: argparse.Namespace) -> int:
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)  # the live page's one-thread budget
    with threadpool_limits(1):
        report = evaluate_dir(Path(args.dir))
    return print_figures(report, getattr(args, "json", False))
