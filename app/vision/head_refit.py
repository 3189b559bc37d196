"""Refit the face members' last two layers (hidden and logits) on their frozen convolutions.

    python -m app.vision.train --trainable head --init models/checkpoints/fer2013_nets \\
        --out .cache/face_head --fer2013-votes 25 --ck-repeat 12 --ck-val-fold -1 --epochs 3 --lr 3e-4 --batch 256
    python -m app.vision.train --out .cache/face_head --export

The members' convolutions, trained on FER2013's own labels, already tell the expressions apart;
what those noisy labels shape most is how the last layers read the features (faces most FER+
annotators call neutral read as sad, CK+'s posed disgust as angry). Refitting only those layers
on the FER+ votes and CK+'s posed faces needs one pass of the convolutions over the images (both
flips, cached under `--out`), then seconds per fit, where a whole-net fine-tune
(`app.vision.finetune`) takes CPU-hours.

The targets are `finetune.training_rows`': FER+ vote distributions with FER2013's label as
`fer2013_votes` extra votes (the served model must keep its FER2013-label accuracy), plus the CK+
faces repeated `ck_repeat` times. CK+ is scored by subject-grouped cross-validation (a fit per
fold, tested on the fold's unseen subjects) before the final fit, which uses every CK+ subject
outside `ck_val_fold` (-1: all). The run writes what `finetune.export` and `record_run` read:
`state.json` (options, data hash, libraries, the start's and the fit's dev figures) and the
members under `best/`. Each fit starts from the members' own head weights with a fixed seed, so
a run repeated from the same checkpoints gives the same weights.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from app.vision.ferplus import FaceSet, subject_folds
from app.vision.finetune import FinetuneOptions, _line, data_hash, evaluate_members, training_rows, training_set

HEAD_LAYERS = ("hidden", "logits")


def member_features(member, crops: np.ndarray, batch: int = 512) -> np.ndarray:
    """(N, 2, F): the member's pooled convolutional features of each crop and of its mirror image."""
    import keras

    trunk = keras.Model(member.input, member.get_layer("gap").output)
    x = crops.astype(np.float32)[..., None] / 255.0
    flips = []
    for view in (x, x[:, :, ::-1]):
        parts = [np.asarray(trunk(view[i : i + batch], training=False)) for i in range(0, len(x), batch)]
        flips.append(np.concatenate(parts))
    return np.stack(flips, axis=1).astype(np.float32)


def cached_features(members: list, crops: np.ndarray, cache_dir: Path) -> list[np.ndarray]:
    """Each member's features of `crops`, kept on disk by the members' weights and the crops."""
    h = hashlib.sha256(np.ascontiguousarray(crops).tobytes())
    for member in members:
        for w in member.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
    path = cache_dir / f"features_{h.hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as d:
            return [d[f"m{i}"] for i in range(len(members))]
    feats = [member_features(m, crops) for m in members]
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"m{i}": f for i, f in enumerate(feats)})
    return feats


def fit_head(member, features: np.ndarray, targets: np.ndarray, opts: FinetuneOptions, init: list) -> None:
    """Set `member`'s hidden and logits layers to a fit on (features of both flips → targets),
    started from `init` (their weights before any fit)."""
    import keras

    keras.utils.set_random_seed(opts.seed)
    head = keras.Sequential(
        [
            keras.Input((features.shape[-1],)),
            keras.layers.Dense(init[0].shape[1], activation="relu"),
            keras.layers.Dense(init[2].shape[1]),
        ]
    )
    head.set_weights(init)
    x = features.reshape(-1, features.shape[-1])  # each crop and its mirror: two rows, one target
    y = np.repeat(targets, features.shape[1], axis=0).astype(np.float32)
    head.compile(
        optimizer=keras.optimizers.AdamW(opts.lr, weight_decay=opts.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    head.fit(x, y, batch_size=opts.batch, epochs=opts.epochs, verbose=0, shuffle=True)
    member.get_layer(HEAD_LAYERS[0]).set_weights(head.layers[0].get_weights())
    member.get_layer(HEAD_LAYERS[1]).set_weights(head.layers[1].get_weights())


def head_weights(member) -> list:
    return [w for name in HEAD_LAYERS for w in member.get_layer(name).get_weights()]


@dataclass
class FrozenFeatures:
    """Per member: its features of the FER2013 training faces and of CK+, and its head weights
    before any fit (every fit starts from them)."""

    fer: list[np.ndarray]
    ck: list[np.ndarray | None]
    inits: list[list]


def _fit_all(members: list, frozen: FrozenFeatures, fer_train: FaceSet, ck: FaceSet | None, opts) -> None:
    """Fit every member on `training_rows(fer_train, ck, opts)`, from features instead of images."""
    fer_rows, ck_rows, soft = training_rows(fer_train, ck, opts)
    for member, init, ff, cf in zip(members, frozen.inits, frozen.fer, frozen.ck, strict=True):
        feats = np.concatenate([ff[fer_rows], cf[ck_rows]]) if len(ck_rows) else ff[fer_rows]
        fit_head(member, feats, soft, opts, init)


def ck_subject_cv(members: list, frozen: FrozenFeatures, fer_train: FaceSet, ck: FaceSet, opts) -> dict:
    """CK+ accuracy on subjects a fit never saw: one fit per subject fold, scored on that fold."""
    from app.vision.finetune import pair_probabilities

    folds = subject_folds(ck.files, opts.ck_folds)
    right = np.zeros(len(ck.y), bool)
    for k in range(opts.ck_folds):
        _fit_all(members, frozen, fer_train, ck, replace(opts, ck_val_fold=k))
        held = folds == k
        right[held] = pair_probabilities(members, ck.x[held]).argmax(1) == ck.y[held]
    per_fold = [float(right[folds == k].mean()) for k in range(opts.ck_folds)]
    return {"accuracy": float(right.mean()), "per_fold": per_fold, "n": int(len(ck.y)), "folds": opts.ck_folds}


def refit(
    out: Path,
    members: list,
    *,
    fer_train: FaceSet,
    fer_val: FaceSet,
    ck: FaceSet | None,
    ck_val: FaceSet | None,
    opts: FinetuneOptions,
    init: str | None = None,
    log=print,
) -> dict:
    """Refit `members`' heads in place (see the module docstring) and return the run's state;
    `init` records where the members' weights came from (the recipe's `--init`)."""
    from app.vision.served_nets import library_versions, save_members

    out.mkdir(parents=True, exist_ok=True)
    train = training_set(fer_train, ck, opts)
    state = {
        "options": asdict(opts),
        "steps_per_epoch": None,
        "n_train": len(train.x),
        "data_sha256": data_hash(train),
        "libraries": library_versions(),
        "history": [],
        "best": None,
        "start": evaluate_members(members, fer_val, ck_val),
        "init": init,
    }
    log(f"start: {_line(state['start'])}")
    frozen = FrozenFeatures(
        fer=cached_features(members, fer_train.x, out / "cache"),
        ck=cached_features(members, ck.x, out / "cache") if ck is not None else [None] * len(members),
        inits=[head_weights(m) for m in members],
    )
    cv = ck_subject_cv(members, frozen, fer_train, ck, opts) if ck is not None else None
    if cv:
        log(f"CK+ subject-grouped CV: {cv['accuracy']:.4f} {[round(a, 3) for a in cv['per_fold']]}")
    _fit_all(members, frozen, fer_train, ck, opts)
    scores = evaluate_members(members, fer_val, ck_val)
    entry = {"epoch": opts.epochs, "step": None, "loss": None, "seconds": None, **scores}
    if cv:
        entry["ckplus_subject_cv"] = cv
    state["history"].append(entry)
    state["best"] = {"epoch": opts.epochs, "ferplus_plurality_accuracy": scores["ferplus_plurality"]["accuracy"]}
    save_members(members, out / "best", {"run": str(out), "epoch": opts.epochs, "state": "state.json"})
    (out / "state.json").write_text(json.dumps(state, indent=1))
    log(f"refit: {_line(scores)}")
    return state


def run(args) -> dict:
    """`python -m app.vision.train --trainable head`: refit `--init`'s members into `--out`."""
    from app.vision.finetune import ck_validation, prepare
    from app.vision.served_nets import load_members

    opts, out, fer_train, fer_val, ck = prepare(args)
    return refit(
        out,
        load_members(Path(args.init)),
        fer_train=fer_train,
        fer_val=fer_val,
        ck=ck,
        ck_val=ck_validation(ck, opts),
        opts=opts,
        init=str(args.init),
        log=lambda m: print(m, flush=True),
    )
