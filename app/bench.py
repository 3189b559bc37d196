"""`python -m app bench`: the performance figures named in the issues, as one JSON object.

Everything runs on one thread (BLAS/OpenMP pools limited, OpenCV single-threaded, LiteRT with
one thread) so the figures compare with the peers' one-core numbers. Inputs are generated:
scikit-image's astronaut photo as the camera frame, synthesized audio, a synthetic catalog
(cached under .cache/ so reruns with the same size are quick).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"


def _ms(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def astronaut_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """The astronaut photo (a smiling face) as a BGR camera frame."""
    import cv2
    from skimage import data

    return cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (width, height), interpolation=cv2.INTER_AREA)


def bench_vision(frames: int = 120) -> dict:
    from app.vision import FaceAnalyzer, MoodSmoother, draw_overlay
    from app.vision.analyzer import crop_face

    analyzer = FaceAnalyzer.load()
    frame = astronaut_frame()
    live, smoother = analyzer.stream(), MoodSmoother()
    times, detect_times = [], []
    for i in range(frames):
        canvas = frame.copy()
        t0 = time.perf_counter()
        faces = live.analyze(canvas)
        mood = smoother.update(faces, i / 15.0, (canvas.shape[1], canvas.shape[0]))
        draw_overlay(canvas, faces, mood.label if mood else None)
        times.append(time.perf_counter() - t0)
    for _ in range(frames // 3):
        canvas = frame.copy()
        t0 = time.perf_counter()
        draw_overlay(canvas, analyzer.analyze(canvas))
        detect_times.append(time.perf_counter() - t0)
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = analyzer.analyze(frame)
    crop = crop_face(gray, faces[0].box)[None] if faces else np.zeros((1, 48, 48), np.uint8)
    clf = []
    for _ in range(300):
        t0 = time.perf_counter()
        analyzer.classifier.predict(crop)
        clf.append(time.perf_counter() - t0)
    p50, p95 = _ms(times)
    return {
        "frame_ms_p50": round(p50, 2),
        "frame_ms_p95": round(p95, 2),
        "frame_ms_p50_detect_every_frame": round(_ms(detect_times)[0], 2),
        "detect_every_n_frames": analyzer.detect_every,
        "classifier_ms_per_face": round(_ms(clf)[0], 3),
        "astronaut_label": faces[0].label if faces else None,
    }


def synth_song(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A deterministic chord-and-drum loop, enough like music to exercise every feature."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for k, f in enumerate((220.0, 277.2, 329.6)):
        y += 0.2 * np.sin(2 * np.pi * f * t + k) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    beat = (t * 2.0) % 1.0
    y += 0.3 * np.exp(-beat * 30) * rng.standard_normal(t.size)
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def bench_music(repeats: int = 5) -> dict:
    import soundfile as sf

    from app.music import MoodTagger

    tagger = MoodTagger.load()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, seconds in (("music_tag_s_30s", 30.0), ("music_tag_s_5min", 300.0)):
            path = Path(tmp) / f"{key}.wav"
            sf.write(path, synth_song(seconds), 22050)
            tagger.tag(path)  # warm-up (first call loads librosa's filters)
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                tagger.tag(path)
                samples.append(time.perf_counter() - t0)
            out[key] = round(statistics.median(samples), 3)
    out["music_model_version"] = tagger.version
    return out


def _build_catalog(url: str, catalog_size: int) -> None:
    from app.catalog import db
    from app.catalog.synthetic import populate

    db.init_db(url)
    with db.session_scope(url) as s:
        populate(s, catalog_size, n_events=min(catalog_size, 1_000_000) // 10)


def bench_recommend(catalog_size: int, queries: int = 200) -> dict:
    """Recommendation latency on a synthetic SQLite catalog of `catalog_size` tracks."""
    from app.catalog import db
    from app.catalog.models import Track
    from app.emotions import FACE_LABELS, STRATEGIES
    from app.recommend import recommend
    from sqlalchemy import func, select

    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"bench_catalog_{catalog_size}.db"
    url = f"sqlite:///{path}"
    db.init_db(url)
    build_s = None
    with db.session_scope(url) as s:
        have = s.scalar(select(func.count(Track.id))) or 0
    if have != catalog_size:
        path.unlink(missing_ok=True)
        db.dispose_engines()
        t0 = time.perf_counter()
        # Built in a child process so this process's peak RSS (rss_mb) reflects serving only.
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(target=_build_catalog, args=(url, catalog_size))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"building the synthetic catalog failed (exit code {child.exitcode})")
        build_s = round(time.perf_counter() - t0, 1)
    rng = np.random.default_rng(0)
    samples = []
    with db.session_scope(url) as s:
        for i in range(queries):
            label = FACE_LABELS[int(rng.integers(len(FACE_LABELS)))]
            strategy = STRATEGIES[int(rng.integers(len(STRATEGIES)))]
            t0 = time.perf_counter()
            recs = recommend(s, label, strategy=strategy, n=10, seed=i)
            samples.append(time.perf_counter() - t0)
            assert recs, "the synthetic catalog gave no recommendation"
    p50, p95 = _ms(samples)
    return {"recommend_ms_p50": round(p50, 2), "recommend_ms_p95": round(p95, 2), "catalog_size": catalog_size, "catalog_build_s": build_s}


def run_bench(args: argparse.Namespace) -> int:
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    result: dict = {}
    with threadpool_limits(1):
        result.update(bench_vision())
        result.update(bench_music())
        result.update(bench_recommend(int(getattr(args, "catalog_size", 100_000))))
    # ru_maxrss is in KiB on Linux: the process's peak resident memory.
    result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if getattr(args, "json", False):
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:34s} {value}")
    return 0
