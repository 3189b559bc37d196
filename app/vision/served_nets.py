"""The served pair of face nets, read back out of `models/face_expression.tflite` as Keras nets.

No checkpoint of the nets that were exported survived, so a retrain would start from scratch.
The exported graph still holds every weight: each member is eight 3×3 convolutions (ReLU fused,
max-pooled after every second one), a global average, a 256-unit hidden layer and the logits,
the two members' softmaxes averaged. The converter folded each BatchNorm into the layer before it
(so every conv and the hidden layer has a bias) and stored the larger kernels as per-channel int8
("dynamic range": float activations). `read_served_members` dequantizes them (int8 × scale) into
`build_folded_member`, the same layout with the BatchNorms folded: a float net that computes what
the served one does, up to the run-time quantization of activations.

`python -m app.vision.served_nets` writes the members' weights to `models/checkpoints/` with a
json of where they came from (options, seed, data hash, library versions) and checks that the
rebuilt pair reproduces the served probabilities; `app.vision.finetune` starts from them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import platform
from pathlib import Path

import numpy as np

from app.config import FACE_MODEL_FILE, MODELS_DIR
from app.emotions import FACE_LABELS

IMG = 48
STAGE_WIDTHS = (32, 64, 128, 256)
HIDDEN = 256
CHECKPOINT_DIR = MODELS_DIR / "checkpoints"
MEMBER_FILE = "face_member_{}.weights.h5"
CHECKPOINT_INFO = "face_checkpoints.json"
# What the rebuilt float pair may differ from the served LiteRT model by, per probability: the
# served model quantizes each layer's input activations to int8 at run time, the rebuild does not.
REPRODUCTION_TOLERANCE = 0.02


def build_folded_member(
    name: str = "member",
    dropout: float = 0.0,
    spatial_dropout: float = 0.0,
    widths: tuple[int, ...] = STAGE_WIDTHS,
    hidden: int = HIDDEN,
):
    """One served net with its BatchNorms folded: 48×48×1 crop in [0, 1] → 7 logits.

    The dropout layers hold no weights (the served graph has none); a fine-tune sets their rates.
    `widths`/`hidden` other than the served ones are for tests' tiny nets. Plain Keras 3, so the
    GPU script (`app.vision.gpu_finetune`) can build it on JAX where TensorFlow is absent."""
    import keras
    from keras import layers

    inp = layers.Input((IMG, IMG, 1), name="face")
    x = inp
    for stage, ch in enumerate(widths):
        for i in range(2):
            x = layers.Conv2D(ch, 3, padding="same", activation="relu", name=f"conv{stage + 1}_{i + 1}")(x)
        if stage < len(widths) - 1:
            x = layers.MaxPool2D(name=f"pool{stage + 1}")(x)
            if spatial_dropout:
                x = layers.SpatialDropout2D(spatial_dropout * (stage + 1))(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    out = layers.Dense(len(FACE_LABELS), name="logits")(x)
    return keras.Model(inp, out, name=name)


def pair_model(members: list):
    """The served graph: each member's softmax, averaged (one LiteRT call per batch)."""
    import keras

    crop = keras.Input((IMG, IMG, 1), name="face")
    probs = [keras.layers.Softmax(name=f"softmax_{i}")(m(crop)) for i, m in enumerate(members)]
    out = probs[0] if len(probs) == 1 else keras.layers.Average(name="average")(probs)
    return keras.Model(crop, out, name="moodtune_face_pair")


def _dequantized(interp, index: int) -> np.ndarray:
    """A constant tensor as float32: int8 values times their per-channel scale (zero point 0)."""
    detail = interp._get_tensor_details(index, 0)  # noqa: SLF001 - the public list has no per-index call
    values = interp.get_tensor(index)
    q = detail["quantization_parameters"]
    if values.dtype == np.int8:
        shape = [1] * values.ndim
        shape[q["quantized_dimension"]] = -1
        values = (values.astype(np.float32) - q["zero_points"].reshape(shape)) * q["scales"].reshape(shape)
    return values.astype(np.float32)


def read_served_members(model_path: Path) -> list[list[np.ndarray]]:
    """Each member's weights in `build_folded_member`'s order (kernel, bias per layer), read from
    the exported graph's CONV_2D and FULLY_CONNECTED ops; a SOFTMAX ends a member."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model_path))
    interp.allocate_tensors()
    members, current = [], []
    for op in interp._get_ops_details():  # noqa: SLF001 - LiteRT exposes the op list only here
        name, inputs = op["op_name"], list(op["inputs"])
        if name == "CONV_2D":  # [out, kh, kw, in] → Keras [kh, kw, in, out]
            current += [_dequantized(interp, inputs[1]).transpose(1, 2, 3, 0), _dequantized(interp, inputs[2])]
        elif name == "FULLY_CONNECTED":  # [out, in] → [in, out]
            current += [_dequantized(interp, inputs[1]).T, _dequantized(interp, inputs[2])]
        elif name == "SOFTMAX":
            members.append(current)
            current = []
    expected = 2 * (2 * len(STAGE_WIDTHS) + 2)
    if not members or any(len(m) != expected for m in members):
        raise ValueError(f"{model_path} is not a pair of the served layout ({[len(m) for m in members]} weights)")
    return members


def rebuild_served(model_path: Path = MODELS_DIR / FACE_MODEL_FILE) -> list:
    """Keras members computing what the served model does."""
    members = []
    for i, weights in enumerate(read_served_members(model_path)):
        member = build_folded_member(name=f"member_{i}")
        member.set_weights(weights)
        members.append(member)
    return members


def load_members(checkpoint_dir: Path = CHECKPOINT_DIR, dropout: float = 0.0, spatial_dropout: float = 0.0) -> list:
    """The committed members' weights (`models/checkpoints/face_member_*.weights.h5`)."""
    paths = sorted(checkpoint_dir.glob(MEMBER_FILE.format("*")))
    if not paths:
        raise FileNotFoundError(
            f"no {MEMBER_FILE.format('*')} under {checkpoint_dir}: run python -m app.vision.served_nets"
        )
    members = []
    for i, path in enumerate(paths):
        member = build_folded_member(name=f"member_{i}", dropout=dropout, spatial_dropout=spatial_dropout)
        member.load_weights(path)
        members.append(member)
    return members


def save_members(members: list, checkpoint_dir: Path, info: dict) -> None:
    """Each member's Keras weights and one json of how they were made."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    for i, member in enumerate(members):
        member.save_weights(checkpoint_dir / MEMBER_FILE.format(i))
    (checkpoint_dir / CHECKPOINT_INFO).write_text(json.dumps(info, indent=1) + "\n")


def library_versions() -> dict[str, str]:
    """The versions a run depended on (the Keras backend's included; absent ones left out)."""
    from importlib.metadata import PackageNotFoundError, version

    import keras

    out = {"python": platform.python_version(), "keras_backend": keras.backend.backend()}
    for package in ("keras", "tensorflow", "jax", "numpy", "ai-edge-litert"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served_probabilities(crops: np.ndarray, model_path: Path = MODELS_DIR / FACE_MODEL_FILE) -> np.ndarray:
    """The app's own reading of uint8 crops (flip-averaged, one thread)."""
    from app.vision.analyzer import ExpressionClassifier

    clf = ExpressionClassifier(model_path, num_threads=1)
    return np.concatenate([clf.predict(crops[i : i + 256]) for i in range(0, len(crops), 256)])


def keras_probabilities(model, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """A pair model's probabilities for uint8 crops, flip-averaged as the app does."""
    x = crops.astype(np.float32)[..., None] / 255.0
    out = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        out.append((np.asarray(model(xb, training=False)) + np.asarray(model(xb[:, :, ::-1], training=False))) / 2)
    return np.concatenate(out)


def generated_crops(n: int, seed: int = 0) -> np.ndarray:
    """Face-like 48×48 crops drawn from nothing: a lit oval, eyes, brows and a mouth of random
    shape, plus noise; enough to drive every layer of the nets through varied activations."""
    import cv2

    rng = np.random.default_rng(seed)
    crops = np.empty((n, IMG, IMG), np.uint8)
    for k in range(n):
        img = np.full((IMG, IMG), rng.integers(20, 90), np.float32)
        cv2.ellipse(img, (24 + int(rng.integers(-3, 4)), 26), (15, 20), 0, 0, 360, float(rng.integers(120, 220)), -1)
        for ex in (17, 31):
            cv2.circle(img, (ex, 21), int(rng.integers(2, 4)), 30.0, -1)
            tilt = int(rng.integers(-3, 4))
            cv2.line(img, (ex - 4, 16 + tilt), (ex + 4, 16 - tilt), 40.0, 1)
        open_ = int(rng.integers(1, 7))
        cv2.ellipse(img, (24, 36), (int(rng.integers(4, 9)), open_), 0, 0, 360, 50.0, -1 if open_ > 3 else 2)
        img += rng.normal(0, 8, img.shape)
        crops[k] = np.clip(img, 0, 255).astype(np.uint8)
    return crops


def reproduction_gap(members: list, crops: np.ndarray, model_path: Path = MODELS_DIR / FACE_MODEL_FILE) -> dict:
    """How far the rebuilt pair's probabilities are from the served model's on `crops`."""
    keras_p = keras_probabilities(pair_model(members), crops)
    served_p = served_probabilities(crops, model_path)
    return {
        "n": len(crops),
        "max_abs_prob_diff": float(np.abs(keras_p - served_p).max()),
        "mean_abs_prob_diff": float(np.abs(keras_p - served_p).mean()),
        "same_label": float((keras_p.argmax(1) == served_p.argmax(1)).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODELS_DIR / FACE_MODEL_FILE))
    parser.add_argument("--out", default=str(CHECKPOINT_DIR))
    parser.add_argument("--data", help="fer2013 folder: also measure the gap on its de-duplicated val faces")
    args = parser.parse_args(argv)
    members = rebuild_served(Path(args.model))
    gap = {"generated_crops": reproduction_gap(members, generated_crops(64), Path(args.model))}
    if args.data:
        from app.vision.ferplus import load_fer_split

        gap["fer2013_val_dedup"] = reproduction_gap(members, load_fer_split(Path(args.data), "val").x, Path(args.model))
    metrics = json.loads((MODELS_DIR / "face_metrics.json").read_text())
    info = {
        "source": "dequantized from the served models/face_expression.tflite (BatchNorm folded into conv/dense biases)",
        "source_sha256": file_sha256(Path(args.model)),
        "members": [
            {k: m.get(k) for k in ("workdir", "options", "seed", "epochs_trained", "best_epoch", "warm_start")}
            for m in metrics.get("members", [])
        ],
        "prior_correction": metrics.get("prior_correction"),
        "trained_on": "FER2013 Training usage, FER2013 labels (see members' options)",
        "reproduction": gap,
        "tolerance": REPRODUCTION_TOLERANCE,
        "libraries": library_versions(),
    }
    save_members(members, Path(args.out), info)
    print(json.dumps(gap, indent=1))


if __name__ == "__main__":
    main()
