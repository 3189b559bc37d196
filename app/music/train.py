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

from app.config import MODELS_DIR, MUSIC_MODEL_FILE
from app.emotions import QUADRANTS, quadrant_of
from app.music.errors import AudioError
from app.music.features import CUE_FEATURES, EMBEDDING_PATCHES, analysis_audio, clip_analysis, model_input
from app.music.tagger import probabilities_to_tag
from app.tools.evaluation import classification_report

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


def clip_features(paths: list[Path], work: Path, name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per clip, what `app.music.features.clip_analysis` gives at tagging time: the hand-made
    features (stacked) and musicnn's per-patch outputs. Cached in `work`, so a rerun that only
    changes the model or the cue selection skips the audio."""
    hand_cache, nn_cache = work / f"feat_{name}.npy", work / f"mnn{EMBEDDING_PATCHES}_{name}.npy"
    if hand_cache.exists() and nn_cache.exists():
        return np.load(hand_cache), list(np.load(nn_cache, allow_pickle=True))
    from tqdm import tqdm

    hand, nn = [], []
    for p in tqdm(paths, desc=f"features {name}", mininterval=10):
        try:
            h, per_patch = clip_analysis(analysis_audio(p))
        except AudioError as exc:
            raise SystemExit(f"{p}: {exc}") from None
        hand.append(h)
        nn.append(per_patch)
    work.mkdir(parents=True, exist_ok=True)
    np.save(hand_cache, np.stack(hand))
    ragged = np.empty(len(nn), dtype=object)  # one [patches, 250] array per clip, as they came
    for i, per_patch in enumerate(nn):
        ragged[i] = per_patch
    np.save(nn_cache, ragged, allow_pickle=True)
    return np.stack(hand), nn


def model_inputs(hand: np.ndarray, nn: list[np.ndarray]) -> np.ndarray:
    """[clips, features]: `app.music.features.model_input` of each clip, as tagging computes it."""
    return np.stack([model_input(h, per_patch) for h, per_patch in zip(hand, nn, strict=True)])


def load_4q(root: Path, work: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ann = pd.read_csv(root / "4q" / "annotations.csv")
    paths = [root / "4q" / "audio" / q / f"{s}.opus" for s, q in zip(ann.Song, ann.Quadrant, strict=True)]
    x = model_inputs(*clip_features(paths, work, "4q"))
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
    out["quadrant"] = [quadrant_of(v, a) for v, a in zip(out.valence, out.arousal, strict=True)]
    # Agreement: distance from the origin; near-origin tracks are ambiguous.
    out["strength"] = np.hypot(out.valence, out.arousal)
    return out


def load_emotify(root: Path, work: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ann = pd.read_csv(root / "emotify" / "annotations.csv")
    lab = emotify_labels(ann)
    x = model_inputs(*clip_features([root / "emotify" / f for f in lab.file], work, "emotify"))
    return x, np.array([QUADRANTS.index(q) for q in lab.quadrant]), lab.strength.to_numpy()


def candidates(seed: int) -> dict[str, Callable[[], object]]:
    """Scaled-feature classifiers compared by grouped CV. SVC's probability=True is deprecated in
    scikit-learn 1.9; CalibratedClassifierCV(ensemble=False) is its documented replacement."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def svc(c: float):
        return CalibratedClassifierCV(SVC(C=c, class_weight="balanced", random_state=seed), ensemble=False)

    def lr(c: float):
        return LogisticRegression(C=c, max_iter=5000, class_weight="balanced")

    def svm(c: float):
        return lambda: make_pipeline(StandardScaler(), svc(c))

    def logreg(c: float):
        return lambda: make_pipeline(StandardScaler(), lr(c))

    def vote(c_svm: float, c_lr: float):
        # The linear model keeps answers graded on audio far from the training data, where an
        # RBF kernel alone falls back to the class prior.
        return lambda: make_pipeline(
            StandardScaler(), VotingClassifier([("svm", svc(c_svm)), ("lr", lr(c_lr))], voting="soft")
        )

    return {
        "svm_c1": svm(1.0),
        "logreg_c0.01": logreg(0.01),
        "vote_svm1_lr0.01": vote(1.0, 0.01),
        "vote_svm2_lr0.01": vote(2.0, 0.01),
    }


def grouped_cv(make, x, y, groups, extra=None, *, seed: int = 0, folds: int = 5) -> dict:
    """Artist-grouped stratified CV on 4Q; `extra=(x_e, y_e)` is added to every training fold.

    The report of `app.tools.evaluation.classification_report`, plus `macro_f1_argmax`."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    proba = np.zeros((len(y), len(QUADRANTS)))
    for tr, te in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups):
        xt, yt = x[tr], y[tr]
        if extra is not None:
            xt, yt = np.vstack([xt, extra[0]]), np.concatenate([yt, extra[1]])
        model = make().fit(xt, yt)
        proba[te] = model.predict_proba(x[te])
    # Scored on the quadrant the app reports: the one holding the tag's valence/arousal point
    # (app.music.tagger.probabilities_to_tag); the plain argmax is kept for comparison.
    truth = [QUADRANTS[i] for i in y]
    pred = [probabilities_to_tag(p, "").quadrant for p in proba]
    report = classification_report(truth, pred, QUADRANTS)
    report["macro_f1_argmax"] = float(f1_score(y, proba.argmax(1), average="macro"))
    return report


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
            r = results[key]
            print(
                f"{key:28s} macro_f1 {r['macro_f1']:.4f} (argmax {r['macro_f1_argmax']:.4f}) acc {r['accuracy']:.4f}",
                flush=True,
            )

    best = max(results, key=lambda k: results[k]["macro_f1"])
    use_emotify = best.endswith("+emotify")
    name = best.removesuffix("+emotify")
    xt, yt = (np.vstack([x, xe[confident]]), np.concatenate([y, ye[confident]])) if use_emotify else (x, y)
    model = cands[name]().fit(xt, yt)
    version = f"music-{name}{'-emotify' if use_emotify else ''}-{time.strftime('%Y%m%d')}"
    MODELS_DIR.mkdir(exist_ok=True)
    blob = {"pipeline": model, "version": version, "classes": list(QUADRANTS)}
    joblib.dump(blob, MODELS_DIR / MUSIC_MODEL_FILE, compress=3)
    summary = {
        "version": version,
        "selected": best,
        "cv": "StratifiedGroupKFold(5) grouped by artist on 4Q dev split",
        "n_4q": int(len(y)),
        "n_emotify_used": int(confident.sum()) if use_emotify else 0,
        "n_features": int(x.shape[1]),
        "features": (
            f"musicnn MSD embedding over {EMBEDDING_PATCHES} patches (tag means and spreads, penultimate means; 300) "
            f"+ {len(CUE_FEATURES)} hand-made cues (spectral contrast and shape, key clarity and major/minor mode, "
            "loudness dynamics, onset rate, tempo, pulse clarity, harmonic/percussive ratio, dissonance)"
        ),
        "results": results,
    }
    (MODELS_DIR / "music_metrics.json").write_text(json.dumps(summary, indent=1))
    print(f"selected {best}: macro_f1 {results[best]['macro_f1']:.4f}; saved {version}")


if __name__ == "__main__":
    main()
