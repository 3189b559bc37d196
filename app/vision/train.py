"""Train the face-expression CNN on FER2013 and export it for serving.

    python -m app.vision.train --data ../shared/data/fer2013 --epochs 40

Resumable: every epoch writes `<workdir>/last.keras` and `<workdir>/state.json`; rerunning the
same command continues from there (the cosine schedule follows the optimizer's step count, which
is saved with the model). The best epoch by validation accuracy (with flip test-time averaging)
is kept as `<workdir>/best.keras`; `--export` converts it to `models/face_expression.tflite` and
writes its figures to `models/face_metrics.json` (used by the model card). `--ensemble-with
WORKDIR` exports several runs as one graph that averages their probabilities.

TensorFlow is imported only here: the app serves the exported model with LiteRT.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from app.config import FACE_MODEL_FILE, MODELS_DIR
from app.emotions import FACE_LABELS
from app.tools.evaluation import classification_report
from app.vision.training_ops import IMG, augment_batch, choose_variant, litert_predict


def load_split(root: Path, split: str, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 48, 48) crops and FER2013 label indices of `train` or de-duplicated `val`
    (`app.vision.ferplus.load_fer_split`, cached as .npz outside the repo)."""
    from app.vision.ferplus import load_fer_split

    faces = load_fer_split(root, split, cache_dir)
    return faces.x, faces.y


def stage_widths(width: int = 32, widths: str | None = None) -> tuple[int, ...]:
    """Channels of the four stages: `widths` ("32,64,128,384") when given, else doubling from `width`."""
    if widths:
        try:
            out = tuple(int(w) for w in widths.split(","))
        except ValueError:
            out = ()
        if len(out) != 4 or min(out) < 1:
            raise ValueError(f"--widths needs four positive channel counts, got {widths!r}")
        return out
    return (width, width * 2, width * 4, width * 8)


def build_model(width: int = 32, dropout: float = 0.3, spatial_dropout: float = 0.05, widths: str | None = None):
    """VGG-style net, four stages of two 3x3 conv+BN+ReLU, ~1.2 M parameters at width 32."""
    import tensorflow as tf
    from tensorflow.keras import layers

    inp = layers.Input((IMG, IMG, 1), name="face")
    x = inp
    for stage, ch in enumerate(stage_widths(width, widths)):
        for _ in range(2):
            x = layers.Conv2D(ch, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        if stage < 3:
            x = layers.MaxPool2D()(x)
            # Light spatial dropout only: heavier dropout stalls the first epochs, and the
            # augmentation already regularises.
            x = layers.SpatialDropout2D(spatial_dropout * (stage + 1))(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(len(FACE_LABELS), name="logits")(x)
    return tf.keras.Model(inp, out, name="moodtune_face")


def widen_weights(src_weights: list[np.ndarray], dst_model, noise: float = 0.01, seed: int = 0) -> None:
    """Net2WiderNet (Chen et al. 2016): load a narrower net's weights into `dst_model`, the same
    architecture with more channels in some conv stages, so that it computes the same function.

    A widened conv's extra output channels copy randomly chosen existing ones (with their
    BatchNorm parameters); the next layer's input weights for each copied channel are divided by
    its number of copies, so the sum it sees is unchanged. `noise` (relative to each kernel's
    spread) on the copies breaks their symmetry so training can make them differ; 0 keeps the
    function exact. Used to grow the served net without training the wider one from scratch.
    """
    rng = np.random.default_rng(seed)
    src = iter(src_weights)
    mapping = None  # for the current channel axis: source channel of each destination channel
    for layer in dst_model.layers:
        shapes = [w.shape for w in layer.get_weights()]
        if not shapes:
            continue
        old = [next(src) for _ in shapes]
        kind = type(layer).__name__
        if kind in ("Conv2D", "Dense"):
            kernel = old[0]
            if mapping is not None and shapes[0][-2] != kernel.shape[-2]:
                counts = np.bincount(mapping, minlength=kernel.shape[-2]).astype(kernel.dtype)
                kernel = np.take(kernel, mapping, axis=-2) / counts[mapping][:, None]
            n_old, n_new = kernel.shape[-1], shapes[0][-1]
            if n_new < n_old:
                raise ValueError(f"{layer.name}: cannot narrow {n_old} channels to {n_new}")
            mapping = np.concatenate([np.arange(n_old), rng.integers(0, n_old, n_new - n_old)])
            new = [np.take(kernel, mapping, axis=-1)] + [np.take(w, mapping, axis=-1) for w in old[1:]]
            if n_new > n_old and noise:
                new[0][..., n_old:] += rng.normal(0, noise * kernel.std(), new[0][..., n_old:].shape).astype(
                    kernel.dtype
                )
        elif kind == "BatchNormalization":
            new = [
                np.take(w, mapping, axis=-1) if mapping is not None and w.shape != shape else w
                for w, shape in zip(old, shapes, strict=True)
            ]
        else:
            raise ValueError(f"widen_weights does not know how to widen a {kind} layer")
        if [w.shape for w in new] != shapes:
            raise ValueError(f"{layer.name}: cannot widen {[w.shape for w in old]} to {shapes}")
        layer.set_weights(new)
    if next(src, None) is not None:
        raise ValueError("the source net has more layers than the destination")


def predict_tta(model, x_uint8: np.ndarray, batch: int = 512) -> np.ndarray:
    """Softmax probabilities averaged over the image and its mirror."""
    import tensorflow as tf

    x = x_uint8.astype(np.float32)[..., None] / 255.0
    probs = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        p = tf.nn.softmax(model(xb, training=False)) + tf.nn.softmax(model(xb[:, :, ::-1], training=False))
        probs.append(p.numpy() / 2)
    return np.concatenate(probs)


def report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """The shared metrics report (`app.tools.evaluation`) for label indices into FACE_LABELS."""
    names = np.asarray(FACE_LABELS)
    return classification_report(names[y_true].tolist(), names[y_pred].tolist(), FACE_LABELS)


def class_weights(y_train: np.ndarray) -> np.ndarray:
    """Per-class loss weights ∝ (1/frequency)^0.5, normalised to a mean sample weight of 1:
    lifts disgust/surprise recall without wrecking accuracy."""
    counts = np.bincount(y_train, minlength=len(FACE_LABELS)).astype(np.float64)
    cw = (counts.sum() / counts) ** 0.5
    return cw / (cw * counts).sum() * counts.sum()


def prior_corrected(probs: np.ndarray, cw: np.ndarray) -> np.ndarray:
    """Undo the class weighting at prediction time: a net trained with loss weights w_c learns
    p(c|x)·w_c (up to normalisation), so dividing by w_c gives back the posterior under the
    training prior (the logit adjustment of Menon et al. 2021). Fixed by the training labels,
    not fitted on val. The export folds the same shift into the logits' bias."""
    p = probs / cw
    return p / p.sum(axis=1, keepdims=True)


def recompute_bn_statistics(model, x_uint8: np.ndarray, batch: int = 256, seed: int = 0) -> None:
    """Set every BatchNorm's moving mean/variance to its exact average over the training images
    (mirrored at random), as averaged weights need (Izmailov et al. 2018, SWA). Eager calls
    so each batch can use its own momentum i/(i+1): a cumulative mean, not an EMA."""
    import tensorflow as tf

    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    for layer in bns:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_uint8))
    momenta = [layer.momentum for layer in bns]
    for i, start in enumerate(range(0, len(order), batch)):
        xb = x_uint8[order[start : start + batch]].astype(np.float32)[..., None] / 255.0
        mirror = rng.random(len(xb)) < 0.5
        xb = np.where(mirror[:, None, None, None], xb[:, :, ::-1], xb)
        for layer in bns:
            layer.momentum = i / (i + 1)
        model(xb, training=True)
    for layer, momentum in zip(bns, momenta, strict=True):
        layer.momentum = momentum


def train(args: argparse.Namespace) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    tf.keras.utils.set_random_seed(args.seed)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    root = Path(args.data)
    x_tr, y_tr = load_split(root, "train", work)
    x_va, y_va = load_split(root, "val", work)
    print(f"train {x_tr.shape} val {x_va.shape}", flush=True)

    cw = class_weights(y_tr)
    steps_per_epoch = math.ceil(len(x_tr) / args.batch)
    total_steps = steps_per_epoch * args.epochs

    state_path, last_path, best_path = work / "state.json", work / "last.keras", work / "best.keras"
    options = {
        k: getattr(args, k)
        for k in (
            "epochs",
            "batch",
            "lr",
            "weight_decay",
            "width",
            "widths",
            "dropout",
            "spatial_dropout",
            "erase_prob",
            "seed",
            "schedule",
            "cycle_epochs",
            "swa_start",
        )
    }
    swa_path = work / "swa_running_mean.npz"
    state = (
        json.loads(state_path.read_text())
        if state_path.exists()
        else {"epoch": 0, "best_acc": 0.0, "history": [], "init_from": args.init_from, "options": options}
    )
    if last_path.exists() and state["epoch"] > 0:
        model = tf.keras.models.load_model(last_path)
        print(f"resumed at epoch {state['epoch']}", flush=True)
    else:
        # --init-from: a warm restart (new cosine cycle) from an earlier run's weights.
        model = build_model(
            width=args.width, dropout=args.dropout, spatial_dropout=args.spatial_dropout, widths=args.widths
        )
        if args.init_from:
            # Rebuilt rather than loaded so a restart can change the (weightless) dropout rates,
            # and widened when --widths asks for more channels than the source has (an exact copy
            # of the weights when it asks for none).
            widen_weights(tf.keras.models.load_model(args.init_from).get_weights(), model, seed=args.seed)
        # One warm-up epoch, then cosine decay to 1 % of the peak, or (constant, for weight
        # averaging) alpha 1: CosineDecay with alpha=1 stays at the peak.
        if args.schedule == "cyclic":
            # Short cosine cycles with no warm-up (for averaging the low-LR end of each cycle,
            # Garipov et al. 2018 / Izmailov et al. 2018): starts from a trained net.
            schedule = tf.keras.optimizers.schedules.CosineDecayRestarts(
                args.lr, steps_per_epoch * args.cycle_epochs, t_mul=1.0, m_mul=1.0, alpha=0.01
            )
        else:
            schedule = tf.keras.optimizers.schedules.CosineDecay(
                0.0,
                max(total_steps - steps_per_epoch, 1),
                alpha=0.01 if args.schedule == "cosine" else 1.0,
                warmup_target=args.lr,
                warmup_steps=steps_per_epoch,
            )
        model.compile(
            optimizer=tf.keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay),
            loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        )
    print(f"params {model.count_params():,}", flush=True)
    seed_gen = tf.random.Generator.from_seed(args.seed + state["epoch"])
    sample_w = cw[y_tr].astype(np.float32)
    y_onehot = np.eye(len(FACE_LABELS), dtype=np.float32)[y_tr]

    def make_ds(epoch: int):
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        order = rng.permutation(len(x_tr))
        ds = tf.data.Dataset.from_tensor_slices((x_tr[order], y_onehot[order], sample_w[order]))
        ds = ds.batch(args.batch, drop_remainder=False)
        ds = ds.map(
            lambda x, y, w: (augment_batch(tf.cast(x[..., None], tf.float32) / 255.0, seed_gen, args.erase_prob), y, w),
            num_parallel_calls=1,
        )
        return ds.prefetch(2)

    for epoch in range(state["epoch"], args.epochs):
        t0 = time.time()
        hist = model.fit(make_ds(epoch), epochs=1, verbose=0)
        scores = _val_scores(model, x_va, y_va, cw)
        dt = time.time() - t0
        state["epoch"] = epoch + 1
        state["history"].append(
            {"epoch": epoch + 1, "loss": float(hist.history["loss"][-1]), **scores, "seconds": round(dt, 1)}
        )
        # Selection uses what is served: the prior-corrected prediction.
        if scores["val_acc_prior_corrected"] > state["best_acc"]:
            state["best_acc"] = scores["val_acc_prior_corrected"]
            state["best_epoch"] = epoch + 1
            model.save(best_path)
        cycle_end = args.schedule != "cyclic" or (epoch + 1) % args.cycle_epochs == 0
        if args.swa_start and epoch + 1 >= args.swa_start and cycle_end:
            state["swa_n"] = update_running_mean(swa_path, model.get_weights(), state.get("swa_n", 0))
        model.save(last_path)
        state_path.write_text(json.dumps(state, indent=1))
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {hist.history['loss'][-1]:.4f} {_scores_line(scores)} ({dt:.0f}s)",
            flush=True,
        )

    if state.get("swa_n"):
        _finish_weight_average(
            model, state, swa_path=swa_path, best_path=best_path, x_tr=x_tr, x_va=x_va, y_va=y_va, cw=cw
        )
        state_path.write_text(json.dumps(state, indent=1))


def _val_scores(model, x_va: np.ndarray, y_va: np.ndarray, cw: np.ndarray) -> dict[str, float]:
    """Val accuracy and macro-F1 of the flip-averaged prediction, as is and prior-corrected."""
    probs = predict_tta(model, x_va)
    m = report(y_va, probs.argmax(1))
    mc = report(y_va, prior_corrected(probs, cw).argmax(1))
    return {
        "val_acc": m["accuracy"],
        "val_macro_f1": m["macro_f1"],
        "val_acc_prior_corrected": mc["accuracy"],
        "val_macro_f1_prior_corrected": mc["macro_f1"],
    }


def _scores_line(scores: dict[str, float]) -> str:
    return (
        f"val_acc {scores['val_acc']:.4f} macro_f1 {scores['val_macro_f1']:.4f} prior-corrected "
        f"{scores['val_acc_prior_corrected']:.4f} / {scores['val_macro_f1_prior_corrected']:.4f}"
    )


def update_running_mean(path: Path, weights: list[np.ndarray], n: int) -> int:
    """Fold one more set of weights into the running mean of `n` sets stored at `path` (kept on
    disk so a resumed run continues it); returns the new count."""
    if n:
        with np.load(path) as f:
            mean = [f[f"w{i}"] for i in range(len(weights))]
        weights = [m + (w - m) / (n + 1) for m, w in zip(mean, weights, strict=True)]
    np.savez(path, **{f"w{i}": w for i, w in enumerate(weights)})
    return n + 1


def fold_prior_correction(model, cw: np.ndarray) -> None:
    """Subtract log(class weight) from the "logits" layer's bias, so the served softmax is
    prior_corrected() without any code in the serving path: softmax(z − log w) ∝ softmax(z) / w."""
    layer = model.get_layer("logits")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias - np.log(cw).astype(bias.dtype)])


def _finish_weight_average(model, state: dict, *, swa_path: Path, best_path: Path, x_tr, x_va, y_va, cw) -> None:
    """Load the averaged weights, recompute BatchNorm statistics for them, measure on val, and
    make them best.keras when they beat the best single epoch."""
    with np.load(swa_path) as f:
        model.set_weights([f[f"w{i}"] for i in range(len(f.files))])
    recompute_bn_statistics(model, x_tr)
    scores = _val_scores(model, x_va, y_va, cw)
    state["swa"] = {"epochs_averaged": state["swa_n"], **scores}
    print(f"weight average of {state['swa_n']} snapshots: {_scores_line(scores)}", flush=True)
    if scores["val_acc_prior_corrected"] > state["best_acc"]:
        state["best_acc"] = scores["val_acc_prior_corrected"]
        state["best_epoch"] = "weight average"
        model.save(best_path)


def _warm_start_info(init_from: str | None) -> list[dict] | None:
    """The chain of earlier runs a warm restart started from, oldest first: their epochs and best
    val accuracy (each run's state.json records the checkpoint it started from)."""
    chain: list[dict] = []
    while init_from:
        prior = Path(init_from).parent / "state.json"
        if not prior.exists():
            chain.append({"from": Path(init_from).name})
            break
        st = json.loads(prior.read_text())
        chain.append(
            {
                "from_epochs": st["epoch"],
                "from_best_epoch": st.get("best_epoch"),
                "from_val_acc": st["best_acc"],
                "options": st.get("options"),
            }
        )
        init_from = st.get("init_from")
    return list(reversed(chain)) or None


def serving_model(members: list, cw: np.ndarray):
    """One Keras model from a 48×48 crop to the served probabilities: each member's softmax with
    the prior correction folded into its bias, averaged over the members. Averaging inside the
    graph keeps the app's path the same for one net or several: one LiteRT call per batch."""
    import tensorflow as tf

    for member in members:
        fold_prior_correction(member, cw)
    if len(members) == 1:
        return tf.keras.Sequential([members[0], tf.keras.layers.Softmax()])
    for i, member in enumerate(members):
        member.name = f"member_{i}"  # loaded models share a default name; a graph needs unique ones
    crop = tf.keras.Input((IMG, IMG, 1))
    return tf.keras.Model(crop, tf.keras.layers.Average()([tf.keras.layers.Softmax()(m(crop)) for m in members]))


def _member_info(work: Path, model, x_va: np.ndarray, y_va: np.ndarray, default_seed: int) -> dict:
    """What the model card says about one served net: its shape, its training and its own val accuracy."""
    import tensorflow as tf

    state = json.loads((work / "state.json").read_text())
    return {
        "workdir": work.name,
        "params": int(model.count_params()),
        "stage_channels": [layer.filters for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)][::2],
        "epochs_trained": state["epoch"],
        "best_epoch": state.get("best_epoch"),
        "history": state["history"],
        "weight_average": state.get("swa"),
        "seed": (state.get("options") or {}).get("seed", default_seed),
        "warm_start": _warm_start_info(state.get("init_from")),
        "options": state.get("options"),
        # Flip-averaged and prior-corrected (the bias is folded by now), Keras float32.
        "keras_val_accuracy": float((predict_tta(model, x_va).argmax(1) == y_va).mean()),
    }


def export(args: argparse.Namespace) -> None:
    """Convert best.keras of --workdir (and of each --ensemble-with run, probabilities averaged)
    to TFLite as float32, int8 and dynamic-range int8, measure each through LiteRT on val, serve
    what `choose_variant` picks, write the figures."""
    import tensorflow as tf

    workdirs = [Path(args.workdir), *(Path(w) for w in args.ensemble_with)]
    members = [tf.keras.models.load_model(work / "best.keras") for work in workdirs]
    x_tr, y_tr = load_split(Path(args.data), "train", workdirs[0])
    serving = serving_model(members, class_weights(y_tr))
    x_va, y_va = load_split(Path(args.data), "val", workdirs[0])

    def convert(quantize: bool, representative=None) -> bytes:
        """float32; int8 with `representative` images to calibrate activations; dynamic range
        (int8 weights, activations quantized per image at run time) without them."""
        converter = tf.lite.TFLiteConverter.from_keras_model(serving)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
        return converter.convert()

    # A fixed number of calibration images: beyond a few thousand the count moves int8 val
    # accuracy only by noise, so it is not tuned on val.
    calib = x_tr[np.random.default_rng(args.seed).choice(len(x_tr), 3000, replace=False)]

    def representative():
        for img in calib:
            yield [img[None, :, :, None].astype(np.float32) / 255.0]

    # Dynamic range runs on XNNPACK's dynamically quantized kernels; which variant is served is
    # measured below and decided by choose_variant (the figures go to face_metrics.json).
    blobs = {"float32": convert(False), "int8": convert(True, representative), "dynamic": convert(True)}

    variants = {}
    for name, blob in blobs.items():
        probs, ms = litert_predict(blob, x_va)
        variants[name] = {
            "accuracy": float((probs.argmax(1) == y_va).mean()),
            "ms_per_face": ms,
            "bytes": len(blob),
            "probs": probs,
        }
        print(
            f"{name}: val accuracy {variants[name]['accuracy']:.4f}, {ms:.2f} ms/face, {len(blob) / 1e6:.1f} MB",
            flush=True,
        )
    chosen = choose_variant(variants)
    (MODELS_DIR / FACE_MODEL_FILE).write_bytes(blobs[chosen])

    m = report(y_va, variants[chosen]["probs"].argmax(1))
    m.update(
        {
            "params": int(sum(member.count_params() for member in members)),
            "tta": "horizontal flip",
            "prior_correction": "logits − log(class weight), folded into the output bias",
            "served": chosen,
            "val_split": "PublicTest without byte-for-byte copies of training images",
            "variants": {k: {kk: vv for kk, vv in v.items() if kk != "probs"} for k, v in variants.items()},
            "members": [
                _member_info(work, member, x_va, y_va, args.seed)
                for work, member in zip(workdirs, members, strict=True)
            ],
        }
    )
    from app.vision.splits import val_dedup_report  # the served file just written, both ways

    m["val_dedup"] = val_dedup_report(Path(args.data))
    (MODELS_DIR / "face_metrics.json").write_text(json.dumps(m, indent=1))
    print(json.dumps({k: v for k, v in m.items() if k not in ("members", "confusion", "val_dedup")}, indent=1))
    for info in m["members"]:
        print(f"{info['workdir']}: {info['params']:,} parameters, Keras val accuracy {info['keras_val_accuracy']:.4f}")


def main(argv: list[str] | None = None) -> None:
    """Fine-tune the served nets (the default), or `--from-scratch` train one net the old way."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--from-scratch" in argv:
        argv.remove("--from-scratch")
        scratch_main(argv)
    else:
        finetune_main(argv)


def finetune_main(argv: list[str]) -> None:
    from app.vision import finetune

    defaults = finetune.FinetuneOptions()
    p = argparse.ArgumentParser(
        description=finetune.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, prog="app.vision.train"
    )
    p.add_argument(
        "--data", default="../shared/data/fer2013", help="FER2013 folder with ferplus_votes.csv, or a --pack file"
    )
    p.add_argument("--ckplus", default="../shared/data/ckplus_dev", help="CK+ dev folder ('' to leave it out)")
    p.add_argument("--init", default=str(MODELS_DIR / "checkpoints"), help="members' weights to start from")
    p.add_argument("--out", default=".cache/face_finetune", help="output folder (resumed when it holds a run)")
    for name, value in vars(defaults).items():
        if name != "extra":
            p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--export", action="store_true", help="serve --out's best epoch if it beats the served model")
    p.add_argument("--force", action="store_true", help="with --export: serve it even if it does not")
    p.add_argument("--measure", action="store_true", help="record the served model's dev figures and stop")
    p.add_argument("--pack", metavar="FILE", help="write the dev sets to one .npz (for a GPU machine) and stop")
    p.add_argument("--record", action="store_true", help="record --out's run in models/face_finetune_runs.json")
    p.add_argument("--keep-best", action="store_true", help="with --record: commit-ready copy of the best epoch's nets")
    args = p.parse_args(argv)
    if args.record:
        finetune.record_run(Path(args.out), keep_best=args.keep_best)
    elif args.pack:
        finetune.pack_dev_data(
            Path(args.data), Path(args.ckplus) if args.ckplus else None, Path(args.pack), Path(args.out) / "cache"
        )
    elif args.measure:
        finetune.measure(args)
    elif args.export:
        raise SystemExit(finetune.export(args))
    elif args.trainable == "head":
        from app.vision import head_refit

        head_refit.run(args)
    else:
        finetune.run(args)


def scratch_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/fer2013")
    p.add_argument("--workdir", default=".cache/face_train")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--widths", help="channels of the four stages, e.g. 32,64,128,384 (overrides --width)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--dropout", type=float, default=0.3, help="dropout before the classifier")
    p.add_argument("--spatial-dropout", type=float, default=0.05, help="spatial dropout per stage (times stage number)")
    p.add_argument("--erase-prob", type=float, default=0.3, help="random-erasing probability")
    p.add_argument(
        "--schedule",
        choices=("cosine", "constant", "cyclic"),
        default="cosine",
        help=(
            "learning rate: cosine decay after a warm-up epoch, constant after it (for --swa-start), "
            "or cyclic cosine (--cycle-epochs, no warm-up)"
        ),
    )
    p.add_argument("--cycle-epochs", type=int, default=2, help="epochs per cosine cycle with --schedule cyclic")
    p.add_argument(
        "--swa-start",
        type=int,
        default=0,
        help="average the weights of every epoch from this one on (stochastic weight averaging); 0: off",
    )
    p.add_argument("--init-from", help="start from this .keras model's weights (warm restart with a new schedule)")
    p.add_argument("--export", action="store_true", help="export best.keras to models/ and stop")
    p.add_argument(
        "--ensemble-with",
        action="append",
        default=[],
        metavar="WORKDIR",
        help="with --export: also serve this run's best.keras, probabilities averaged with --workdir's (repeatable)",
    )
    args = p.parse_args(argv)
    if args.export:
        export(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
