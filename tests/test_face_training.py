"""The face-model training helpers that change what the app serves: the prior correction folded
into the exported model, weight averaging and the BatchNorm statistics it needs, several nets
served as one averaged graph.

The Keras checks run in a fresh spawned process: TensorFlow loaded into the test process makes a
later `import aiortc` (the mood page's streamlit-webrtc) segfault, measured here
(`python -c "import tensorflow; import aiortc"` exits 139). The app never imports TensorFlow.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from app.emotions import FACE_LABELS
from app.vision.train import class_weights, prior_corrected, update_running_mean
from app.vision.training_ops import choose_variant

# find_spec, not importorskip: that would import TensorFlow into this process.
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="TensorFlow (training) not installed"
)


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result(timeout=300)


def _labels_like_fer() -> np.ndarray:
    # FER2013-like imbalance: disgust rare, happy common.
    counts = [3995, 436, 4097, 7215, 4965, 4830, 3171]
    return np.repeat(np.arange(len(FACE_LABELS)), counts)


def test_class_weights_favour_rare_classes_and_keep_the_mean_sample_weight_at_one():
    y = _labels_like_fer()
    cw = class_weights(y)
    assert cw[FACE_LABELS.index("disgust")] > cw[FACE_LABELS.index("happy")] * 3
    assert cw[y].mean() == pytest.approx(1.0)


def test_prior_correction_recovers_the_unweighted_posterior():
    # A net trained with loss weights w learns q ∝ w·p; the correction must give p back.
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(7), size=50)
    cw = class_weights(_labels_like_fer())
    q = p * cw
    q /= q.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(prior_corrected(q, cw), p, rtol=1e-9)


def _softmax_before_and_after_folding(cw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    from app.vision.train import fold_prior_correction

    inp = tf.keras.Input((4,))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(7, name="logits")(inp))
    x = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    before = tf.nn.softmax(model(x)).numpy()
    fold_prior_correction(model, cw)
    return before, tf.nn.softmax(model(x)).numpy()


@needs_tensorflow
def test_folded_bias_serves_the_prior_corrected_softmax():
    cw = class_weights(_labels_like_fer())
    before, after = _in_fresh_process(_softmax_before_and_after_folding, cw)
    np.testing.assert_allclose(after, prior_corrected(before, cw), atol=1e-5)


def test_running_mean_of_weights_survives_on_disk(tmp_path):
    path = tmp_path / "avg.npz"
    sets = [[np.full((2, 2), v), np.array([v * 10.0])] for v in (1.0, 2.0, 6.0)]
    n = 0
    for weights in sets:
        n = update_running_mean(path, weights, n)
    with np.load(path) as f:
        np.testing.assert_allclose(f["w0"], np.full((2, 2), 3.0))
        np.testing.assert_allclose(f["w1"], [30.0])
    assert n == 3


def _bn_statistics_after_recompute(x: np.ndarray) -> tuple[float, float, float]:
    import tensorflow as tf

    from app.vision.train import recompute_bn_statistics

    inp = tf.keras.Input((48, 48, 1))
    model = tf.keras.Model(inp, tf.keras.layers.BatchNormalization()(inp))
    recompute_bn_statistics(model, x, batch=128)
    bn = model.layers[-1]
    return float(bn.moving_mean.numpy()[0]), float(bn.moving_variance.numpy()[0]), float(bn.momentum)


@needs_tensorflow
def test_batchnorm_statistics_are_recomputed_from_the_images():
    x = np.random.default_rng(2).integers(40, 200, size=(600, 48, 48), dtype=np.uint8)
    mean, variance, momentum = _in_fresh_process(_bn_statistics_after_recompute, x)
    pixels = x.astype(np.float64) / 255.0
    assert mean == pytest.approx(pixels.mean(), abs=1e-4)
    assert variance == pytest.approx(pixels.var(), rel=0.02)
    assert momentum == pytest.approx(0.99)  # restored for any later training


def _narrow_and_widened_logits(noises: tuple[float, ...]) -> tuple[np.ndarray, list[np.ndarray], int, int]:
    import tensorflow as tf

    from app.vision.train import build_model, widen_weights

    tf.keras.utils.set_random_seed(3)
    narrow = build_model(width=4)
    # Give BatchNorm non-trivial statistics so copying them is actually checked.
    for layer in narrow.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            rng = np.random.default_rng(len(g))
            layer.set_weights(
                [
                    g * rng.uniform(0.5, 2, g.shape),
                    b + rng.normal(0, 0.3, b.shape),
                    m + rng.normal(0, 0.3, m.shape),
                    v * rng.uniform(0.5, 2, v.shape),
                ]
            )
    x = np.random.default_rng(4).uniform(0, 1, size=(16, 48, 48, 1)).astype(np.float32)
    wide_logits = []
    for noise in noises:
        wide = build_model(widths="4,12,16,48")
        widen_weights(narrow.get_weights(), wide, noise=noise)
        wide_logits.append(wide(x, training=False).numpy())
    return narrow(x, training=False).numpy(), wide_logits, narrow.count_params(), wide.count_params()


@needs_tensorflow
def test_widened_net_starts_out_predicting_what_the_narrow_one_did():
    narrow, (wide, noisy), n_narrow, n_wide = _in_fresh_process(_narrow_and_widened_logits, (0.0, 0.05))
    assert n_wide > 1.5 * n_narrow
    np.testing.assert_allclose(wide, narrow, atol=1e-4)
    # The symmetry-breaking noise moves the logits, a little.
    assert 0 < np.abs(noisy - narrow).max() < 0.5 * np.abs(narrow).max()


def _members_and_ensemble_probs(tmp: str, cw: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    import tensorflow as tf

    from app.vision.train import build_model, serving_model

    # Two runs' best.keras as export loads them: saved and loaded back, so they share a name.
    paths = []
    for seed in (1, 2):
        tf.keras.utils.set_random_seed(seed)
        path = f"{tmp}/run{seed}.keras"
        build_model(width=4).save(path)
        paths.append(path)
    members = [tf.keras.models.load_model(path) for path in paths]
    x = np.random.default_rng(3).uniform(size=(16, 48, 48, 1)).astype(np.float32)
    alone = [tf.nn.softmax(m(x, training=False)).numpy() for m in members]
    return alone, serving_model(members, cw)(x, training=False).numpy()


@needs_tensorflow
def test_an_ensemble_serves_the_mean_of_its_members_prior_corrected_probabilities(tmp_path):
    cw = class_weights(_labels_like_fer())
    alone, served = _in_fresh_process(_members_and_ensemble_probs, str(tmp_path), cw)
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # two different nets, or the mean proves nothing
    np.testing.assert_allclose(served, (prior_corrected(alone[0], cw) + prior_corrected(alone[1], cw)) / 2, atol=1e-5)


def test_stage_widths_double_from_the_base_or_follow_the_list():
    from app.vision.train import stage_widths

    assert stage_widths(32) == (32, 64, 128, 256)
    assert stage_widths(32, "32,64,128,384") == (32, 64, 128, 384)
    with pytest.raises(ValueError, match="four positive"):
        stage_widths(32, "32,64")
    with pytest.raises(ValueError, match="four positive"):
        stage_widths(32, "32,64,wide,384")


def test_export_serves_the_fastest_variant_within_half_a_point_of_float32():
    def v(acc: float, ms: float) -> dict:
        return {"accuracy": acc, "ms_per_face": ms}

    # Quantized variants that keep the accuracy: the fastest wins.
    assert choose_variant({"float32": v(0.701, 4.9), "int8": v(0.699, 1.3), "dynamic": v(0.699, 0.9)}) == "dynamic"
    # The fastest loses more than half a point: the next fastest that doesn't.
    assert choose_variant({"float32": v(0.701, 4.9), "int8": v(0.699, 1.3), "dynamic": v(0.690, 0.9)}) == "int8"
    # Every quantized variant loses too much: float32 is served.
    assert choose_variant({"float32": v(0.701, 4.9), "int8": v(0.680, 1.3), "dynamic": v(0.690, 0.9)}) == "float32"
