"""Train the music mood model on the 4Q set (plus Emotify where it helps) and save it to models/.

    python -m app.music.train --data ../shared/data/music

Steps: extract features for every clip (cached under --workdir so reruns are quick), evaluate
candidate scikit-learn pipelines with 5-fold cross-validation grouped by artist on 4Q (Emotify
clips, when used, only ever join the training folds), pick the best by macro-F1, fit it on all
data and write `models/music_mood.joblib` and `models/music_metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from app.emotions import QUADRANTS, quadrant_of
from app.music.audio import AudioError
from app.music.features import features_for

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

# Emotify's GEMS terms as points in the valence–arousal plane. The first eight follow the
# usual reading of GEMS on Russell's circumplex (Zentner et al. 2008; Aljanaki et al. 2016):
# joyful activation, amazement → Q1; power → high arousal, mildly positive (Q1);
# tension → Q2; sadness, nostalgia → Q3 (nostalgia only mildly negative);
# calmness, tenderness → Q4.
# Solemnity (slow, grave, ceremonial music): low arousal and slightly negative valence, so it
# leans Q3 but weakly — it mostly breaks ties rather than deciding a track.
GEMS_VA: dict[str, tuple[float, float]] = {
    "joyful_activation": (0.8, 0.7),
    "amazement": (0.5, 0.6),
    "power": (0.2, 0.8),
    "tension": (-0.7, 0.6),
    "sadness": (-0.8, -0.4),
    "nostalgia": (-0.2, -0.4),
    "calmness": (0.5, -0.7),
    "tenderness": (0.7, -0.4),
    "solemnity": (-0.2, -0.3),
}


def _extract_all(paths: list[Path], cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    from tqdm import tqdm

    feats = []
    for p in tqdm(paths, desc=f"features {cache.stem}", mininterval=10):
        try:
            feats.append(features_for(p))
        except AudioError as exc:
            raise SystemExit(f"{p}: {exc}") from None
    x = np.stack(feats)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, x)
    return x


def load_4q(root: Path, work: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ann = pd.read_csv(root / "4q" / "annotations.csv")
    paths = [root / "4q" / "audio" / q / f"{s}.opus" for s, q in zip(ann.Song, ann.Quadrant)]
    x = _extract_all(paths, work / "feat_4q.npy")
    y = np.array([QUADRANTS.index(q) for q in ann.Quadrant])
    return x, y, ann.Artist.fillna("?").to_numpy()


def emotify_labels(ann: pd.DataFrame) -> pd.DataFrame:
    """Per track: share of listeners per GEMS term → valence, arousal, quadrant."""
    terms = list(GEMS_VA)
    prof = ann.groupby("file")[terms].mean()
    weights = prof.to_numpy()
    weights = weights / np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
    va = weights @ np.array([GEMS_VA[t] for t in terms])
    out = pd.DataFrame({"file": prof.index, "valence": va[:, 0], "arousal": va[:, 1]})
    out["quadrant"] = [quadrant_of(v, a) for v, a in zip(out.valence, out.arousal)]
    # Agreement: distance from the origin; near-origin tracks are ambiguous.
    out["strength"] = np.hypot(out.valence, out.arousal)
    return out


def load_emotify(root: Path, work: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ann = pd.read_csv(root / "emotify" / "annotations.csv")
    lab = emotify_labels(ann)
    x = _extract_all([root / "emotify" / f for f in lab.file], work / "feat_emotify.npy")
    return x, np.array([QUADRANTS.index(q) for q in lab.quadrant]), lab.strength.to_numpy()


def candidates(seed: int) -> dict[str, Callable[[], object]]:
    from sklearn.ensemble import ExtraTreesClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def svm(c: float, g="scale"):
        return lambda: make_pipeline(StandardScaler(), SVC(C=c, gamma=g, probability=True, class_weight="balanced", random_state=seed))

    def logreg(c: float):
        return lambda: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))

    def ensemble():
        return make_pipeline(
            StandardScaler(),
            VotingClassifier(
                [
                    ("svm", SVC(C=2.0, probability=True, class_weight="balanced", random_state=seed)),
                    ("lr", LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced")),
                    ("et", ExtraTreesClassifier(500, max_features=0.2, min_samples_leaf=2, class_weight="balanced", random_state=seed, n_jobs=1)),
                ],
                voting="soft",
            ),
        )

    return {
        "svm_c1": svm(1.0),
        "svm_c2": svm(2.0),
        "svm_c5": svm(5.0),
        "logreg_c0.02": logreg(0.02),
        "logreg_c0.1": logreg(0.1),
        "ensemble": ensemble,
    }


def grouped_cv(make, x, y, groups, extra=None, seed: int = 0, folds: int = 5) -> dict:
    """Artist-grouped stratified CV on 4Q; `extra=(x_e, y_e)` is added to every training fold."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    pred = np.zeros_like(y)
    proba = np.zeros((len(y), len(QUADRANTS)))
    for tr, te in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups):
        xt, yt = x[tr], y[tr]
        if extra is not None:
            xt, yt = np.vstack([xt, extra[0]]), np.concatenate([yt, extra[1]])
        model = make().fit(xt, yt)
        proba[te] = model.predict_proba(x[te])
        pred[te] = proba[te].argmax(1)
    # The tag's quadrant is the one holding its valence/arousal point (see tagger); score it too.
    va = np.stack([proba[:, 0] + proba[:, 3] - proba[:, 1] - proba[:, 2], proba[:, 0] + proba[:, 1] - proba[:, 2] - proba[:, 3]], 1)
    pred_va = np.array([QUADRANTS.index(quadrant_of(v, a)) for v, a in va])
    return {
        "macro_f1_va_quadrant": float(f1_score(y, pred_va, average="macro")),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "confusion": confusion_matrix(y, pred).tolist(),
        "per_class_recall": {q: float(r) for q, r in zip(QUADRANTS, np.diag(confusion_matrix(y, pred)) / np.bincount(y))},
    }


def main(argv: list[str] | None = None) -> None:
    import joblib

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/music")
    p.add_argument("--workdir", default=".cache/music_train")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--only", nargs="*", help="evaluate only these candidates")
    args = p.parse_args(argv)
    root, work = Path(args.data), Path(args.workdir)
    t0 = time.time()
    x, y, artists = load_4q(root, work)
    xe, ye, strength = load_emotify(root, work)
    confident = strength >= np.quantile(strength, 0.5)  # keep the clearer half of Emotify
    print(f"features: 4Q {x.shape}, Emotify {xe.shape} ({time.time() - t0:.0f}s)", flush=True)

    results = {}
    cands = candidates(args.seed)
    for name, make in cands.items():
        if args.only and name not in args.only:
            continue
        for use_emotify in (False, True):
            key = f"{name}{'+emotify' if use_emotify else ''}"
            extra = (xe[confident], ye[confident]) if use_emotify else None
            results[key] = grouped_cv(make, x, y, artists, extra, seed=args.seed)
            print(f"{key:28s} macro_f1 {results[key]['macro_f1']:.4f} (va {results[key]['macro_f1_va_quadrant']:.4f}) acc {results[key]['accuracy']:.4f}", flush=True)

    best = max(results, key=lambda k: results[k]["macro_f1"])
    use_emotify = best.endswith("+emotify")
    name = best.removesuffix("+emotify")
    xt, yt = (np.vstack([x, xe[confident]]), np.concatenate([y, ye[confident]])) if use_emotify else (x, y)
    model = cands[name]().fit(xt, yt)
    version = f"music-{name}{'-emotify' if use_emotify else ''}-{time.strftime('%Y%m%d')}"
    MODELS_DIR.mkdir(exist_ok=True)
    joblib.dump({"pipeline": model, "version": version, "classes": list(QUADRANTS)}, MODELS_DIR / "music_mood.joblib", compress=3)
    summary = {
        "version": version,
        "selected": best,
        "cv": "StratifiedGroupKFold(5) grouped by artist on 4Q dev split",
        "n_4q": int(len(y)),
        "n_emotify_used": int(confident.sum()) if use_emotify else 0,
        "n_features": int(x.shape[1]),
        "results": results,
    }
    (MODELS_DIR / "music_metrics.json").write_text(json.dumps(summary, indent=1))
    print(f"selected {best}: macro_f1 {results[best]['macro_f1']:.4f}; saved {version}")


if __name__ == "__main__":
    main()
