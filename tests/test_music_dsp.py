"""The lean analysis worker: NumPy features that match librosa's, and a worker that tags a whole
song without librosa, numba or scikit-learn, in bounded memory.

librosa is imported here, in the test process, only as the reference (`app.music.parity`).
Audio is generated (app.tools.samples).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from app.config import REPO_ROOT
from app.music import dsp, embedding, handcrafted, parity
from app.music.audio import SAMPLE_RATE, resample
from app.tools.samples import mood_clip, tone

pytest.importorskip("librosa")

CLIPS = {
    **{f"{q} music": mood_clip(q, seed=3, seconds=10.0) for q in ("Q1", "Q2", "Q3", "Q4")},
    "a steady chord": tone(6.0, SAMPLE_RATE, 220.0, ratios=(1.0, 1.25, 1.5)),
    "a tremolo tone in noise": tone(4.0, SAMPLE_RATE, 330.0, tremolo=0.8, tremolo_hz=4.0, noise=0.05, seed=2),
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_the_numpy_features_match_librosas_within_the_stated_tolerance(name):
    y = CLIPS[name]
    ours, ref = handcrafted.extract(y), parity.reference_extract(y)
    ok = parity.within_tolerance(ours, ref)
    named = zip(handcrafted.FEATURE_NAMES, ours, ref, ok, strict=True)
    outside = {n: (float(a), float(b)) for n, a, b, good in named if not good}
    assert not outside, f"outside |Δ| <= {parity.ABS_TOL} + {parity.REL_TOL}·|librosa|: {outside}"


def test_musicnns_input_is_the_same_log_mel_as_librosas():
    y16 = resample(CLIPS["Q2 music"], SAMPLE_RATE, embedding.SR)
    ours, ref = embedding.log_mel(y16), parity.reference_log_mel(y16)
    assert ours.shape == ref.shape == (1 + y16.size // embedding.FFT_HOP, embedding.N_MELS)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)  # at most a float16 rounding step apart


def test_the_rhythm_cues_follow_the_music():
    """Tempo, onsets and pulse come from the NumPy routines, so they must still track the beat."""
    fast, slow = mood_clip("Q1", seed=1, seconds=10.0), mood_clip("Q4", seed=1, seconds=10.0)
    names = handcrafted.FEATURE_NAMES
    f, s = handcrafted.extract(fast), handcrafted.extract(slow)
    assert f[names.index("onset_rate")] > s[names.index("onset_rate")]
    # A click every 22 frames (0.51 s): tempo is read off a lattice of frame lags, this is one of them.
    period = 22 * handcrafted.HOP
    clicks = np.zeros(10 * SAMPLE_RATE, np.float32)
    clicks[period // 2 :: period] = 1.0
    power = dsp.stft_magnitude(clicks, handcrafted.N_FFT, handcrafted.HOP) ** 2
    log_mel = dsp.power_to_db(dsp.mel_filterbank(float(SAMPLE_RATE), handcrafted.N_FFT, handcrafted.N_MELS) @ power)
    onset = dsp.onset_strength(log_mel, handcrafted.N_FFT, handcrafted.HOP)
    assert dsp.tempo(onset, SAMPLE_RATE, handcrafted.HOP) == pytest.approx(60 * SAMPLE_RATE / period)
    assert len(dsp.onset_detect(onset, SAMPLE_RATE, handcrafted.HOP)) == np.count_nonzero(clicks)


# What the worker must never load to tag, and the most it may hold while tagging a whole song.
FORBIDDEN = ("librosa", "numba", "llvmlite", "sklearn")
WORKER_RSS_LIMIT_MB = 300

_WORKER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from functools import partial

    import numpy as np

    from app.config import MODELS_DIR, MUSIC_MODEL_FILE
    from app.library.executor import ANALYSIS_POOL, AnalysisJob
    from app.library.ingest import analyse_file

    tagger = None
    if not (MODELS_DIR / MUSIC_MODEL_FILE).is_file():  # the model is being retrained: same path, stand-in weights
        from app.emotions import QUADRANTS
        from app.music.features import CUE_FEATURES
        from app.music.tagger import LinearMoodModel, MoodTagger

        n = 250 + len(CUE_FEATURES)
        rng = np.random.default_rng(0)
        weights = {
            "mean": np.zeros(n), "scale": np.ones(n), "class_coef": rng.normal(0, 0.01, (4, n)),
            "class_intercept": np.zeros(4), "va_coef": rng.normal(0, 0.01, (2, n)), "va_intercept": np.zeros(2),
        }
        tagger = MoodTagger(LinearMoodModel(weights), "stand-in", list(QUADRANTS))
    job = AnalysisJob(path=sys.argv[1], source="song.wav", name_hint="song.wav", sha256="0" * 64, max_duration_s=3600)
    with ANALYSIS_POOL.lease(1) as worker:
        result = worker.run(partial(analyse_file, job, tagger))
        modules = worker.run(partial(eval, "sorted(__import__('sys').modules)"))
        status = worker.run(partial(eval, "open('/proc/self/status').read()"))
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({
        "timeline": [[p.start_s, p.end_s] for p in result.mood.timeline],
        "modules": sorted({m.split(".")[0] for m in modules}),
        "peak_mb": peak_kb / 1024,
    }))
    """
)


def test_a_worker_tags_a_whole_song_without_librosa_numba_or_scikit_learn_in_bounded_memory(tmp_path):
    """A five-minute song through a real analysis worker: tagged from start to end, with none of
    the heavy libraries loaded and the worker's peak memory under the limit."""
    song = tmp_path / "song.wav"
    sf.write(song, np.tile(mood_clip("Q2", seed=0, seconds=20.0), 15), SAMPLE_RATE, subtype="PCM_16")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_SCRIPT, str(song)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    timeline = report["timeline"]
    assert len(timeline) == 30 and timeline[0][0] == 0.0 and timeline[-1][1] == pytest.approx(300.0, abs=0.1)
    assert not set(FORBIDDEN) & set(report["modules"]), report["modules"]
    assert report["peak_mb"] <= WORKER_RSS_LIMIT_MB


_PATCHES_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    from app.music.embedding import N_MELS, PATCH_FRAMES, MusicnnEmbedder

    def peak_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    embedder = MusicnnEmbedder.load()
    patches = np.random.default_rng(0).random((12, PATCH_FRAMES, N_MELS), np.float32)
    embedder.run_patches(patches[:1])
    one = peak_mb()
    out = embedder.run_patches(patches)
    print(json.dumps({"rows": len(out["taggram"]), "growth_mb": peak_mb() - one}))
    """
)


def test_embedding_many_patches_needs_no_more_memory_than_one():
    """musicnn's interpreter keeps the buffers of the largest batch it ever ran, so patches go
    one invoke at a time: twelve patches must not grow the process by more than noise."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _PATCHES_SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"] == 12
    assert report["growth_mb"] < 30
