"""Fine-tune the served pair of face nets on the FER+ votes and CK+ posed faces, resumably.

    python -m app.vision.train                        # resume, or start from models/checkpoints
    python -m app.vision.train --export               # serve the best epoch, if it beats the served model

The run starts from the committed checkpoints (`app.vision.served_nets`: the served nets read back
out of the tflite) and writes only under `--out` (default `.cache/face_finetune`):

- `resume/`: model, optimizer and step, every `--save-every` steps and at each epoch's end. A run
  killed at any point and started again with the same command continues from the last save and
  ends on the same weights as one that was never stopped: the batch order of an epoch and the
  augmentation of a step are functions of (seed, epoch) and (seed, step), not of a random state
  that a restart would lose.
- `state.json`: options, data hash, library versions and every epoch's dev figures.
- `best/`: the members' Keras weights of the epoch with the best FER+ plurality val accuracy.

Target: each member's softmax is trained towards the FER+ vote distribution (cross-entropy with
soft labels; `app.vision.ferplus` says what happens to contempt, unknown and not-a-face) on
FER2013's training images, plus CK+ posed faces (its six labels, one-hot) from the subjects not
held out for validation. Served: the members' softmaxes averaged in one graph, as before.

TensorFlow is imported only in functions: the app serves the exported model with LiteRT.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.vision.ferplus import FaceSet, dev_measures, plurality_correct

IMG = 48


@dataclass
class FinetuneOptions:
    epochs: int = 6
    steps_per_epoch: int = 0  # 0: one pass over the training images
    batch: int = 64
    lr: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    dropout: float = 0.15
    spatial_dropout: float = 0.025
    fer2013_votes: float = 2.0  # FER2013's own label counted as this many extra votes (of FER+'s 10)
    ck_repeat: int = 6  # copies of each CK+ training face per pass (315 faces against 28k)
    ck_val_fold: int = 0  # CK+ subject fold held out for validation (-1: train on every subject)
    ck_folds: int = 4
    seed: int = 28
    save_every: int = 50  # steps between resume saves
    threads: int = 2
    trainable: str = "all"  # "head": refit only the last two layers on frozen features (app.vision.head_refit)
    extra: dict = field(default_factory=dict)


def augment(x, seed_gen):
    """`app.vision.training_ops.augment_batch` (flip, rotation, zoom, shift, brightness/contrast, random
    erasing) plus what a webcam listener adds: a turned head (a perspective squeeze), light from
    one side and gamma, defocus blur, glasses (a dark band over the eyes) and a hand (a flat
    blob over part of the lower face). x: float32 (B, 48, 48, 1) in [0, 1]."""
    import tensorflow as tf

    from app.vision.training_ops import augment_batch, warp

    x = augment_batch(x, seed_gen, erase_prob=0.2)
    b = tf.shape(x)[0]
    u = lambda lo, hi: seed_gen.uniform([b], lo, hi)  # noqa: E731
    zeros, ones = tf.zeros([b]), tf.ones([b])
    # Yaw-like turn: x squeezed towards one side with a perspective term (half the batch).
    turn = tf.where(seed_gen.uniform([b]) < 0.5, u(-0.006, 0.006), zeros)
    squeeze = tf.where(turn != 0, u(1.0, 1.2), ones)
    c = (IMG - 1) / 2.0
    transforms = tf.stack([squeeze, zeros, c - squeeze * c, zeros, ones, zeros, turn, zeros], axis=1)
    x = warp(x, transforms)
    # Side light: a linear ramp across the face at a random angle, and a gamma.
    grid = tf.range(IMG, dtype=tf.float32) / (IMG - 1) - 0.5
    angle = u(0.0, 2 * math.pi)
    ramp = tf.cos(angle)[:, None, None] * grid[None, None, :] + tf.sin(angle)[:, None, None] * grid[None, :, None]
    strength = tf.where(seed_gen.uniform([b]) < 0.4, u(0.2, 0.7), zeros)
    x = x * (1.0 + strength[:, None, None, None] * ramp[..., None])
    gamma = tf.exp(u(-0.4, 0.4))[:, None, None, None]
    x = tf.clip_by_value(x, 0.0, 1.0) ** gamma
    # Defocus / low resolution: a blend with a Gaussian blur (σ ≈ 1.2 px) for a third of the batch.
    k = tf.exp(-(tf.range(-3.0, 4.0) ** 2) / (2 * 1.2**2))
    k = k / tf.reduce_sum(k)
    blurred = tf.nn.conv2d(x, tf.reshape(k, [7, 1, 1, 1]), 1, "SAME")
    blurred = tf.nn.conv2d(blurred, tf.reshape(k, [1, 7, 1, 1]), 1, "SAME")
    mix = tf.where(seed_gen.uniform([b]) < 0.33, u(0.3, 1.0), zeros)[:, None, None, None]
    x = mix * blurred + (1 - mix) * x
    # Glasses: a dark band at eye height (10 %); a hand: a flat-grey ellipse low on the face (10 %).
    rows = tf.range(IMG, dtype=tf.float32)[None, :, None]
    cols = tf.range(IMG, dtype=tf.float32)[None, None, :]
    eye_y = u(14.0, 22.0)[:, None, None]
    band = (tf.abs(rows - eye_y) < u(2.0, 4.0)[:, None, None]) & (seed_gen.uniform([b]) < 0.1)[:, None, None]
    x = tf.where(band[..., None], x * u(0.1, 0.4)[:, None, None, None], x)
    hy, hx = u(30.0, 46.0)[:, None, None], u(4.0, 44.0)[:, None, None]
    ry, rx = u(6.0, 12.0)[:, None, None], u(8.0, 16.0)[:, None, None]
    hand = (((rows - hy) / ry) ** 2 + ((cols - hx) / rx) ** 2 < 1.0) & (seed_gen.uniform([b]) < 0.1)[:, None, None]
    return tf.where(hand[..., None], u(0.35, 0.75)[:, None, None, None] * tf.ones_like(x), x)


def data_hash(*sets: FaceSet) -> str:
    """What the run trained on: every image's file name, pixels and target."""
    h = hashlib.sha256()
    for s in sets:
        h.update("\n".join(s.files.tolist()).encode())
        h.update(np.ascontiguousarray(s.x).tobytes())
        h.update(np.ascontiguousarray(s.soft).tobytes())
    return h.hexdigest()


def training_rows(fer_train: FaceSet, ck: FaceSet | None, opts: FinetuneOptions) -> tuple:
    """What a run trains on, as rows of the two sets and the targets in that order: the FER2013
    training faces with a usable FER+ distribution, then the CK+ faces outside the validation
    fold, repeated `ck_repeat` times. Returns (FER2013 rows, CK+ rows, soft targets).

    FER2013's own label joins the ten FER+ votes as `fer2013_votes` more: it is one more
    (noisier) annotator, and the served model must not lose its FER2013-label accuracy."""
    from app.vision.ferplus import subject_folds

    fer_rows = np.flatnonzero(fer_train.has_votes)
    k = opts.fer2013_votes
    y = fer_train.y[fer_rows]
    soft = (
        (10 * fer_train.soft[fer_rows] + k * np.eye(fer_train.soft.shape[1], dtype=np.float32)[y]) / (10 + k)
    ).astype(np.float32)
    ck_rows = np.zeros(0, np.int64)
    if ck is not None and len(ck.y) and opts.ck_repeat:
        keep = np.flatnonzero(subject_folds(ck.files, opts.ck_folds) != opts.ck_val_fold)
        ck_rows = np.tile(keep, opts.ck_repeat)
        soft = np.concatenate([soft, ck.soft[ck_rows]])
    return fer_rows, ck_rows, soft


def training_set(fer_train: FaceSet, ck: FaceSet | None, opts: FinetuneOptions) -> FaceSet:
    """The faces of `training_rows`, with its targets."""
    fer_rows, ck_rows, soft = training_rows(fer_train, ck, opts)
    parts = [fer_train.subset(fer_rows)] + ([ck.subset(ck_rows)] if len(ck_rows) else [])
    train = FaceSet(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "y", "files", "soft", "has_votes")))
    train.soft = soft
    return train


def ck_validation(ck: FaceSet | None, opts: FinetuneOptions) -> FaceSet | None:
    from app.vision.ferplus import subject_folds

    if ck is None or opts.ck_val_fold < 0:
        return None
    return ck.subset(subject_folds(ck.files, opts.ck_folds) == opts.ck_val_fold)


def pair_probabilities(members: list, crops: np.ndarray) -> np.ndarray:
    """Flip-averaged probabilities of the members' averaged softmax (what the app serves)."""
    from app.vision.served_nets import keras_probabilities, pair_model

    return keras_probabilities(pair_model(members), crops)


def evaluate_members(members: list, fer_val: FaceSet, ck_val: FaceSet | None) -> dict:
    probs_ck = pair_probabilities(members, ck_val.x) if ck_val is not None else None
    return dev_measures(pair_probabilities(members, fer_val.x), fer_val, probs_ck, ck_val)


def finetune(
    out: Path,
    members: list,
    train: FaceSet,
    *,
    fer_val: FaceSet,
    ck_val: FaceSet | None,
    opts: FinetuneOptions,
    stop_after_steps: int | None = None,
    log=print,
) -> dict:
    """Train `members` (Keras, built; their weights are the starting point unless `out/resume`
    holds a later state) and return the run's state. `stop_after_steps` ends the process's work
    early without a save, as a kill would (for the resume test)."""
    import tensorflow as tf

    from app.vision.served_nets import library_versions, save_members

    out.mkdir(parents=True, exist_ok=True)
    n = len(train.x)
    steps_per_epoch = opts.steps_per_epoch or math.ceil(n / opts.batch)
    total = steps_per_epoch * opts.epochs

    crop = tf.keras.Input((IMG, IMG, 1))
    trainer = tf.keras.Model(crop, [m(crop) for m in members])
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        0.0, max(total - opts.warmup_steps, 1), alpha=0.05, warmup_target=opts.lr, warmup_steps=opts.warmup_steps
    )
    optimizer = tf.keras.optimizers.AdamW(schedule, weight_decay=opts.weight_decay)
    optimizer.build(trainer.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name="step")
    ckpt = tf.train.Checkpoint(model=trainer, optimizer=optimizer, step=step)
    manager = tf.train.CheckpointManager(ckpt, str(out / "resume"), max_to_keep=2)
    state_path = out / "state.json"
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        state = json.loads(state_path.read_text())
        log(f"resumed at step {int(step.numpy())} of {total}")
    else:
        state = {
            "options": asdict(opts),
            "steps_per_epoch": steps_per_epoch,
            "n_train": n,
            "data_sha256": data_hash(train),
            "libraries": library_versions(),
            "history": [],
            "best": None,
        }
        start = evaluate_members(members, fer_val, ck_val)
        state["start"] = start
        log(f"start: {_line(start)}")
        state_path.write_text(json.dumps(state, indent=1))

    x_all = train.x
    soft_all = train.soft.astype(np.float32)

    @tf.function(reduce_retracing=True)
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = trainer(xb, training=True)
            loss = tf.add_n([tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(yb, z)) for z in logits]) / len(
                logits
            )
        grads = tape.gradient(loss, trainer.trainable_variables)
        optimizer.apply_gradients(zip(grads, trainer.trainable_variables, strict=True))
        return loss

    done_here = 0
    losses: list[float] = []
    t0 = time.time()
    while int(step.numpy()) < total:
        s = int(step.numpy())
        epoch, i = divmod(s, steps_per_epoch)
        order = np.random.default_rng([opts.seed, epoch]).permutation(n)
        idx = np.take(order, np.arange(i * opts.batch, (i + 1) * opts.batch), mode="wrap")
        gen = tf.random.Generator.from_seed(opts.seed * 1_000_003 + s)
        xb = augment(tf.convert_to_tensor(x_all[idx][..., None], tf.float32) / 255.0, gen)
        losses.append(float(train_step(xb, tf.convert_to_tensor(soft_all[idx]))))
        step.assign_add(1)
        done_here += 1
        if stop_after_steps is not None and done_here >= stop_after_steps:
            return state
        s += 1
        if s % steps_per_epoch == 0:
            scores = evaluate_members(members, fer_val, ck_val)
            entry = {
                "epoch": s // steps_per_epoch,
                "step": s,
                "loss": float(np.mean(losses)) if losses else None,
                "seconds": round(time.time() - t0, 1),
                **scores,
            }
            state["history"].append(entry)
            acc = scores["ferplus_plurality"]["accuracy"]
            if state["best"] is None or acc > state["best"]["ferplus_plurality_accuracy"]:
                state["best"] = {"epoch": entry["epoch"], "ferplus_plurality_accuracy": acc}
                save_members(members, out / "best", {"run": str(out), "epoch": entry["epoch"], "state": "state.json"})
            manager.save()
            state_path.write_text(json.dumps(state, indent=1))
            log(
                f"epoch {entry['epoch']}/{opts.epochs} loss {entry['loss']:.4f} {_line(scores)} "
                f"({entry['seconds']:.0f}s)"
            )
            losses, t0 = [], time.time()
        elif s % opts.save_every == 0:
            manager.save()
    return state


def _line(scores: dict) -> str:
    fp, fl = scores["ferplus_plurality"], scores["fer2013_labels"]
    ck = scores.get("ckplus")
    tail = f" | CK+ held-out subjects {ck['accuracy']:.4f}" if ck else ""
    return f"FER+ plurality {fp['accuracy']:.4f} (F1 {fp['macro_f1']:.4f}) | FER2013 labels {fl['accuracy']:.4f}{tail}"


def beats_served(candidate: dict, served: dict, max_fer2013_drop: float = 0.01) -> bool:
    """The export rule, fixed before measuring: higher FER+ plurality val accuracy than the served
    model, and FER2013-label val accuracy at most `max_fer2013_drop` below it."""
    return (
        candidate["ferplus_plurality"]["accuracy"] > served["ferplus_plurality"]["accuracy"]
        and candidate["fer2013_labels"]["accuracy"] >= served["fer2013_labels"]["accuracy"] - max_fer2013_drop
    )


def plurality_accuracy(probs: np.ndarray, fer_val: FaceSet) -> float:
    v = fer_val.has_votes
    return float(plurality_correct(probs[v], fer_val.soft[v]).mean())


_PACK_ROW = 128  # faces per row of a packed mosaic


def _mosaic(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) → one JPEG (quality 95) of rows of faces, as bytes in a uint8 array."""
    import cv2

    rows = math.ceil(len(x) / _PACK_ROW)
    pad = np.zeros((rows * _PACK_ROW - len(x), IMG, IMG), np.uint8)
    grid = np.concatenate([x, pad]).reshape(rows, _PACK_ROW, IMG, IMG).transpose(0, 2, 1, 3)
    ok, buf = cv2.imencode(".jpg", grid.reshape(rows * IMG, _PACK_ROW * IMG), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return buf.ravel()


def _unmosaic(buf: np.ndarray, n: int) -> np.ndarray:
    import cv2

    grid = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    rows = grid.shape[0] // IMG
    return grid.reshape(rows, IMG, _PACK_ROW, IMG).transpose(0, 2, 1, 3).reshape(-1, IMG, IMG)[:n]


def pack_dev_data(fer_root: Path, ck_root: Path | None, path: Path, cache_dir: Path) -> None:
    """The dev sets in one file small enough to travel to a GPU machine beside the repo (its
    working tree may be 64 MiB; the JPEG folders alone are 50 MB): FER2013 faces re-encoded as
    JPEG mosaics at quality 95 (about one grey level of change), CK+ as is, all targets."""
    arrays = {}
    for name, s in zip(("train", "val", "ck"), load_dev_data(fer_root, ck_root, cache_dir), strict=True):
        if s is None:
            continue
        arrays[f"{name}_x"] = s.x if name == "ck" else _mosaic(s.x)
        arrays.update({f"{name}_{f}": getattr(s, f) for f in ("y", "files", "soft", "has_votes")})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_dev_data(fer_root: Path, ck_root: Path | None, cache_dir: Path) -> tuple[FaceSet, FaceSet, FaceSet | None]:
    """FER2013 train and de-duplicated val with FER+ votes, and CK+ dev (None when absent); or
    all three from a `pack_dev_data` file when `fer_root` is one."""
    from app.vision.ferplus import load_ckplus, load_fer_split

    if fer_root.suffix == ".npz":
        with np.load(fer_root) as d:
            sets = []
            for name in ("train", "val", "ck"):
                if f"{name}_y" not in d:
                    sets.append(None)
                    continue
                y = d[f"{name}_y"]
                x = d[f"{name}_x"] if name == "ck" else _unmosaic(d[f"{name}_x"], len(y))
                sets.append(FaceSet(x, y, d[f"{name}_files"], d[f"{name}_soft"], d[f"{name}_has_votes"]))
        return sets[0], sets[1], sets[2]
    fer_train = load_fer_split(fer_root, "train", cache_dir)
    fer_val = load_fer_split(fer_root, "val", cache_dir)
    ck = load_ckplus(ck_root) if ck_root is not None and ck_root.is_dir() else None
    return fer_train, fer_val, ck


def prepare(args) -> tuple[FinetuneOptions, Path, FaceSet, FaceSet, FaceSet | None]:
    """The run's options (a resumed fine-tune keeps those it started with), TensorFlow's threads
    and seed, and the dev sets: what `run` and `app.vision.head_refit.run` both start from."""
    import tensorflow as tf

    opts = FinetuneOptions(
        **{k: getattr(args, k) for k in FinetuneOptions.__dataclass_fields__ if k != "extra" and hasattr(args, k)}
    )
    state_path = Path(args.out) / "state.json"
    if state_path.exists() and opts.trainable == "all":  # its schedule depends on the options it began with
        recorded = json.loads(state_path.read_text())["options"]
        opts = FinetuneOptions(**{**recorded, "threads": opts.threads})
    tf.config.threading.set_intra_op_parallelism_threads(opts.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(opts.seed)
    out = Path(args.out)
    fer_train, fer_val, ck = load_dev_data(Path(args.data), Path(args.ckplus) if args.ckplus else None, out / "cache")
    return opts, out, fer_train, fer_val, ck


def run(args) -> dict:
    """`python -m app.vision.train`: fine-tune from `--init` (or resume `--out`)."""
    from app.vision.served_nets import load_members

    opts, out, fer_train, fer_val, ck = prepare(args)
    train = training_set(fer_train, ck, opts)
    print(
        f"train {len(train.x)} faces (FER+ usable {int(fer_train.has_votes.sum())}), val {len(fer_val.x)}", flush=True
    )
    members = load_members(Path(args.init), dropout=opts.dropout, spatial_dropout=opts.spatial_dropout)
    return finetune(
        out,
        members,
        train,
        fer_val=fer_val,
        ck_val=ck_validation(ck, opts),
        opts=opts,
        log=lambda m: print(m, flush=True),
    )


def served_dev_measures(model_path: Path, fer_val: FaceSet, ck_val: FaceSet | None) -> dict:
    """Every dev figure of a converted model, read through the app's serving code."""
    from app.vision.served_nets import served_probabilities

    probs_ck = served_probabilities(ck_val.x, model_path) if ck_val is not None else None
    return dev_measures(served_probabilities(fer_val.x, model_path), fer_val, probs_ck, ck_val)


def measure(args) -> dict:
    """`python -m app.vision.train --measure`: the served model's dev figures into face_metrics.json
    (`dev`): FER+ plurality and FER2013 labels on de-duplicated val, CK+ on every dev subject (it
    never trained on CK+) and on the held-out fold a fine-tune validates on."""
    from app.config import FACE_MODEL_FILE, MODELS_DIR
    from app.tools.evaluation import update_metrics

    opts = FinetuneOptions(ck_val_fold=args.ck_val_fold, ck_folds=args.ck_folds)
    _, fer_val, ck = load_dev_data(
        Path(args.data), Path(args.ckplus) if args.ckplus else None, Path(args.out) / "cache"
    )
    dev = served_dev_measures(MODELS_DIR / FACE_MODEL_FILE, fer_val, ck_validation(ck, opts))
    if ck is not None:
        dev["ckplus_all_dev_subjects"] = served_dev_measures(MODELS_DIR / FACE_MODEL_FILE, fer_val, ck)["ckplus"]
    dev["ckplus_fold"] = {"fold": opts.ck_val_fold, "of": opts.ck_folds}
    metrics = MODELS_DIR / "face_metrics.json"
    earlier = (json.loads(metrics.read_text()).get("dev") or {}) if metrics.is_file() else {}
    if "ckplus_subject_cv" in earlier:  # measured when the served nets were fit; not re-measurable here
        dev["ckplus_subject_cv"] = earlier["ckplus_subject_cv"]
    update_metrics("face_metrics.json", dev=dev)
    print(_line(dev), flush=True)
    return dev


def export(args) -> int:
    """`--export`: convert `--out`'s best epoch (members' softmaxes averaged, one graph) as float32,
    int8 and dynamic range; measure each through LiteRT; serve the fastest within half a point of
    float32 (`choose_variant`) only if it `beats_served`; then the committed checkpoints become
    its members and face_metrics.json records the run."""
    import tensorflow as tf

    from app.config import FACE_MODEL_FILE, MODELS_DIR
    from app.vision.served_nets import (
        CHECKPOINT_DIR,
        file_sha256,
        load_members,
        pair_model,
        save_members,
    )
    from app.vision.training_ops import choose_variant

    out = Path(args.out)
    state = json.loads((out / "state.json").read_text())
    opts = FinetuneOptions(**{k: v for k, v in state["options"].items() if k in FinetuneOptions.__dataclass_fields__})
    fer_train, fer_val, ck = load_dev_data(Path(args.data), Path(args.ckplus) if args.ckplus else None, out / "cache")
    ck_val = ck_validation(ck, opts)
    members = load_members(out / "best")
    serving = pair_model(members)
    calib = fer_train.x[np.random.default_rng(opts.seed).choice(len(fer_train.x), 2000, replace=False)]

    def convert(quantize: bool, calibrate: bool = False) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(serving)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if calibrate:
                converter.representative_dataset = lambda: (
                    [img[None, :, :, None].astype(np.float32) / 255.0] for img in calib
                )
        return converter.convert()

    import tempfile

    blobs = {"float32": convert(False), "int8": convert(True, True), "dynamic": convert(True)}
    variants, probs = {}, {}
    from app.vision.training_ops import litert_predict

    for name, blob in blobs.items():
        p, ms = litert_predict(blob, fer_val.x)
        probs[name] = p
        variants[name] = {"accuracy": plurality_accuracy(p, fer_val), "ms_per_face": ms, "bytes": len(blob)}
        print(f"{name}: FER+ plurality {variants[name]['accuracy']:.4f}, {ms:.2f} ms/face", flush=True)
    chosen = choose_variant(variants)
    served_path = MODELS_DIR / FACE_MODEL_FILE
    served = served_dev_measures(served_path, fer_val, ck_val)
    with tempfile.NamedTemporaryFile(suffix=".tflite") as fh:
        fh.write(blobs[chosen])
        fh.flush()
        candidate = served_dev_measures(Path(fh.name), fer_val, ck_val)
    print(f"served:    {_line(served)}\ncandidate: {_line(candidate)} ({chosen})", flush=True)
    if not beats_served(candidate, served) and not args.force:
        print("not exported: the candidate does not beat the served model (export rule in beats_served)")
        return 1
    served_path.write_bytes(blobs[chosen])
    save_members(
        members,
        CHECKPOINT_DIR,
        {
            "source": f"fine-tuned by app.vision.finetune, epoch {state['best']['epoch']} of {out}",
            "served_sha256": file_sha256(served_path),
            "options": state["options"],
            "data_sha256": state["data_sha256"],
            "libraries": state["libraries"],
        },
    )
    from app.tools.evaluation import update_metrics
    from app.vision.splits import val_dedup_report

    fer_report = candidate["fer2013_labels"]
    update_metrics(
        "face_metrics.json",
        **{k: fer_report[k] for k in ("n", "accuracy", "macro_f1", "per_class", "confusion")},
        params=int(serving.count_params()),
        prior_correction=None,
        served=chosen,
        val_split="PublicTest without byte-for-byte copies of training images",
        variants=variants,
        dev={
            **candidate,
            "ckplus_fold": {"fold": opts.ck_val_fold, "of": opts.ck_folds},
            # A head refit scores CK+ by subject-grouped CV, then trains on every subject.
            **({"ckplus_subject_cv": cv} if (cv := _best_entry(state).get("ckplus_subject_cv")) else {}),
        },
        dev_before=served,
        finetune={
            k: state[k]
            for k in ("options", "steps_per_epoch", "n_train", "data_sha256", "libraries", "history", "best", "start")
        },
        val_dedup=val_dedup_report(Path(args.data)),
    )
    print(f"exported {chosen} to {served_path}; checkpoints in {CHECKPOINT_DIR}")
    return 0


def _best_entry(state: dict) -> dict:
    return next((h for h in state["history"] if h["epoch"] == state["best"]["epoch"]), {})


def _without_matrices(scores: dict) -> dict:
    return {
        k: {kk: vv for kk, vv in v.items() if kk != "confusion"} if isinstance(v, dict) else v
        for k, v in scores.items()
    }


def record_run(out: Path, keep_best: bool = False) -> dict:
    """`--record`: the run's options, data hash, libraries and every epoch's dev figures (confusion
    matrices left out) into `models/face_finetune_runs.json`, under the run folder's name; the
    model card's fine-tune section and retrain recipe are written from it. `keep_best` also
    copies the best epoch's member weights to `models/checkpoints/<run>/` (when it beats the
    start on FER+ plurality), so a later session can go on from them with `--init`."""
    import shutil

    from app.tools.evaluation import update_metrics
    from app.vision.served_nets import CHECKPOINT_DIR, CHECKPOINT_INFO, MEMBER_FILE

    state = json.loads((out / "state.json").read_text())
    run = {k: state[k] for k in ("options", "steps_per_epoch", "n_train", "data_sha256", "libraries", "best")}
    if state.get("init"):
        run["init"] = state["init"]
    run["start"] = _without_matrices(state["start"])
    run["history"] = [_without_matrices(h) for h in state["history"]]
    start_acc = state["start"]["ferplus_plurality"]["accuracy"]
    if keep_best and state["best"] and state["best"]["ferplus_plurality_accuracy"] > start_acc:
        dest = CHECKPOINT_DIR / out.name
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted((out / "best").glob(MEMBER_FILE.format("*"))):
            shutil.copy2(path, dest / path.name)
        best = _best_entry(state)
        info = {k: state[k] for k in ("options", "data_sha256", "libraries")}
        info.update(
            source=f"app.vision.finetune run {out.name}, epoch {best['epoch']}", figures=_without_matrices(best)
        )
        (dest / CHECKPOINT_INFO).write_text(json.dumps(info, indent=1) + "\n")
        run["kept_best"] = str(dest.relative_to(CHECKPOINT_DIR.parent.parent))
    update_metrics("face_finetune_runs.json", **{out.name: run})
    return run
