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
