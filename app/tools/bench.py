"""`python -m app bench`: the performance figures named in the issues, as one JSON object.

Everything runs on one thread (BLAS/OpenMP pools limited, OpenCV single-threaded, LiteRT with
one thread) so the figures compare with the peers' one-core numbers. Inputs are generated:
scikit-image's astronaut photo as the camera frame, synthesized audio, a synthetic catalog
(cached under .cache/ so reruns with the same size are quick; `--db-url` runs the catalog
figures on MySQL/MariaDB instead).

Recommendations, two query mixes: `recommend_ms_*` asks for a face label's target on the plain
catalog (tracks in four quadrant clusters), as the command line does; `recommend_realistic_ms_*`
asks as the Mood page does (`bench_recommend_realistic`: a mood anywhere on the plane, its
steering path, a session that has heard 200 tracks) on a catalog half uniform, half clustered.
`--only recommend` measures just these (and `--merge models/bench.json` updates only them).

Memory: `rss_mb` is the peak RSS of a fresh app-like process after a live session and a bulk
import (`bench_app_process`), the figure that decides whether the app fits a small host;
`analysis_worker_rss_mb` is one analysis worker's peak (they exit when idle), tagging a whole
five-minute song (44.1 kHz stereo, as a CD rip comes) included, `app_plus_worker_rss_mb` the two
together (the app and one worker during an import), and `bench_process_rss_mb` this process's
peak with every model loaded in it at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.config import CACHE_DIR
from app.tools.evaluation import print_figures
from app.tools.samples import SR, astronaut_frame, mood_clip, write_long_song

if TYPE_CHECKING:
    from app.music import MoodTagger


def _ms(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def bench_vision(frames: int = 120) -> dict:
    from app.vision import FaceAnalyzer, MoodSmoother, draw_overlay
    from app.vision.analyzer import FULL_FRAME_EVERY, crop_face
    from app.vision.evaluate_track import moving_frames

    analyzer = FaceAnalyzer.load()
    frame = astronaut_frame()
    # The live stream on a moving face: it detects on every frame (around the face, and over the
    # whole frame every FULL_FRAME_EVERY frames), then classifies and draws.
    clip = [moved for moved, _ in moving_frames(frame, [], 30)]
    live, smoother = analyzer.stream(), MoodSmoother()
    times, full_frame_times = [], []
    for i in range(frames):
        canvas = clip[i % len(clip)].copy()
        t0 = time.perf_counter()
        faces = live.analyze(canvas)
        mood = smoother.update(faces, i / 15.0, (canvas.shape[1], canvas.shape[0]))
        draw_overlay(canvas, faces, mood.label if mood else None)
        times.append(time.perf_counter() - t0)
    # Detect over the whole frame + classify + overlay, on every frame (a stream's first frame).
    for _ in range(frames):
        canvas = frame.copy()
        t0 = time.perf_counter()
        draw_overlay(canvas, analyzer.analyze(canvas))
        full_frame_times.append(time.perf_counter() - t0)
    detect_only, follow_only = [], []
    dets = analyzer.detect(frame)
    for _ in range(frames // 2):
        t0 = time.perf_counter()
        analyzer.detect(frame)
        detect_only.append(time.perf_counter() - t0)
        if dets:
            t0 = time.perf_counter()
            analyzer.detector.detect_near(frame, dets[0].box)
            follow_only.append(time.perf_counter() - t0)
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = analyzer.analyze(frame, boxes=dets)
    crop = crop_face(gray, dets[0].box, dets[0].eyes)[None] if dets else np.zeros((1, 48, 48), np.uint8)
    clf = []
    for _ in range(300):
        t0 = time.perf_counter()
        analyzer.classifier.predict(crop)
        clf.append(time.perf_counter() - t0)
    p50, p95 = _ms(times)
    return {
        "live_frames_analysed_share_30fps": _live_share(analyzer, clip),
        "frame_ms_p50": round(p50, 2),
        "frame_ms_p95": round(p95, 2),
        "frame_ms_p50_detect_every_frame": round(p50, 2),
        "frame_ms_p50_full_frame_detect": round(_ms(full_frame_times)[0], 2),
        "full_frame_detect_every_n_frames": FULL_FRAME_EVERY,
        "detect_ms_p50": round(_ms(detect_only)[0], 2),
        "follow_detect_ms_p50": round(_ms(follow_only)[0], 2) if follow_only else None,
        "detector": getattr(analyzer.detector, "name", type(analyzer.detector).__name__),
        "classifier_ms_per_face": round(_ms(clf)[0], 3),
        "astronaut_label": faces[0].label if faces else None,
    }


def _live_share(analyzer, clip: list[np.ndarray], fps: int = 30, seconds: float = 3.0) -> float:
    """The share of a 30 fps camera's frames the Mood page's frame processor analyses (the rest
    reuse the last faces): frames of a moving face handed over in real time, as streamlit-webrtc
    does, through `app.listening.live.make_frame_processor`."""
    from app.listening.live import MoodHolder, make_frame_processor
    from app.vision import MoodSmoother, draw_overlay

    holder = MoodHolder()
    process = make_frame_processor(analyzer.stream(), holder, MoodSmoother(), draw_overlay)
    start, frames = time.perf_counter(), int(fps * seconds)
    for i in range(frames):
        time.sleep(max(0.0, start + i / fps - time.perf_counter()))
        process(clip[i % len(clip)].copy())
    return round(holder.snapshot().frames_seen / frames, 3)


def tag_seconds(tagger: MoodTagger, path: Path, seconds: float, repeats: int) -> list[float]:
    """Seconds `tagger` takes for a synthetic song of `seconds` written to `path`, per run after
    a warm-up (the first call loads the nets and builds the filter banks)."""
    import soundfile as sf

    sf.write(path, mood_clip("Q1", seconds=seconds), SR)
    tagger.tag(path)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tagger.tag(path)
        samples.append(time.perf_counter() - t0)
    return samples


def bench_music(repeats: int = 5) -> dict:
    from app.music import MoodTagger

    tagger = MoodTagger.load()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, seconds in (("music_tag_s_30s", 30.0), ("music_tag_s_5min", 300.0)):
            path = Path(tmp) / f"{key}.wav"
            out[key] = round(statistics.median(tag_seconds(tagger, path, seconds, repeats)), 3)
        # The analysis worker an import uses, fresh, tagging the 5-minute song whole: its peak RSS
        # (the `app` part measures it again beside the app process, during a real import).
        from app import library

        with library.ANALYSIS_POOL.lease(1) as worker:
            out["music_worker_rss_mb"] = worker.run(partial(_tag_peak_rss_mb, str(path)))
        library.ANALYSIS_POOL.shutdown_if_idle()
    out["music_model_version"] = tagger.version
    out["music_nets"] = list(tagger.nets)
    return out


# The realistic catalog (`--only recommend` and the full bench): this share of the tracks lies
# anywhere on the plane, the rest in the four quadrant clusters of the plain bench catalog.
REALISTIC_UNIFORM_SHARE = 0.5
# The realistic queries come from one listener session that has already heard this many tracks
# (the page excludes them all, and learns from them).
BENCH_SESSION = "bench-listener"
BENCH_SESSION_TRACKS = 200
SESSION_GROWTH = 50  # tracks the bench's listener hears on top of those before it starts afresh
# One mood response (the camera was on while a track played) per this many listening events.
EVENTS_PER_RESPONSE = 10


def _build_catalog(url: str, catalog_size: int, events: int, uniform_share: float = 0.0) -> None:
    from app.catalog import db, rollups
    from app.catalog.models import Base
    from app.catalog.synthetic import populate

    engine = db.init_db(url)
    Base.metadata.drop_all(engine)  # a stale or partial bench catalog goes entirely
    Base.metadata.create_all(engine)
    with db.session_scope(url) as s:
        populate(s, catalog_size, n_events=events, uniform_share=uniform_share)
        _add_mood_responses(s, catalog_size, events // EVENTS_PER_RESPONSE)
        if uniform_share > 0:
            _add_bench_session(s)
            rollups.rebuild(s)


def _add_mood_responses(s, catalog_size: int, n: int, chunk: int = 20_000) -> None:
    """`n` mood responses over the 90 days before 2026-01-01 (as the synthetic events), each
    strategy's change drawn around a small effect of its own, for the "did it work" queries."""
    from datetime import datetime, timedelta

    from sqlalchemy import insert

    from app.catalog.models import MoodResponse
    from app.emotions import STRATEGIES

    rng = np.random.default_rng(3)
    effect = {"match": (0.0, 0.0), "lift": (0.15, 0.05), "calm": (0.05, -0.15)}
    end = datetime(2026, 1, 1)
    for first in range(0, n, chunk):
        size = min(chunk, n - first)
        strategy = rng.integers(0, len(STRATEGIES), size)
        track = rng.integers(1, catalog_size + 1, size)
        start = rng.uniform(-1, 1, (size, 2))
        shift = np.array([effect[STRATEGIES[k]] for k in strategy]) + rng.normal(0, 0.3, (size, 2))
        stop = np.clip(start + shift, -1, 1)
        ago = rng.integers(0, 90 * 86400, size)
        rows = [
            {
                "session_id": f"synthetic-{i % 5000}",
                "track_id": int(track[i]),
                "strategy": STRATEGIES[strategy[i]],
                "valence_start": float(start[i, 0]),
                "arousal_start": float(start[i, 1]),
                "valence_end": float(stop[i, 0]),
                "arousal_end": float(stop[i, 1]),
                "readings": 40,
                "listened_s": 180.0,
                "created_at": end - timedelta(seconds=int(ago[i])),
            }
            for i in range(size)
        ]
        s.connection().execute(insert(MoodResponse.__table__), rows)


def _add_bench_session(s) -> None:
    """`BENCH_SESSION`'s history: tracks heard near a few moods over an evening, as a listener
    of the page would (mostly completed, some skipped part-way, some liked)."""
    from datetime import datetime, timedelta

    from sqlalchemy import insert

    from app.catalog.models import ListeningEvent
    from app.emotions import MoodPoint
    from app.recommend import nearest_track_ids

    rng = np.random.default_rng(1)
    heard: list[int] = []
    while len(heard) < BENCH_SESSION_TRACKS:
        point = MoodPoint(*(float(x) for x in rng.uniform(-1, 1, 2)))
        heard += [tid for tid, _ in nearest_track_ids(s, point, 10, set(heard))]
    start = datetime(2026, 1, 1, 18)
    rows = []
    for i, track_id in enumerate(heard[:BENCH_SESSION_TRACKS]):
        outcome = str(rng.choice(["completed", "skipped", "played"], p=[0.55, 0.3, 0.15]))
        position = float(rng.uniform(5, 60)) if outcome == "skipped" else 180.0 if outcome == "completed" else None
        at = start + timedelta(seconds=60 * i)
        event = {"session_id": BENCH_SESSION, "track_id": track_id, "strategy": "match", "created_at": at}
        rows.append({**event, "action": outcome, "position_s": position, "completed": outcome == "completed"})
        if rng.random() < 0.2:
            rows.append({**event, "action": "liked", "position_s": None, "completed": False, "created_at": at})
    s.connection().execute(insert(ListeningEvent.__table__), rows)


def _catalog_url(db_url: str | None, catalog_size: int, events: int, *, realistic: bool = False) -> str:
    """The bench catalog's database: `db_url` (for the realistic catalog, the same server and a
    database named with `_realistic` appended, which must exist; `bench.db` → `bench_realistic.db`
    on SQLite), else a cached SQLite file."""
    from sqlalchemy.engine import make_url

    if db_url:
        if not realistic:
            return db_url
        url = make_url(db_url)
        stem, dot, ext = (url.database or "").rpartition(".") if url.get_backend_name() == "sqlite" else ("", "", "")
        name = f"{stem}_realistic{dot}{ext}" if stem else f"{url.database}_realistic"
        return url.set(database=name).render_as_string(hide_password=False)
    CACHE_DIR.mkdir(exist_ok=True)
    kind = "bench_catalog_realistic" if realistic else "bench_catalog"
    return f"sqlite:///{CACHE_DIR / f'{kind}_{catalog_size}_{events}.db'}"


def ensure_catalog(url: str, catalog_size: int, events: int, uniform_share: float = 0.0) -> float | None:
    """Build the synthetic catalog unless `url` already holds exactly this one; the build time
    in seconds, or None when it was there. With `uniform_share`, the realistic catalog (that share
    of tracks spread uniformly, plus `BENCH_SESSION`'s history)."""
    from sqlalchemy import func, select

    from app.catalog import db
    from app.catalog.models import ListeningEvent, MoodResponse, Track

    db.init_db(url)
    with db.session_scope(url) as s:
        tracks = s.scalar(select(func.count(Track.id))) or 0
        responses = s.scalar(select(func.count(MoodResponse.id))) or 0
        listened = s.scalar(select(func.count(ListeningEvent.id))) or 0
        session_events = (
            s.scalar(select(func.count()).select_from(ListeningEvent).where(ListeningEvent.session_id == BENCH_SESSION))
            or 0
        )
    have = (tracks, listened - session_events, responses, session_events > 0)
    if have == (catalog_size, events, events // EVENTS_PER_RESPONSE, uniform_share > 0):
        return None
    db.dispose_engines()
    t0 = time.perf_counter()
    # Built in a child process so this process's peak RSS (rss_mb) reflects serving only.
    child = multiprocessing.get_context("spawn").Process(
        target=_build_catalog, args=(url, catalog_size, events, uniform_share)
    )
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


def bench_recommend_realistic(url: str, queries: int = 300) -> dict:
    """Recommendation latency for queries like the Mood page's, on the realistic catalog at `url`
    (`ensure_catalog(..., uniform_share=REALISTIC_UNIFORM_SHARE)`): a mood anywhere on the plane,
    a strategy with its steering path, a queue's worth of tracks for `BENCH_SESSION` (its heard
    tracks excluded, its events read for its preference) minus the queue on screen. Between two
    queries the listener hears the first pick (started, then completed, skipped or liked, as the
    page records it), so each query sees a session that has just grown; those events are rolled
    back every `SESSION_GROWTH` queries (an evening's listening) and at the end, so the catalog
    stays as built."""
    from app.catalog import db, repository
    from app.emotions import STRATEGIES, MoodPoint
    from app.listening.session import QUEUE_LENGTH
    from app.listening.steering import steering_path
    from app.recommend import recommend

    rng = np.random.default_rng(2)
    samples, on_screen = [], set()
    with db.session_scope(url) as s:
        for i in range(queries):
            mood = MoodPoint(*(float(x) for x in rng.uniform(-1, 1, 2)))
            strategy = STRATEGIES[int(rng.integers(len(STRATEGIES)))]
            t0 = time.perf_counter()
            recs = recommend(
                s,
                mood,
                strategy=strategy,
                n=QUEUE_LENGTH,
                session_id=BENCH_SESSION,
                exclude_track_ids=on_screen,
                seed=i,
                source="manual",
                path=steering_path(mood, strategy),
            )
            samples.append(time.perf_counter() - t0)
            assert recs, "the realistic catalog gave no recommendation"
            on_screen = {r.track_id for r in recs}
            heard = recs[0].track_id
            repository.record_listening(s, BENCH_SESSION, heard, "started", strategy=strategy)
            outcome = ("completed", "skipped", "completed", "liked")[i % 4]
            repository.record_listening(
                s, BENCH_SESSION, heard, outcome, strategy=strategy, position_s=20.0 if outcome == "skipped" else None
            )
            if (i + 1) % SESSION_GROWTH == 0:
                s.rollback()
        s.rollback()
    p50, p95 = _ms(samples)
    return {"recommend_realistic_ms_p50": round(p50, 2), "recommend_realistic_ms_p95": round(p95, 2)}


def _server_settings(url: str) -> dict:
    """What the recommend figures depend on besides the code: on MySQL/MariaDB, the InnoDB buffer
    pool (a catalog bigger than it reads pages from disk on every query)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from app.catalog import db

    if make_url(url).get_backend_name() != "mysql":
        return {}
    with db.session_scope(url) as s:
        pool = int(s.scalar(text("SELECT @@innodb_buffer_pool_size")) or 0)
    return {"recommend_buffer_pool_mb": round(pool / 2**20)}


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
    "mood_response_by_strategy",
    "mood_response_by_track",
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


def _tag_peak_rss_mb(path: str) -> float:
    """Run in an analysis worker: tag the whole song at `path` as an import does; the worker's peak RSS."""
    from app.library.tagging import load_tagger

    load_tagger().tag(path)
    return _peak_rss_mb()


def _app_session(url: str, clips: Path, report, song: Path | None = None) -> None:
    """What the Streamlit server process goes through, in a fresh process: the page libraries,
    a live session (face analysis, smoothing and overlay on 300 frames, recommendations, the
    analytics queries), then a bulk import of the folder `clips` through the analysis workers
    (and a whole `song` tagged by one of them). Sends its figures through `report` (a Connection)."""
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
            if song is not None:
                worker_rss = max(worker_rss, pool.run(partial(_tag_peak_rss_mb, str(song))))
        library.ANALYSIS_POOL.shutdown_if_idle()
        db.dispose_engines()
    if summary.failed:
        raise RuntimeError(f"bulk import failed: {summary.failed[0].message}")
    report.send(
        {
            "rss_mb": _peak_rss_mb(),
            "rss_mb_after_live_session": after_live,
            "analysis_worker_rss_mb": worker_rss,
            "app_plus_worker_rss_mb": round(_peak_rss_mb() + worker_rss, 1),
            "import_tracks_per_s": round(summary.imported / seconds, 2),
            "import_tracks_per_s_per_worker": round(summary.imported / seconds / workers, 2),
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
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as song_dir:
        clips = Path(tmp)
        for i in range(import_files):  # 30 s clips, made here so the app process doesn't count them
            write_demo_wav(clips / f"clip{i}.wav", ("Q1", "Q2", "Q3", "Q4")[i % 4], 100 + i, f"Bench {i}", "Bench")
        song = Path(song_dir) / "song_5min.wav"  # outside `clips`: tagged by a worker, not imported
        write_long_song(song)
        child = ctx.Process(target=_app_session, args=(url, clips, send, song))
        child.start()
        figures = receive.recv() if receive.poll(1800) else None
        child.join()
    if child.exitcode != 0 or figures is None:
        raise RuntimeError(f"the app-process benchmark failed (exit code {child.exitcode})")
    return figures


# What `--only` can pick, in this order. The default is all but the listener load, which needs
# Chromium (a test/dev install) and minutes of camera sessions: `--only listeners` runs it.
PARTS = ("vision", "music", "recommend", "analytics", "app", "deploy", "listeners")
DEFAULT_PARTS = tuple(part for part in PARTS if part != "listeners")


# Figures that describe one run's catalog rather than measure anything: a partial run doesn't
# write them over the full run's (its parts say what they ran on, e.g. `recommend_catalog_size`).
CATALOG_KEYS = ("catalog_size", "listening_events", "catalog_database", "catalog_build_s", "realistic_catalog_build_s")


def merge_figures(path: Path, figures: dict, *, partial: bool = False) -> dict:
    """`figures` written into the JSON object in `path`, keeping the keys it doesn't measure:
    under their own names for a catalog on SQLite (the default), with `_<database>` appended
    (e.g. `recommend_ms_p95_mysql`) for one on another database. With `partial` (`--only`), the
    `CATALOG_KEYS` are left as they were."""
    import json

    old = json.loads(path.read_text()) if path.exists() else {}
    database = figures.get("catalog_database", "sqlite")
    suffix = "" if database == "sqlite" else f"_{database}"
    skip = set(CATALOG_KEYS) if partial else {"catalog_database"}
    old.update({f"{key}{suffix}": value for key, value in figures.items() if key not in skip})
    path.write_text(json.dumps(old) + "\n")
    return old


def run_bench(args: argparse.Namespace) -> int:
    import cv2
    from sqlalchemy.engine import make_url
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    parts = set(getattr(args, "only", None) or DEFAULT_PARTS)
    result: dict = {}
    with threadpool_limits(1):
        if "vision" in parts:
            result.update(bench_vision())
        if "music" in parts:
            result.update(bench_music())
        size = int(getattr(args, "catalog_size", 100_000))
        events = getattr(args, "events", None)
        events = size if events is None else int(events)
        db_url = getattr(args, "db_url", None)
        url = _catalog_url(db_url, size, events)
        if parts & {"recommend", "analytics", "app"}:
            result.update(
                {
                    "catalog_size": size,
                    "listening_events": events,
                    "catalog_database": make_url(url).get_backend_name(),
                    "catalog_build_s": ensure_catalog(url, size, events),
                }
            )
        if "recommend" in parts:
            result.update({"recommend_catalog_size": size, "recommend_listening_events": events})
            result.update(bench_recommend(url))
            realistic = _catalog_url(db_url, size, events, realistic=True)
            result["realistic_catalog_build_s"] = ensure_catalog(
                realistic, size, events, uniform_share=REALISTIC_UNIFORM_SHARE
            )
            result.update(bench_recommend_realistic(realistic))
            result.update(_server_settings(realistic))
        if "analytics" in parts:
            result.update(bench_analytics(url, explain=getattr(args, "explain", False)))
    if "app" in parts:
        result["bench_process_rss_mb"] = _peak_rss_mb()  # models loaded side by side, music in-process
        result.update(bench_app_process(url, int(getattr(args, "import_files", 100))))
    if "deploy" in parts:
        from app.tools.footprint import footprint

        result.update(footprint(PAGE_MODULES))
    if "listeners" in parts:
        from app.tools.listener_load import bench_listeners

        result.update(bench_listeners())
    merge = getattr(args, "merge", None)
    if merge:
        merge_figures(Path(merge), result, partial=bool(getattr(args, "only", None)))
    return print_figures(result, getattr(args, "json", False))
