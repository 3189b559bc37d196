"""The music nets' block-5 fine-tune: measured through training's own cross-validation (its
`fold_clips` hook), checkpointed per fold so a rerun resumes instead of retraining, and a numpy
block 5 that computes what TensorFlow does.

TensorFlow runs in a fresh spawned process (see tests/test_face_training.py for why)."""

from __future__ import annotations

import importlib.util
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.emotions import QUADRANTS
from app.music import train
from app.music.features import FEATURE_NAMES, SongAnalysis
from app.music.tagger import MoodTagger
from tests.music_helpers import random_last_blocks

needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="TensorFlow (training) not installed"
)
NETS = ("MSD_vgg", "MTT_vgg")


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result(timeout=600)


def _blocks(seed: int = 0) -> dict:
    return random_last_blocks(NETS, seed)


def _sets(n_per_set: dict[str, int] | None = None):
    """Three small sets shaped like 4Q, Emotify and MUSIFEAST-17, with analyses (2 segments x 3
    patches) and block-4 outputs whose channel means carry the quadrant."""
    from app.music.finetune import NETS as FT_NETS

    counts = n_per_set or {"4q": 40, "emotify": 20, "musifeast17": 10}
    blocks = _blocks()
    rng = np.random.default_rng(1)
    sets, pool4 = [], []
    for name, n in counts.items():
        quadrant = np.arange(n) % 4 if name != "musifeast17" else np.full(n, -1)
        va = rng.uniform(-1, 1, (n, 2))
        s = train.ClipSet(
            name,
            [Path(f"{name}/clip{i}.mp3") for i in range(n)],
            quadrant,
            va,
            None,
            np.array(["g"] * n),
            rng.uniform(0, 1, n),
            [f"{name} artist {i}" for i in range(n)],
        )
        analyses, rows = [], []
        for i in range(n):
            p4 = rng.normal(0, 1, (2, 3, 11, 6, 128)).astype(np.float32)
            p4[..., max(quadrant[i], 0) * 8 : max(quadrant[i], 0) * 8 + 8] += 1.5
            outs = np.concatenate([blocks[net].outputs(p4.reshape(-1, 11, 6, 128)) for net in FT_NETS], axis=1)
            hand = rng.normal(0, 1, (2, len(FEATURE_NAMES)))
            analyses.append(SongAnalysis([(0.0, 10.0), (10.0, 20.0)], hand, outs.reshape(2, 3, -1), FT_NETS))
            rows.append({net: p4.astype(np.float16) for net in FT_NETS})
        s.loaded[(FT_NETS, True)] = analyses
        sets.append(s)
        pool4.append(rows)
    train.assign_groups(sets)
    return sets, pool4, blocks


def test_a_fold_fits_and_tags_the_clips_its_fold_clips_hook_supplies(tmp_path):
    """What `app.music.finetune` relies on: with `fold_clips`, a fold fits and tags the analyses
    it returns for that fold instead of the cached ones. Here the returned features show each
    training clip's quadrant and each held-out clip's next one, so the held-out tags come out one
    quadrant off, where the cached features tag them right."""
    sets, _, _ = _sets()
    cand = train.Candidate(0.1, 10.0, "all", 1.0, NETS, True, 1.0)
    cached = train.cross_validate(sets, tmp_path, cand, seed=7)["attention"]

    def held_out_shifted(_fold, picks):
        out = []
        for s, trained in zip(sets, picks, strict=True):
            rows = []
            for i, a in enumerate(s.clips(tmp_path, NETS, True)):
                shown = max(s.quadrant[i], 0) + (0 if i in set(trained) else 1)
                per_patch = np.zeros_like(a.per_patch)
                per_patch[..., shown % 4] = 5.0
                rows.append(SongAnalysis(a.bounds, a.hand, per_patch, a.nets))
            out.append(rows)
        return out

    hooked = train.cross_validate(sets, tmp_path, cand, seed=7, fold_clips=held_out_shifted)["attention"]
    assert cached["4q"]["accuracy"] > 0.8
    assert hooked["4q"]["accuracy"] < 0.2


def test_a_tuned_classifier_candidate_reads_the_tuned_nets_for_quadrants_and_the_wheels_for_valence(tmp_path):
    """`classifier_tuned`: the classifier is fitted on the tuned nets' outputs (and the cues), the
    regressor on the wheel's nets' (and the cues), so a change in one kind of net output moves only
    its head's predictions."""
    from app.music.embedding import tuned_net

    sets, _, _ = _sets()
    cand = train.Candidate(0.1, 10.0, "all", 1.0, NETS, True, 1.0, classifier_tuned=True)
    assert cand.input_nets == (*NETS, *(tuned_net(n) for n in NETS))
    both = [
        [SongAnalysis(a.bounds, a.hand, np.concatenate([a.per_patch, a.per_patch[..., ::-1]], axis=2), cand.input_nets)
         for a in s.clips(tmp_path, NETS, True)]
        for s in sets
    ]  # fmt: skip
    model, _ = train.fit(sets, both, [np.arange(len(s.paths)) for s in sets], cand)
    tagger = MoodTagger(model, "t", list(QUADRANTS), nets=cand.input_nets)
    clip = both[0][0]
    half = clip.per_patch.shape[-1] // 2
    base_p, base_va = tagger.segment_predictions(clip)
    rng = np.random.default_rng(5)
    for part, moves in ((slice(0, half), "va"), (slice(half, None), "p")):
        per_patch = clip.per_patch.copy()
        per_patch[..., part] += rng.normal(0, 1, per_patch[..., part].shape)
        p, va = tagger.segment_predictions(SongAnalysis(clip.bounds, clip.hand, per_patch, clip.nets))
        assert (np.abs(p - base_p).max() > 1e-3) == (moves == "p")
        assert (np.abs(va - base_va).max() > 1e-3) == (moves == "va")


def _numpy_block_against_tensorflow() -> float:
    import tensorflow as tf

    blocks = _blocks(3)
    x = np.random.default_rng(4).normal(0, 1, (5, 11, 6, 128)).astype(np.float32)
    worst = 0.0
    for b in blocks.values():
        y = tf.nn.relu(tf.nn.conv2d(x, b.kernel, 1, "SAME") + b.bias) * b.scale + b.shift
        flat = tf.reshape(tf.nn.max_pool2d(y, b.pool, b.pool, "VALID"), [len(x), -1]).numpy()
        worst = max(worst, float(np.abs(b.flat(x) - flat).max()))
    return worst


@needs_tensorflow
def test_the_numpy_block_5_computes_what_tensorflow_does():
    assert _numpy_block_against_tensorflow() < 1e-4


def _measure_twice(out: str) -> dict:
    """Run the measurement, then again with training made impossible: the second must come from
    the checkpoints alone. Also a third time with other options, which must be refused."""
    import tensorflow as tf

    from app.music import finetune

    sets, pool4, blocks = _sets()
    opts = finetune.Options(epochs=1, batch=32)
    work = Path(out) / "work"
    first = finetune.measure(sets, work, pool4, blocks, opts=opts, seeds=[7], out=Path(out))
    checkpoints = sorted(p.name for p in Path(out).glob("*.weights.h5"))
    metrics = finetune.hybrid_model(sets, work, pool4, blocks, first, opts=opts, seed=7, out=Path(out))
    served = MoodTagger.from_file(Path(out) / "music_mood.npz")

    def no_training(*_args, **_kwargs):
        raise AssertionError("retrained a fold that has a checkpoint")

    tf.keras.Model.fit = no_training
    second = finetune.measure(sets, work, pool4, blocks, opts=opts, seeds=[7], out=Path(out))
    try:
        finetune.measure(sets, work, pool4, blocks, opts=finetune.Options(epochs=2), seeds=[7], out=Path(out))
        refused = ""
    except SystemExit as exc:
        refused = str(exc)
    # The checkpoint holds a block that training moved away from the wheel's.
    model = finetune.build_model(blocks, np.zeros(512, np.float32), np.ones(512, np.float32), opts)
    model.load_weights(Path(out) / "seed7_fold0.weights.h5")
    tuned = finetune.tuned_blocks(model, blocks)
    moved = float(np.abs(tuned["MSD_vgg"].kernel - blocks["MSD_vgg"].kernel).max())
    return {
        "first": first,
        "second": second,
        "checkpoints": checkpoints,
        "refused": refused,
        "moved": moved,
        "metrics": metrics,
        "served_nets": served.nets,
        "served_tuned": sorted(served.tuned),
    }


@needs_tensorflow
def test_fine_tuning_checkpoints_each_fold_and_a_rerun_resumes_from_them(tmp_path):
    got = _in_fresh_process(_measure_twice, str(tmp_path))
    assert got["checkpoints"] == [f"seed7_fold{k}.weights.h5" for k in range(5)]
    assert got["moved"] > 0
    assert got["second"] == got["first"]
    assert set(got["first"]) == {"frozen", "fine_tuned", "hybrid"}
    assert got["first"]["fine_tuned"]["4q"]["macro_f1"] > 0 and got["first"]["hybrid"]["4q"]["macro_f1"] > 0
    assert "another --out" in got["refused"]
    # The hybrid fitted on every clip, with its tuned blocks in the model file, written beside the
    # checkpoints; random clips don't beat the served model, so it says it may not be exported.
    assert got["served_nets"] == (*NETS, "MSD_vgg_tuned", "MTT_vgg_tuned")
    assert got["served_tuned"] == ["MSD_vgg_tuned", "MTT_vgg_tuned"]
    metrics = got["metrics"]
    assert metrics["selected"].endswith("-tuned_classifier+attention") and metrics["selected"] in metrics["results"]
    assert metrics["export_ok"] is False and "does not" in metrics["export_reason"]


def test_the_model_card_says_what_fine_tuning_measured_and_what_it_lost():
    from app.tools.model_card import music_finetune_section

    keys = [f"{s}_{k}" for s, k in train.SPREAD_KEYS]
    frozen = {k: 0.6 for k in keys} | {"spread": {k: 0.01 for k in keys}}
    tuned = {k: 0.6 for k in keys} | {"4q_macro_f1": 0.65, "emotify_accuracy": 0.55, "spread": {k: 0.02 for k in keys}}
    hybrid = {k: 0.6 for k in keys} | {"4q_macro_f1": 0.63, "spread": {k: 0.02 for k in keys}}
    ft = {"recipe": "r", "hybrid_recipe": "h", "options": {"epochs": 6, "learning_rate": 3e-4, "dropout": 0.5}}
    ft |= {"seeds": [7, 8], "frozen": frozen, "fine_tuned": tuned, "hybrid": hybrid}
    card = music_finetune_section(ft, "h")
    assert "| 4Q macro-F1 | 0.6000 ± 0.0100 | 0.6500 ± 0.0200 | 0.6300 ± 0.0200 |" in card
    assert "Fine-tuned throughout, the recipe gains on 4Q macro-F1; it loses on Emotify agreement." in card
    assert "The hybrid gains on 4Q macro-F1; it loses nowhere by more than the spread." in card
    assert "The served model is the hybrid." in card
    assert "is not the hybrid" in music_finetune_section(ft, "r")
    assert music_finetune_section(None) == ""
