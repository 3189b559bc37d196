"""FER2013 split hygiene: validation images that are byte-for-byte copies of training images.

A copy in val scores what the model memorised, not what it generalises to, so model selection
(`app.vision.train`) uses val without them, and the model card reports val both ways once.
`python -m app.vision.splits [--data DIR]` measures the served model both ways and records it in
`models/face_metrics.json` (`val_dedup`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from app.tools.evaluation import update_metrics
from app.vision.evaluate import evaluate_dir, image_files


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean_val_files(root: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """`root/val` files split into (kept, duplicates of a `root/train` file by content hash)."""
    train_hashes = {content_hash(f) for f, _ in image_files(root / "train")}
    kept, dupes = [], []
    for f, label in image_files(root / "val"):
        (dupes if content_hash(f) in train_hashes else kept).append((f, label))
    return kept, dupes


def val_dedup_report(root: Path) -> dict:
    """The served model's eval-face figures on val with and without the training copies."""
    val = root / "val"
    kept, dupes = clean_val_files(root)
    every = image_files(val)
    report = {
        "n_val": len(every),
        "n_duplicates_of_train": len(dupes),
        "with_duplicates": evaluate_dir(val, files=every),
        "without_duplicates": evaluate_dir(val, files=kept),
    }
    if dupes:
        report["duplicates_only"] = evaluate_dir(val, files=dupes)
    for key in ("with_duplicates", "duplicates_only"):  # the clean split keeps its matrix for the model card
        report.get(key, {}).pop("confusion", None)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/fer2013", help="folder with train/ and val/")
    args = parser.parse_args(argv)
    report = val_dedup_report(Path(args.data))
    update_metrics("face_metrics.json", val_dedup=report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
