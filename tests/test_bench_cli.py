"""`python -m app bench --json` keeps its contract (DESIGN.md): one JSON object with the speed,
scale and memory figures, here on a tiny catalog so it runs in well under a minute."""

from __future__ import annotations

import json

from cli_helpers import run_cli

from app.tools.bench import ANALYTICS_QUERIES


def test_bench_prints_every_figure_as_one_json_object(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    done = run_cli(
        "bench", "--json", "--catalog-size", "300", "--events", "2000", "--import-files", "2", "--db-url", url
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    for key in (
        "frame_ms_p50",
        "frame_ms_p50_detect_every_frame",
        "classifier_ms_per_face",
        "music_tag_s_30s",
        "music_tag_s_5min",
        "recommend_ms_p95",
        "rss_mb",
        "analysis_worker_rss_mb",
        "import_tracks_per_s",
        "analytics_ms_max",
    ):
        assert figures[key] > 0, key
    assert figures["astronaut_label"] == "happy"
    assert (figures["catalog_size"], figures["listening_events"], figures["import_files"]) == (300, 2000, 2)
    assert set(figures["analytics_ms"]) == set(ANALYTICS_QUERIES)
    # The app-like process never loads the mood model: it stays well below a process that does.
    assert figures["rss_mb"] < figures["bench_process_rss_mb"]


def test_bench_measures_both_recommend_mixes_and_merges_only_its_figures(tmp_path):
    """`--only recommend` times the old query mix (cluster centres) and the page-like one (targets
    anywhere, a session with 200 tracks heard, on a uniform-plus-clustered catalog); `--merge`
    writes those figures into an existing bench.json and leaves the rest of it alone."""
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    figures_file = tmp_path / "bench.json"
    figures_file.write_text(json.dumps({"frame_ms_p50": 12.5, "catalog_size": 1000000, "recommend_ms_p95": 99.0}))
    done = run_cli(
        "bench", "--json", "--only", "recommend", "--catalog-size", "2000", "--events", "3000", "--db-url", url,
        "--merge", str(figures_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    for key in ("recommend_ms_p50", "recommend_ms_p95", "recommend_realistic_ms_p50", "recommend_realistic_ms_p95"):
        assert figures[key] > 0, key
    assert "frame_ms_p50" not in figures and "analytics_ms" not in figures  # only what was asked
    assert (tmp_path / "bench_realistic.db").exists()  # the realistic catalog is a database of its own
    merged = json.loads(figures_file.read_text())
    assert merged["frame_ms_p50"] == 12.5 and merged["catalog_size"] == 1000000  # kept
    assert merged["recommend_ms_p95"] == figures["recommend_ms_p95"] != 99.0  # updated
    assert merged["recommend_realistic_ms_p95"] == figures["recommend_realistic_ms_p95"]
    assert merged["recommend_catalog_size"] == 2000


def test_the_realistic_catalog_spreads_tracks_over_the_plane_and_holds_a_long_session(tmp_path):
    from sqlalchemy import func, select

    from app.catalog import db
    from app.catalog.models import ListeningEvent, Track
    from app.listening.preferences import load_history
    from app.tools import bench

    clustered, realistic = f"sqlite:///{tmp_path / 'c.db'}", f"sqlite:///{tmp_path / 'r.db'}"
    bench.ensure_catalog(clustered, 4000, 0)
    bench.ensure_catalog(realistic, 4000, 0, uniform_share=bench.REALISTIC_UNIFORM_SHARE)
    assert bench.ensure_catalog(realistic, 4000, 0, uniform_share=bench.REALISTIC_UNIFORM_SHARE) is None  # reused

    def near_origin(url: str) -> int:  # the plane's middle, far from the four quadrant centres
        with db.session_scope(url) as s:
            middle = (Track.valence.between(-0.2, 0.2), Track.arousal.between(-0.2, 0.2))
            return s.scalar(select(func.count()).select_from(Track).where(*middle))

    assert near_origin(realistic) > 1.5 * near_origin(clustered)
    with db.session_scope(realistic) as s:
        heard = load_history(s, bench.BENCH_SESSION).heard
        assert len(heard) == bench.BENCH_SESSION_TRACKS
        ours = ListeningEvent.session_id == bench.BENCH_SESSION
        events = select(func.count()).select_from(ListeningEvent).where(ours)
        assert s.scalar(events) >= len(heard)
    db.dispose_engines()
