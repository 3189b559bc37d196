"""Training targets and dev measures for the face model: FER2013 images with the FER+ votes, and
CK+ posed faces grouped by subject.

FER+ (Barsoum et al. 2016) had 10 annotators vote on every FER2013 image over `neutral happiness
surprise sadness anger disgust fear contempt unknown NF`. What the app can say is FER2013's seven
labels, so:

- an image whose plurality vote is `unknown` or `NF` (not a face) is dropped from training and
  from the FER+ measure, as FER+'s own reference code drops them: nobody agreed on a face reading;
- `contempt` votes are dropped and the seven shared labels' votes renormalised: the app has no
  contempt, the votes are few, and folding them into disgust (the nearest label) would teach the
  rarest class a different expression;
- the target is the renormalised vote distribution (soft labels, the paper's "probability"
  scheme); the FER+ plurality is the label with the most of those votes, and a prediction counts
  as right when it is one of the labels tied at the top.

CK+ (`ckplus_dev/`) has six of the labels and no neutral, so it only adds its six; its folds are
grouped by subject (the file name's prefix) so no subject is on both sides.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.emotions import FACE_LABELS

# FER+ vote columns for each of FACE_LABELS, in that order.
FERPLUS_COLUMNS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
FERPLUS_DROPPED_PLURALITY = ("unknown", "NF")
VOTES_FILE = "ferplus_votes.csv"


@dataclass
class FaceSet:
    """uint8 crops with their FER2013 (or CK+) label index, soft target and FER+ usability."""

    x: np.ndarray  # (N, 48, 48) uint8
    y: np.ndarray  # (N,) label index into FACE_LABELS as the set gives it
    files: np.ndarray  # (N,) path under the set's root
    soft: np.ndarray  # (N, 7) float32 target distribution (FER+ votes, or one-hot for CK+)
    has_votes: np.ndarray  # (N,) bool: a usable FER+ distribution (row present, not unknown/NF)

    def subset(self, keep: np.ndarray) -> FaceSet:
        return FaceSet(self.x[keep], self.y[keep], self.files[keep], self.soft[keep], self.has_votes[keep])


def read_votes(path: Path) -> dict[str, tuple[np.ndarray, bool]]:
    """file → (7 shared-label votes renormalised, usable) per the rules in the module docstring."""
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            votes = {k: float(v) for k, v in row.items() if k != "file"}
            plurality = max(votes, key=votes.get)
            shared = np.array([votes[c] for c in FERPLUS_COLUMNS], np.float32)
            usable = plurality not in FERPLUS_DROPPED_PLURALITY and shared.sum() > 0
            out[row["file"]] = (shared / max(shared.sum(), 1.0), usable)
    return out


def _cache_key(files: list[str], extra: str) -> str:
    return hashlib.sha256(("\n".join(files) + extra).encode()).hexdigest()[:12]


def load_fer_split(root: Path, split: str, cache_dir: Path | None = None) -> FaceSet:
    """FER2013 `train` or de-duplicated `val` (app.vision.splits) with the FER+ votes joined on the file."""
    from app.vision.evaluate import image_files, load_crops
    from app.vision.splits import clean_val_files

    files = clean_val_files(root)[0] if split == "val" else image_files(root / split)
    names = [f"{split}/{label}/{f.name}" for f, label in files]
    cache = (cache_dir / f"fer_{split}_{_cache_key(names, 'v1')}.npz") if cache_dir else None
    if cache and cache.exists():
        with np.load(cache) as d:
            x = d["x"]
    else:
        x, _ = load_crops(root / split, files)
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, x=x)
    y = np.array([FACE_LABELS.index(label) for _, label in files], np.int64)
    votes = read_votes(root / VOTES_FILE) if (root / VOTES_FILE).exists() else {}
    soft = np.zeros((len(files), len(FACE_LABELS)), np.float32)
    has = np.zeros(len(files), bool)
    for i, name in enumerate(names):
        if name in votes:
            soft[i], has[i] = votes[name]
    return FaceSet(x.astype(np.uint8), y, np.array(names), soft, has)


def load_ckplus(root: Path) -> FaceSet:
    """`ckplus_dev/<label>/<subject>_<seq>_<frame>.png` as 48×48 crops with one-hot targets."""
    from app.vision.evaluate import image_files, load_crops

    files = image_files(root)
    x, labels = load_crops(root, files)
    y = np.array([FACE_LABELS.index(label) for label in labels], np.int64)
    return FaceSet(
        x.astype(np.uint8),
        y,
        np.array([f"{label}/{f.name}" for f, label in files]),
        np.eye(len(FACE_LABELS), dtype=np.float32)[y],
        np.ones(len(y), bool),
    )


def subject_of(file: str) -> str:
    """`angry/S010_004_00000017.png` → `S010`."""
    return Path(file).name.split("_")[0]


def subject_folds(files: np.ndarray, n_folds: int = 4, seed: int = 0) -> np.ndarray:
    """Fold index per image, whole subjects per fold (sklearn's GroupKFold after a seeded shuffle
    of the subjects, so the folds do not follow the subject numbering)."""
    from sklearn.model_selection import GroupKFold

    subjects = np.array([subject_of(f) for f in files])
    unique = np.unique(subjects)
    shuffled = dict(zip(unique, np.random.default_rng(seed).permutation(len(unique)), strict=True))
    groups = np.array([shuffled[s] for s in subjects])
    fold = np.empty(len(files), np.int64)
    for k, (_, test) in enumerate(GroupKFold(n_splits=n_folds).split(files, groups=groups)):
        fold[test] = k
    return fold


def plurality_correct(probs: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """Per image: the prediction is one of the labels with the most FER+ votes."""
    pred = probs.argmax(1)
    top = soft >= soft.max(1, keepdims=True) - 1e-6
    return top[np.arange(len(pred)), pred]


def plurality_labels(soft: np.ndarray) -> np.ndarray:
    """The FER+ plurality label (the first of a tie, for the confusion matrix only)."""
    return soft.argmax(1)


def dev_measures(probs_fer: np.ndarray, fer: FaceSet, probs_ck: np.ndarray | None, ck: FaceSet | None) -> dict:
    """Every dev figure the model card reports, from one model's probabilities."""
    from app.tools.evaluation import classification_report

    names = np.asarray(FACE_LABELS)
    v = fer.has_votes
    plural = classification_report(
        names[plurality_labels(fer.soft[v])].tolist(), names[probs_fer[v].argmax(1)].tolist(), FACE_LABELS
    )
    out = {
        "ferplus_plurality": {
            "n": int(v.sum()),
            "accuracy": float(plurality_correct(probs_fer[v], fer.soft[v]).mean()),
            "accuracy_first_of_tie": plural["accuracy"],
            "macro_f1": plural["macro_f1"],
            "per_class": plural["per_class"],
            "confusion": plural["confusion"],
        },
        "fer2013_labels": classification_report(
            names[fer.y].tolist(), names[probs_fer.argmax(1)].tolist(), FACE_LABELS
        ),
    }
    out["fer2013_labels"].pop("labels", None)
    if ck is not None and probs_ck is not None and len(ck.y):
        r = classification_report(names[ck.y].tolist(), names[probs_ck.argmax(1)].tolist(), FACE_LABELS)
        r["subjects"] = len({subject_of(f) for f in ck.files})
        out["ckplus"] = r
    return out
