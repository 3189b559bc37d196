"""`python -m app eval-music DIR`: score the music model on `annotations.csv` + `audio/<Q>/<Song>.*`.

Optional `Valence` and `Arousal` columns (in [-1, 1]) add the Spearman correlations of the tags'
regressed valence/arousal with them (contract in DESIGN.md)."""

from __future__ import annotations

import argparse
import csv
import math
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
    continuous: dict[str, list[tuple[float, float]]] = {"valence": [], "arousal": []}
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
            for dim, column in (("valence", "Valence"), ("arousal", "Arousal")):
                value = _number(row.get(column))
                if value is not None:
                    continuous[dim].append((value, getattr(tag, dim)))
    report = classification_report(truth, pred, QUADRANTS)
    report["missing"] = len(missing)
    for dim, pairs in continuous.items():
        if len(pairs) >= 3:
            from scipy.stats import spearmanr

            labels, predicted = zip(*pairs, strict=True)
            report[f"{dim}_spearman"] = float(spearmanr(labels, predicted).statistic)
            report[f"n_{dim}"] = len(pairs)
    return report


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def eval_music_cli(args: argparse.Namespace) -> int:
    return print_report(evaluate_dir(Path(args.dir)), getattr(args, "json", False))
