"""Fine-tune the last block of the musicnn wheel's two vgg nets on the mood sets, measure it as
training measures a candidate, and write the model that reads it:

    python -m app.music.finetune --wheel musicnn-0.1.0-py3-none-any.whl [--seeds 7 8 9]
    python -m app.music.train --export .cache/music_finetune   # only if it beat the served model

Only block 5 (a 3x3 convolution, its batch norm and the last pooling) of MSD_vgg and MTT_vgg
trains, with two heads on it (quadrant softmax, valence/arousal) and the training rows and weights
`app.music.train` uses, so that a fold runs in minutes on a small CPU. Blocks 1-4 stay as the
wheel has them, so their output ("pool4", [11, 6, 128] per 3 s patch) is computed once per patch
of every segment, from the wheel's weights, and cached per clip under <workdir>/pool4_<set>/.

Per fold of train's grouped split, the fine-tuned blocks give every clip's nets outputs, and the
frozen nets' recipe is fitted on them, tags the held-out clips and is scored exactly as
`train.cross_validate` does (its `fold_clips`), twice: on the tuned outputs alone, and as HYBRID
(the classifier on the tuned nets, the valence/arousal regressor on the frozen ones); the frozen
nets on the same split are the baseline. Each fold's block is checkpointed (Keras weights,
<out>/seed<S>_fold<K>.weights.h5, with the options in <out>/options.json), so an interrupted run
resumes at the first missing fold, and a run on a GPU machine can pick the checkpoints up.

Then HYBRID is fitted on every clip, its blocks tuned on every clip (<out>/seed<S>_all.weights.h5),
and written to <out> as the music model (the tuned blocks inside it: the served nets' LiteRT files
give their block-4 output, and the tagger runs the tuned block in numpy) with its figures, marked
exportable only where it beats the frozen recipe on the same splits; <out>/finetune_metrics.json
is what the model card shows. Build-time only (TensorFlow, from requirements-dev.txt), like
convert_musicnn.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR
from app.emotions import QUADRANTS
from app.music import train
from app.music.embedding import VggLastBlock, tuned_net
from app.music.features import SongAnalysis, song_samples

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NETS: tuple[str, ...] = ("MSD_vgg", "MTT_vgg")
FROZEN_BLOCKS = 4
POOL4_SHAPE = (11, 6, 128)  # block 4's output for one 187 x 96 patch, both nets
# The frozen nets' recipe (models/music_metrics.json), here on the fine-tuned nets' outputs.
RECIPE = train.Candidate(0.001, 3000.0, "clear", 1.0, NETS, True, 1.0)
# The same, with the classifier (and so the attention over segments) on the fine-tuned nets and
# the valence/arousal regressor on the frozen ones: fine-tuning helps the quadrants and not
# valence, so each head reads the nets that serve it.
HYBRID = replace(RECIPE, classifier_tuned=True)


@dataclass(frozen=True)
class Options:
    """What a fine-tuning run trains with; a resumed run must have the same."""

    epochs: int = 6
    learning_rate: float = 3e-4
    batch: int = 64
    dropout: float = 0.5
    l2: float = 1e-3
    va_weight: float = 1.0  # the valence/arousal loss against the quadrant loss


def wheel_nets(wheel: Path) -> tuple[dict, dict[str, VggLastBlock]]:
    """Per net, blocks 1-4 as a TF function of a log-mel batch, and block 5 as weights."""
    import tensorflow as tf

    from app.music import convert_musicnn as conv
    from app.music.embedding import N_MELS, PATCH_FRAMES

    fronts, blocks = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for net in NETS:
            ckpt = conv.extract_checkpoint(wheel, Path(tmp), net)
            w, pools = conv.read_weights(ckpt), conv.vgg_pools(ckpt)
            spec = tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32)
            fronts[net] = tf.function(
                functools.partial(conv.vgg_blocks, w, pools, last=FROZEN_BLOCKS), input_signature=[spec]
            )
            (_, ph, pw, _), stride = pools[FROZEN_BLOCKS]
            if [1, ph, pw, 1] != list(stride):
                raise SystemExit(f"{net}: block 5 pools {pools[FROZEN_BLOCKS]}, this code assumes window = stride")
            scale, shift = conv.bn_affine(w, FROZEN_BLOCKS + 1)
            blocks[net] = VggLastBlock(
                w["5CNN/kernel"], w["5CNN/bias"], scale, shift, (ph, pw), w["dense/kernel"], w["dense/bias"]
            )
    return fronts, blocks


def pool4_of_clips(sets: list[train.ClipSet], work: Path, fronts: dict) -> list[list[dict[str, np.ndarray]]]:
    """Per set and clip, {net: [segments, patches, 11, 6, 128]} block-4 outputs (float16) on every
    patch of the segments train's cache holds, cached per clip (resumable); `fronts`
    (`wheel_nets`) computes the missing ones."""
    from tqdm import tqdm

    out = []
    for s in sets:
        folder = work / f"pool4_{s.name}"
        folder.mkdir(parents=True, exist_ok=True)
        analyses = s.clips(work, NETS, True)
        rows = []
        for path, analysis in tqdm(list(zip(s.paths, analyses, strict=True)), desc=f"pool4 {s.name}", mininterval=30):
            cache = folder / train._cache_name(path)
            if not cache.exists():
                y = song_samples(path)
                n_patches = analysis.per_patch.shape[1]
                segments = list(train.segment_patches(y, analysis.bounds, n_patches))
                arrays = {net: np.stack([f(batch).numpy() for batch in segments]) for net, f in fronts.items()}
                tmp = cache.with_suffix(".tmp.npz")
                np.savez(tmp, **{net: a.astype(np.float16) for net, a in arrays.items()})
                tmp.replace(cache)
            with np.load(cache) as z:
                rows.append({net: z[net] for net in NETS})
        out.append(rows)
    return out


def check_frozen(
    sets: list[train.ClipSet], work: Path, pool4, blocks: dict[str, VggLastBlock], tol: float = 0.05
) -> float:
    """The largest difference between the frozen block 5 on cached block-4 outputs and the nets'
    cached outputs (first clip of each set): a cache that was made otherwise fails the run."""
    worst = 0.0
    for si, s in enumerate(sets):
        analysis = s.clips(work, NETS, True)[0]
        ours = np.concatenate([blocks[n].outputs(_flat_rows(pool4[si][0][n])) for n in NETS], axis=1)
        theirs = analysis.per_patch.reshape(-1, analysis.per_patch.shape[-1])
        worst = max(worst, float(np.abs(ours - theirs).max() / (np.abs(theirs).max() + 1e-9)))
    if worst > tol:
        raise SystemExit(f"block 5 on the cached block-4 outputs differs from the cached net outputs by {worst:.3g}")
    return worst


def _flat_rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, *POOL4_SHAPE)


def _rows_pool4(sets, pool4, picks, cand) -> dict[str, np.ndarray]:
    """The picked clips' block-4 outputs, one row per (segment, patch), in `train._rows` order."""
    parts: dict[str, list[np.ndarray]] = {n: [] for n in NETS}
    for s, set_pool4, idx in zip(sets, pool4, picks, strict=True):
        if train.set_weight(s, cand) == 0:
            continue
        for i in idx:
            for n in NETS:
                parts[n].append(_flat_rows(set_pool4[i][n]))
    return {n: np.concatenate(v) for n, v in parts.items()}


def _affine_layer(scale: np.ndarray, shift: np.ndarray, name: str):
    """A Keras layer: a trainable per-channel scale and shift (batch norm at inference)."""
    import tensorflow as tf

    class Affine(tf.keras.layers.Layer):
        def build(self, _shape):
            self.scale = self.add_weight(shape=scale.shape, initializer=tf.constant_initializer(scale))
            self.shift = self.add_weight(shape=shift.shape, initializer=tf.constant_initializer(shift))

        def call(self, x):
            return x * self.scale + self.shift

    return Affine(name=name)


def build_model(blocks: dict[str, VggLastBlock], mean: np.ndarray, std: np.ndarray, opts: Options):
    """Both nets' block 5 (initialised from `blocks`) on their block-4 inputs, the flattened
    poolings standardised (`mean`/`std` of the frozen ones), then a quadrant softmax and a
    valence/arousal regression."""
    import tensorflow as tf

    inputs, flats = [], []
    for net in NETS:
        b = blocks[net]
        x = tf.keras.Input(POOL4_SHAPE, name=net)
        conv = tf.keras.layers.Conv2D(
            b.kernel.shape[-1],
            3,
            padding="same",
            activation="relu",
            kernel_initializer=tf.constant_initializer(b.kernel),
            bias_initializer=tf.constant_initializer(b.bias),
            name=f"{net}_conv",
        )
        y = _affine_layer(b.scale, b.shift, f"{net}_bn")(conv(x))
        y = tf.keras.layers.MaxPool2D(b.pool, b.pool)(y)
        inputs.append(x)
        flats.append(tf.keras.layers.Flatten()(y))
    h = (tf.keras.layers.Concatenate()(flats) - mean) / std
    h = tf.keras.layers.Dropout(opts.dropout)(h)
    reg = tf.keras.regularizers.l2(opts.l2)
    quadrant = tf.keras.layers.Dense(len(QUADRANTS), activation="softmax", kernel_regularizer=reg, name="q")(h)
    va = tf.keras.layers.Dense(2, kernel_regularizer=reg, name="va")(h)
    return tf.keras.Model(inputs, {"q": quadrant, "va": va})


def tuned_blocks(model, blocks: dict[str, VggLastBlock]) -> dict[str, VggLastBlock]:
    """`blocks` with the model's trained conv and batch-norm weights."""
    out = {}
    for net in NETS:
        kernel, bias = model.get_layer(f"{net}_conv").get_weights()
        scale, shift = model.get_layer(f"{net}_bn").get_weights()
        out[net] = replace(blocks[net], kernel=kernel, bias=bias, scale=scale, shift=shift)
    return out


def fine_tune(
    sets: list[train.ClipSet],
    clips: list[list[SongAnalysis]],
    pool4: list[list[dict[str, np.ndarray]]],
    picks: list[np.ndarray],
    blocks: dict[str, VggLastBlock],
    *,
    opts: Options,
    seed: int,
    checkpoint: Path,
) -> dict[str, VggLastBlock]:
    """Block 5 of both nets trained on the picked clips (or read back from `checkpoint`)."""
    import tensorflow as tf

    x = _rows_pool4(sets, pool4, picks, RECIPE)
    frozen = np.concatenate([blocks[n].flat(x[n][::7]) for n in NETS], axis=1)
    mean, std = frozen.mean(axis=0).astype(np.float32), (frozen.std(axis=0) + 1e-3).astype(np.float32)
    model = build_model(blocks, mean, std, opts)
    if checkpoint.exists():
        model.load_weights(checkpoint)
        return tuned_blocks(model, blocks)
    _, q, va, wc, wr = train._rows(sets, clips, picks, RECIPE)
    if len(q) != len(x[NETS[0]]):
        raise SystemExit(f"{len(q)} training rows but {len(x[NETS[0]])} block-4 rows: the caches disagree")
    # The classifier's rows weighted as train.fit weighs them, classes balanced as its
    # LogisticRegression(class_weight="balanced") does. Rows without a quadrant (-1) weigh 0 there.
    q = np.maximum(q, 0)
    per_class = np.bincount(q, weights=wc, minlength=len(QUADRANTS))
    wq = wc * (per_class.sum() / (len(QUADRANTS) * np.maximum(per_class, 1e-9)))[q]
    wq, wv = (wq / wq[wq > 0].mean()).astype(np.float32), (wr / wr.mean()).astype(np.float32)
    tf.keras.utils.set_random_seed(seed)
    model.compile(
        tf.keras.optimizers.Adam(opts.learning_rate),
        loss={"q": "sparse_categorical_crossentropy", "va": "mse"},
        loss_weights={"q": 1.0, "va": opts.va_weight},
    )
    data = tf.data.Dataset.from_tensor_slices((x, {"q": q, "va": va.astype(np.float32)}, {"q": wq, "va": wv}))
    data = data.shuffle(len(q), seed=seed).batch(opts.batch)
    data = data.map(lambda xs, y, w: ({n: tf.cast(xs[n], tf.float32) for n in NETS}, y, w)).prefetch(2)
    model.fit(data, epochs=opts.epochs, verbose=0)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_name(checkpoint.name.replace(".weights.h5", ".tmp.weights.h5"))
    model.save_weights(tmp)
    tmp.replace(checkpoint)
    return tuned_blocks(model, blocks)


def with_blocks(clips, pool4, blocks: dict[str, VggLastBlock], *, beside: bool = False) -> list[list[SongAnalysis]]:
    """Every clip's analysis with the nets' outputs computed by `blocks`: in place of the nets'
    own, or (`beside`) as the tuned nets after them (`HYBRID.input_nets`)."""
    out = []
    for set_clips, set_pool4 in zip(clips, pool4, strict=True):
        rows = []
        for analysis, p4 in zip(set_clips, set_pool4, strict=True):
            seg, n_patch = analysis.per_patch.shape[:2]
            parts = [blocks[n].outputs(_flat_rows(p4[n])).reshape(seg, n_patch, -1) for n in NETS]
            nets = analysis.nets
            if beside:
                parts, nets = [analysis.per_patch, *parts], (*nets, *(tuned_net(n) for n in NETS))
            rows.append(SongAnalysis(analysis.bounds, analysis.hand, np.concatenate(parts, axis=2), nets))
        out.append(rows)
    return out


def measure(
    sets: list[train.ClipSet],
    work: Path,
    pool4: list[list[dict[str, np.ndarray]]],
    blocks: dict[str, VggLastBlock],
    *,
    opts: Options,
    seeds: list[int],
    out: Path,
) -> dict[str, dict]:
    """Per seed's grouped split, the recipe cross-validated on the frozen nets, on nets
    fine-tuned per fold (checkpointed under `out`), and as HYBRID; the reports as train makes
    them (means over the seeds, with their spread), by run: frozen, fine_tuned, hybrid."""
    out.mkdir(parents=True, exist_ok=True)
    options = out / "options.json"
    if options.exists() and json.loads(options.read_text()) != asdict(opts):
        raise SystemExit(f"{out} holds checkpoints trained with {options.read_text()}; use another --out")
    options.write_text(json.dumps(asdict(opts)))
    clips = [s.clips(work, NETS, True) for s in sets]

    # Each fold's tuned blocks, kept for the second run on the same split (both runs read them).
    tuned_by_fold: dict[tuple[int, int], dict[str, VggLastBlock]] = {}

    def tuned_clips(beside: bool):
        def fold_clips_of(seed: int):
            def fold_clips(k: int, picks: list[np.ndarray]) -> list[list[SongAnalysis]]:
                if (seed, k) not in tuned_by_fold:
                    t = time.time()
                    checkpoint = out / f"seed{seed}_fold{k}.weights.h5"
                    tuned_by_fold[seed, k] = fine_tune(
                        sets, clips, pool4, picks, blocks, opts=opts, seed=seed * 100 + k, checkpoint=checkpoint
                    )
                    print(f"seed {seed} fold {k}: block 5 tuned ({time.time() - t:.0f}s)", flush=True)
                return with_blocks(clips, pool4, tuned_by_fold[seed, k], beside=beside)

            return fold_clips

        return fold_clips_of

    runs = {
        "frozen": (RECIPE, None),
        "fine_tuned": (RECIPE, tuned_clips(beside=False)),
        "hybrid": (HYBRID, tuned_clips(beside=True)),
    }
    return {
        name: train.repeated_cross_validate(sets, work, cand, seeds=seeds, fold_clips_of=hook)["attention"]
        for name, (cand, hook) in runs.items()
    }


def summary(reports: dict[str, dict], opts: Options, seeds: list[int]) -> dict:
    """What the model card shows of a run (`measure`): each run's headline figures and spread."""
    return {
        "recipe": f"{RECIPE.name}+attention",
        "hybrid_recipe": f"{HYBRID.name}+attention",
        "options": asdict(opts),
        "seeds": seeds,
        **{
            name: {f"{s}_{k}": r[s][k] for s, k in train.SPREAD_KEYS} | {"spread": r["spread"]}
            for name, r in reports.items()
        },
    }


def hybrid_model(
    sets: list[train.ClipSet],
    work: Path,
    pool4: list[list[dict[str, np.ndarray]]],
    blocks: dict[str, VggLastBlock],
    reports: dict[str, dict],
    *,
    opts: Options,
    seed: int,
    out: Path,
) -> dict:
    """HYBRID fitted on every clip, with block 5 tuned on every clip (checkpointed), written to
    `out` as the music model and its figures (`train --export` serves it): `export_ok` where its
    cross-validation beats the frozen recipe's on the same splits (`train.beats`) and the served
    model's record, it reads the demo catalog as made and it tags within the budget."""
    from app.config import MUSIC_MODEL_FILE
    from app.music.tagger import MoodTagger, write_model

    every = [np.arange(len(s.paths)) for s in sets]
    clips = [s.clips(work, NETS, True) for s in sets]
    checkpoint = out / f"seed{seed}_all.weights.h5"
    tuned = fine_tune(sets, clips, pool4, every, blocks, opts=opts, seed=seed, checkpoint=checkpoint)
    model, pool = train.fit(sets, with_blocks(clips, pool4, tuned, beside=True), every, HYBRID)
    served_blocks = {tuned_net(n): b for n, b in tuned.items()}
    patches = train.patches_per_segment(HYBRID)
    tagger = MoodTagger(
        model, "candidate", list(QUADRANTS), nets=HYBRID.input_nets, patches_per_segment=patches,
        pool_weights=pool, tuned=served_blocks,
    )  # fmt: skip
    name = f"{HYBRID.name}+attention"
    demo = train.demo_analyses(HYBRID.input_nets, patches, served_blocks)
    report = reports["hybrid"] | train.demo_report(tagger, demo)
    report["tag_s_5min"] = train.tag_seconds_5min(tagger)
    served = json.loads((MODELS_DIR / "music_metrics.json").read_text())
    recorded = served["results"].get(served["selected"])
    checks = {
        "beats the frozen recipe on the same splits": train.beats(report, reports["frozen"]),
        "reaches the served model's record": train.beats_recorded(report, recorded),
        "reads the demo catalog as made": train.reads_the_demo(report),
        f"tags a 5-minute song within {train.TAG_BUDGET_S:g} s": report["tag_s_5min"] <= train.TAG_BUDGET_S,
    }
    export_ok = all(checks.values())
    failed = [c for c, ok in checks.items() if not ok]
    version = train.model_version(name)
    write_model(
        out / MUSIC_MODEL_FILE, model, version=version, nets=HYBRID.input_nets, patches_per_segment=patches,
        pool_weights=pool, tuned=served_blocks,
    )  # fmt: skip
    # The frozen recipe as measured here, beside the hybrid (training's run timed it and tagged the demo).
    frozen_name = f"{RECIPE.name}+attention"
    kept = ("demo_quadrants", "demo_points", "tag_s_5min")
    frozen = reports["frozen"] | {k: v for k, v in served["results"].get(frozen_name, {}).items() if k in kept}
    metrics = served | {
        "version": version,
        "selected": name,
        "served_model": {"version": served.get("version"), "recorded": recorded},
        "export_ok": export_ok,
        "export_reason": (
            f"{name} {'; '.join(checks) if export_ok else 'does not: ' + '; '.join(failed)} (block 5 of "
            f"{' and '.join(NETS)} fine-tuned per fold by `python -m app.music.finetune`)"
        ),
        "cv": train.cv_description(reports["hybrid"]["seeds"]),
        "repeats": len(reports["hybrid"]["seeds"]),
        "nets": list(HYBRID.input_nets),
        "n_features": model.n_features,
        "features": served["features"]
        + f"; the classifier and the attention read {' and '.join(NETS)} with their last block fine-tuned on "
        "the mood sets (`_tuned`, in the model file), the valence/arousal regressor the nets as the wheel has them",
        "results": served["results"] | {name: report, frozen_name: frozen},
    }
    (out / "music_metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, required=True, help="musicnn-0.1.0-py3-none-any.whl (`pip download`)")
    p.add_argument("--data", default="../shared/data/music")
    p.add_argument("--lexicon", default="../shared/data/lexicon/Ratings_Warriner_et_al.csv")
    p.add_argument("--workdir", type=Path, default=Path(".cache/music_train"), help="train's feature cache")
    p.add_argument("--out", type=Path, default=Path(".cache/music_finetune"), help="checkpoints and figures")
    p.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    p.add_argument("--epochs", type=int, default=Options.epochs)
    p.add_argument("--learning-rate", type=float, default=Options.learning_rate)
    p.add_argument("--va-weight", type=float, default=Options.va_weight, help="valence/arousal loss weight")
    args = p.parse_args(argv)

    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    tf.config.threading.set_inter_op_parallelism_threads(1)  # two cores: TF's own pools only thrash
    served = json.loads((MODELS_DIR / "music_metrics.json").read_text())["selected"]
    if served not in (f"{RECIPE.name}+attention", f"{HYBRID.name}+attention"):
        raise SystemExit(f"the served model is {served}, RECIPE here is {RECIPE.name}: bring RECIPE up to date")
    root = Path(args.data)
    four_q, _ = train.load_4q(root, train.lexicon_table(Path(args.lexicon)))
    sets = [four_q, train.load_emotify(root), train.load_musifeast(root)]
    train.assign_groups(sets)
    fronts, blocks = wheel_nets(args.wheel)
    pool4 = pool4_of_clips(sets, args.workdir, fronts)
    print(f"frozen block 5 reproduces the cached net outputs to {check_frozen(sets, args.workdir, pool4, blocks):.2g}")
    opts = Options(args.epochs, args.learning_rate, va_weight=args.va_weight)
    with threadpool_limits(1):
        reports = measure(sets, args.workdir, pool4, blocks, opts=opts, seeds=args.seeds, out=args.out)
        figures = summary(reports, opts, args.seeds)
        (args.out / "finetune_metrics.json").write_text(json.dumps(figures, indent=1))
        for name in reports:
            r = figures[name]
            print(
                f"{name}: 4Q F1 {r['4q_macro_f1']:.4f}±{r['spread']['4q_macro_f1']:.4f} "
                f"v {r['4q_valence_spearman']:.3f} | Emotify {r['emotify_accuracy']:.4f} "
                f"v {r['emotify_valence_spearman']:.3f} a {r['emotify_arousal_spearman']:.3f} "
                f"| MUSIFEAST v {r['musifeast17_valence_spearman']:.3f} a {r['musifeast17_arousal_spearman']:.3f}",
                flush=True,
            )
        metrics = hybrid_model(sets, args.workdir, pool4, blocks, reports, opts=opts, seed=args.seeds[0], out=args.out)
    print(metrics["export_reason"])
    if metrics["export_ok"]:
        print(f"export with: python -m app.music.train --export {args.out}")


if __name__ == "__main__":
    main()
