"""`python -m app bench`: the performance figures named in the issues, as one JSON object.

Everything runs on one thread (BLAS/OpenMP pools limited, OpenCV single-threaded, LiteRT with
one thread) so the figures compare with the peers' one-core numbers. Inputs are generated:
scikit-image's astronaut photo as the camera frame, synthesized audio, a synthetic catalog
(cached under .cache/ so reruns with the same size are quick; `--db-url` runs the catalog
figures on MySQL/MariaDB instead).

Memory: `rss_mb` is the peak RSS of a fresh app-like process after a live session and a bulk
import (`bench_app_process`), the figure that decides whether the app fits a small host;
`analysis_worker_rss_mb` is one analysis worker's peak (they exit when idle), and
`bench_process_rss_mb` this process's peak with every model loaded in it at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from app.config import CACHE_DIR
from app.tools.evaluation import print_figures
from app.tools.samples import SR, astronaut_frame, mood_clip


def _ms(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


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
    # Detect + classify + overlay on every frame, however the stream is configured.
    for _ in range(frames):
        canvas = frame.copy()
        t0 = time.perf_counter()
        draw_overlay(canvas, analyzer.analyze(canvas))
        detect_times.append(time.perf_counter() - t0)
    detect_only = []
    for _ in range(frames // 2):
        t0 = time.perf_counter()
        analyzer.detect(frame)
        detect_only.append(time.perf_counter() - t0)
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    dets = analyzer.detect(frame)
    faces = analyzer.analyze(frame, boxes=dets)
    crop = crop_face(gray, dets[0].box, dets[0].eyes)[None] if dets else np.zeros((1, 48, 48), np.uint8)
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
        "detect_ms_p50": round(_ms(detect_only)[0], 2),
        "detector": getattr(analyzer.detector, "name", type(analyzer.detector).__name__),
        "classifier_ms_per_face": round(_ms(clf)[0], 3),
        "astronaut_label": faces[0].label if faces else None,
    }


def bench_music(repeats: int = 5) -> dict:
    import soundfile as sf

    from app.music import MoodTagger

    tagger = MoodTagger.load()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, seconds in (("music_tag_s_30s", 30.0), ("music_tag_s_5min", 300.0)):
            path = Path(tmp) / f"{key}.wav"
            sf.write(path, mood_clip("Q1", seconds=seconds), SR)
            tagger.tag(path)  # warm-up (first call loads librosa's filters)
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                tagger.tag(path)
                samples.append(time.perf_counter() - t0)
            out[key] = round(statistics.median(samples), 3)
    out["music_model_version"] = tagger.version
    return out


def _build_catalog(url: str, catalog_size: int, events: int) -> None:
    from app.catalog import db
    from app.catalog.models import Base
    from app.catalog.synthetic import populate

    engine = db.init_db(url)
    Base.metadata.drop_all(engine)  # a stale or partial bench catalog goes entirely
    Base.metadata.create_all(engine)
    with db.session_scope(url) as s:
        populate(s, catalog_size, n_events=events)


def _catalog_url(db_url: str | None, catalog_size: int, events: int) -> str:
    if db_url:
        return db_url
    CACHE_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{CACHE_DIR / f'bench_catalog_{catalog_size}_{events}.db'}"


def ensure_catalog(url: str, catalog_size: int, events: int) -> float | None:
    """Build the synthetic catalog unless `url` already holds exactly this one; the build time
    in seconds, or None when it was there."""
    from sqlalchemy import func, select

    from app.catalog import db
    from app.catalog.models import ListeningEvent, Track

    db.init_db(url)
    with db.session_scope(url) as s:
        have = (s.scalar(select(func.count(Track.id))) or 0, s.scalar(select(func.count(ListeningEvent.id))) or 0)
    if have == (catalog_size, events):
        return None
    db.dispose_engines()
    t0 = time.perf_counter()
    # Built in a child process so this process's peak RSS (rss_mb) reflects serving only.
    child = multiprocessing.get_context("spawn").Process(target=_build_catalog, args=(url, catalog_size, events))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"building the synthetic catalog failed (exit code {child.exitcode})")
    return round(time.perf_counter() - t0, 1)


def bench_recommend(url: str, queries: int = 200) -> dict:
    """Recommendation latency on the catalog at `url`."""
    from app.catalog import db
    from app.emotions import FACE_LABELS, STRATEGIES
    from app.recommend import recommend

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
    return {"recommend_ms_p50": round(p50, 2), "recommend_ms_p95": round(p95, 2)}


PAGE_MODULES = ("app.ui.mood_page", "app.ui.curate_page", "app.ui.analytics_page", "streamlit_webrtc")

ANALYTICS_QUERIES = (
    "date_bounds",
    "summary",
    "tracks_per_quadrant",
    "tagged_by_source",
    "va_scatter",
    "emotions_over_time",
    "strategies_used",
    "feedback_by_quadrant",
    "feedback_by_strategy",
    "most_liked_tracks",
)


def bench_analytics(url: str, explain: bool = False) -> dict:
    """Every query of the analytics page, over the whole date range (the page's default), run
    three times: `analytics_ms` is the median (warm: a rerun of the page), `analytics_first_ms`
    the first run (the page's first visit, database pages perhaps not in memory yet). With
    `explain`, the database's plan for each SQL statement goes to stderr (EXPLAIN QUERY PLAN on
    SQLite, EXPLAIN on MySQL/MariaDB)."""
    import sys

    from sqlalchemy import event

    from app import analytics
    from app.catalog import db

    engine = db.get_engine(url)
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    warm, first = {}, {}
    with db.session_scope(url) as s:
        bounds = analytics.date_bounds(s)
        for name in ANALYTICS_QUERIES:
            fn = getattr(analytics, name)
            args = () if name == "date_bounds" else bounds
            runs = []
            for run in range(3):
                if explain and run == 0:
                    event.listen(engine, "before_cursor_execute", record)
                t0 = time.perf_counter()
                fn(s, *args)
                runs.append(time.perf_counter() - t0)
                if explain and run == 0:
                    event.remove(engine, "before_cursor_execute", record)
                    for statement, parameters in statements:
                        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
                        plan = s.connection().exec_driver_sql(prefix + statement, parameters).all()
                        print(
                            f"-- {name}\n{statement}\n"
                            + "\n".join("   " + " | ".join(str(c) for c in row) for row in plan),
                            file=sys.stderr,
                        )
                    statements.clear()
            warm[name] = round(statistics.median(runs) * 1000, 1)
            first[name] = round(runs[0] * 1000, 1)
    return {
        "analytics_ms": warm,
        "analytics_ms_max": max(warm.values()),
        "analytics_first_ms": first,
        "analytics_first_ms_max": max(first.values()),
    }


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over from the parent into a spawned child, VmHWM starts afresh with the child's
    own address space."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _app_session(url: str, clips: Path, report) -> None:
    """What the Streamlit server process goes through, in a fresh process: the page libraries,
    a live session (face analysis, smoothing and overlay on 300 frames, recommendations, the
    analytics queries), then a bulk import of the folder `clips` through the analysis workers.
    Sends its figures through `report` (a Connection)."""
    import importlib
    import os

    # What the server process holds: the page modules (Streamlit, plotly) and the camera
    # component they load on first render. By name, as the server loads them: tooling may load
    # the UI, but only app/ui imports Streamlit in code.
    for module in PAGE_MODULES:
        importlib.import_module(module)

    from app import analytics, library
    from app.catalog import db
    from app.config import get_settings
    from app.recommend import recommend
    from app.vision import FaceAnalyzer, MoodSmoother, draw_overlay

    analyzer = FaceAnalyzer.load()
    live, smoother, frame = analyzer.stream(), MoodSmoother(), astronaut_frame()
    mood = None
    for i in range(300):
        canvas = frame.copy()
        faces = live.analyze(canvas)
        mood = smoother.update(faces, i / 5.0, (canvas.shape[1], canvas.shape[0]))
        draw_overlay(canvas, faces, mood.label if mood else None)
    with db.session_scope(url) as s:
        for i in range(20):
            recommend(s, mood.label if mood else "neutral", strategy="match", n=10, seed=i)
        bounds = analytics.date_bounds(s)
        for name in ANALYTICS_QUERIES[1:]:
            getattr(analytics, name)(s, *bounds)
    db.dispose_engines()
    after_live = _peak_rss_mb()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scratch = f"sqlite:///{root / 'import.db'}"
        workers = os.cpu_count() or 2
        settings = dataclasses.replace(
            get_settings(), database_url=scratch, media_dir=root / "media", analysis_workers=workers
        )
        db.init_db(scratch)
        t0 = time.perf_counter()
        summary = library.ingest_paths([clips], settings=settings)
        seconds = time.perf_counter() - t0
        with library.ANALYSIS_POOL.lease(workers) as pool:  # the import's warm workers
            worker_rss = pool.run(_peak_rss_mb)
        library.ANALYSIS_POOL.shutdown_if_idle()
        db.dispose_engines()
    if summary.failed:
        raise RuntimeError(f"bulk import failed: {summary.failed[0].message}")
    report.send(
        {
            "rss_mb": _peak_rss_mb(),
            "rss_mb_after_live_session": after_live,
            "analysis_worker_rss_mb": worker_rss,
            "import_tracks_per_s": round(summary.imported / seconds, 2),
            "import_files": summary.imported,
            "import_workers": workers,
        }
    )


def bench_app_process(url: str, import_files: int = 100) -> dict:
    """Peak memory of an app-like process after a live session and a bulk import, and the
    import's throughput (`_app_session`); run in a child so nothing measured here counts."""
    from app.tools.demo import write_demo_wav

    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp)
        for i in range(import_files):  # 30 s clips, made here so the app process doesn't count them
            write_demo_wav(clips / f"clip{i}.wav", ("Q1", "Q2", "Q3", "Q4")[i % 4], 100 + i, f"Bench {i}", "Bench")
        child = ctx.Process(target=_app_session, args=(url, clips, send))
        child.start()
        figures = receive.recv() if receive.poll(1800) else None
        child.join()
    if child.exitcode != 0 or figures is None:
        raise RuntimeError(f"the app-process benchmark failed (exit code {child.exitcode})")
    return figures


def run_bench(args: argparse.Namespace) -> int:
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    result: dict = {}
    with threadpool_limits(1):
        result.update(bench_vision())
        result.update(bench_music())
        size = int(getattr(args, "catalog_size", 100_000))
        events = getattr(args, "events", None)
        events = size if events is None else int(events)
        url = _catalog_url(getattr(args, "db_url", None), size, events)
        result.update(
            {"catalog_size": size, "listening_events": events, "catalog_build_s": ensure_catalog(url, size, events)}
        )
        result.update(bench_recommend(url))
        result.update(bench_analytics(url, explain=getattr(args, "explain", False)))
    result["bench_process_rss_mb"] = _peak_rss_mb()  # models loaded side by side, music in-process
    result.update(bench_app_process(url, int(getattr(args, "import_files", 100))))
    return print_figures(result, getattr(args, "json", False))
