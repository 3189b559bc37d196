"""`python -m app eval-face DIR`: score the served face model on labelled face crops."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.emotions import FACE_LABELS
from app.tools.evaluation import classification_report, print_report

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp"}


def image_files(root: Path) -> list[tuple[Path, str]]:
    """`root/<label>/<image>` for known labels (other folders ignored), in reading order."""
    files = []
    for label in FACE_LABELS:
        folder = root / label
        if folder.is_dir():
            files += [(f, label) for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    return files


def load_crops(root: Path, files: list[tuple[Path, str]] | None = None) -> tuple[np.ndarray, list[str]]:
    """`root/<label>/<image>` (or the given `(path, label)` list) → 48×48 uint8 crops.

    Each image is already a face (as in FER2013): it is resized, not detected."""
    import cv2

    from app.vision.analyzer import INPUT_SIZE

    crops, labels = [], []
    for f, label in image_files(root) if files is None else files:
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        if img.shape != (INPUT_SIZE, INPUT_SIZE):
            img = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        crops.append(img)
        labels.append(label)
    if not crops:
        raise SystemExit(f"no face images under {root}/<label>/ for labels {', '.join(FACE_LABELS)}")
    return np.stack(crops), labels


def evaluate_dir(root: Path, batch: int = 256, files: list[tuple[Path, str]] | None = None) -> dict:
    from app.vision.analyzer import FaceAnalyzer

    crops, labels = load_crops(root, files)
    analyzer = FaceAnalyzer.load()
    probs = np.concatenate([analyzer.classifier.predict(crops[i : i + batch]) for i in range(0, len(crops), batch)])
    pred = [FACE_LABELS[i] for i in probs.argmax(axis=1)]
    return classification_report(labels, pred, FACE_LABELS)


def eval_face_cli(args: argparse.Namespace) -> int:
    return print_report(evaluate_dir(Path(args.dir)), getattr(args, "json", False))
