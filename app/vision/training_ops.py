"""What the from-scratch trainer (`app.vision.train`) and the fine-tune (`app.vision.finetune`)
share: batch augmentation, a converted model's predictions through the serving code, and the rule
that picks the served variant. Its own module so neither trainer imports the other."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

IMG = 48


def warp(x, transforms):
    """A batch of 48×48 faces through one projective transform each (output→input, 8 numbers a
    face, as `ImageProjectiveTransformV3` takes them), bilinear, edges reflected."""
    import tensorflow as tf

    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=[IMG, IMG],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def augment_batch(x, seed_gen, erase_prob: float = 0.3):
    """Flip, rotation ±12°, zoom ±12 %, shift ±10 %, brightness/contrast, random erasing.

    One projective-transform op per batch keeps augmentation cheap on two CPU cores.
    x: float32 (B, 48, 48, 1) in [0, 1].
    """
    import tensorflow as tf

    b = tf.shape(x)[0]
    u = lambda lo, hi: seed_gen.uniform([b], lo, hi)  # noqa: E731
    flip = tf.cast(seed_gen.uniform([b]) < 0.5, tf.float32) * 2.0 - 1.0  # -1 mirrors
    angle = u(-0.21, 0.21)
    scale = u(0.88, 1.12)
    tx, ty = u(-4.8, 4.8), u(-4.8, 4.8)
    c = (IMG - 1) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # output->input mapping: p_in = A (p_out - c) + c + t, with A = R/scale, mirrored on x.
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = c - a0 * c - a1 * c + tx
    b2 = c - b0 * c - b1 * c + ty
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    x = warp(x, transforms)
    # brightness / contrast jitter
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = tf.reshape(u(0.75, 1.25), [-1, 1, 1, 1])
    bright = tf.reshape(u(-0.1, 0.1), [-1, 1, 1, 1])
    x = tf.clip_by_value((x - mean) * contrast + mean + bright, 0.0, 1.0)
    # random erasing (p = erase_prob): a rectangle of 4–25 % of the image set to noise
    area = u(0.04, 0.25)
    aspect = tf.exp(u(math.log(0.5), math.log(2.0)))
    eh = tf.clip_by_value(tf.sqrt(area * aspect) * IMG, 4.0, IMG - 1.0)
    ew = tf.clip_by_value(tf.sqrt(area / aspect) * IMG, 4.0, IMG - 1.0)
    ey = u(0.0, 1.0) * (IMG - eh)
    ex = u(0.0, 1.0) * (IMG - ew)
    grid = tf.range(IMG, dtype=tf.float32)
    in_y = (grid[None, :] >= ey[:, None]) & (grid[None, :] < (ey + eh)[:, None])
    in_x = (grid[None, :] >= ex[:, None]) & (grid[None, :] < (ex + ew)[:, None])
    do = (seed_gen.uniform([b]) < erase_prob)[:, None, None]
    mask = tf.logical_and(tf.logical_and(in_y[:, :, None], in_x[:, None, :]), do)[..., None]
    noise = seed_gen.uniform(tf.shape(x))
    return tf.where(mask, noise, x)


def litert_predict(model_bytes: bytes, x_uint8: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities from a converted model through the serving code path (flip-averaged),
    and its latency per face on one thread in ms: the lowest of five blocks' medians, so a burst
    of load from elsewhere on the machine does not decide which variant `choose_variant` serves."""
    import tempfile
    import time as _time

    from app.vision.analyzer import ExpressionClassifier

    with tempfile.NamedTemporaryFile(suffix=".tflite") as fh:
        fh.write(model_bytes)
        fh.flush()
        clf = ExpressionClassifier(Path(fh.name), num_threads=1)
        probs = np.concatenate([clf.predict(x_uint8[i : i + 256]) for i in range(0, len(x_uint8), 256)])
        one = x_uint8[:1]
        clf.predict(one)  # the first call after a batch-size change re-plans the graph
        block_medians = []
        for _ in range(5):
            times = []
            for _ in range(40):
                t0 = _time.perf_counter()
                clf.predict(one)
                times.append(_time.perf_counter() - t0)
            block_medians.append(np.median(times))
    return probs, float(min(block_medians) * 1000)


VARIANT_TOLERANCE = 0.005


def choose_variant(variants: dict[str, dict], tolerance: float = VARIANT_TOLERANCE) -> str:
    """The fastest converted model whose val accuracy is at most `tolerance` below float32's.

    A rule fixed before measuring, so the choice is about speed, not about which variant the val
    noise happens to favour."""
    floor = variants["float32"]["accuracy"] - tolerance
    return min(
        (name for name, v in variants.items() if v["accuracy"] >= floor), key=lambda name: variants[name]["ms_per_face"]
    )
