"""`python -m app eval-music DIR`: score the music model on `annotations.csv` + `audio/<Q>/<Song>.*`."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from app.emotions import QUADRANTS
from app.tools.evaluation import classification_report, print_report


def find_audio(root: Path, quadrant: str, song: str) -> Path | None:
    folder = root / "audio" / quadrant
    matches = sorted(folder.glob(f"{song}.*")) if folder.is_dir() else []
    return matches[0] if matches else None


def evaluate_dir(root: Path) -> dict:
    from app.music.tagger import MoodTagger

    ann = root / "annotations.csv"
    if not ann.is_file():
        raise SystemExit(f"{ann} not found")
    tagger = MoodTagger.load()
    truth, pred, missing = [], [], []
    with ann.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            song, quadrant = row.get("Song", "").strip(), row.get("Quadrant", "").strip()
            if quadrant not in QUADRANTS:
                continue
            path = find_audio(root, quadrant, song)
            if path is None:
                missing.append(song)
                continue
            truth.append(quadrant)
            # Score the quadrant the app stores and shows for the track.
            tag = tagger.tag(path)
            pred.append(tag.quadrant)
    report = classification_report(truth, pred, QUADRANTS)
    report["missing"] = len(missing)
    return report


def eval_music_cli(args: argparse.Namespace) -> int:
    return print_report(evaluate_dir(Path(args.dir)), getattr(args, "json", False))
