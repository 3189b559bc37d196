"""`python -m app …`: catalog administration, recommendations and evaluation.

JSON shapes are the contracts in DESIGN.md. Progress bars go to stderr so stdout stays clean
for `--json`. Exit status: 0 when the command ran (per-file import failures are reported in the
output, not as an exit status), 1 when it could not run (no model, database unreachable, bad
argument value), 2 for usage errors (argparse) and a Dask scheduler that doesn't answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.emotions import FACE_LABELS, STRATEGIES

Handler = Callable[[argparse.Namespace], int | None]


class CommandError(Exception):
    """A command could not run; the message is shown to the user as is."""


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _progress_bar(description: str):
    """A tqdm bar on stderr and the ingest progress callback that advances it."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit="file", file=sys.stderr, leave=False)

    def advance(done: int, total: int, result) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        if result.status == "failed":
            bar.write(f"  ✗ {result.source}: {result.message}", file=sys.stderr)

    return bar, advance


def _print_summary(summary) -> None:
    print(f"imported {summary.imported}, skipped {summary.skipped}, failed {len(summary.failed)}")
    for r in summary.results:
        mark = {"imported": "✓", "skipped": "=", "failed": "✗"}[r.status]
        print(f"  {mark} {r.source}: {r.message}")


# ----------------------------------------------------------------------------- commands


def cmd_init_db(args: argparse.Namespace) -> int:
    from app.catalog.db import init_db, safe_url
    from app.catalog.media import open_media_store
    from app.config import get_settings

    init_db()
    media_dir = get_settings().media_dir
    media_dir.mkdir(parents=True, exist_ok=True)
    swept = open_media_store().sweep_temp_files()
    print(f"schema ready on {safe_url()}", file=sys.stderr)
    if swept:
        print(f"removed {swept} leftover temp files from {media_dir}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from app.catalog.db import open_catalog, session_scope
    from app.catalog.media import open_media_store
    from app.catalog.reconcile import ORPHAN_GRACE_S, check_catalog

    grace_s = ORPHAN_GRACE_S if args.grace_s is None else args.grace_s
    if grace_s < 0:
        raise CommandError("--grace-s must be at least 0")
    open_catalog()  # a check must not create the catalog it is checking
    store = open_media_store()
    with session_scope() as session:
        report = check_catalog(session, store, repair=args.repair, grace_s=grace_s)
    if args.json:
        _print_json(report.as_json())
        return 0
    verb = "removed" if args.repair else "found"
    print(f"{verb} {len(report.orphan_files)} orphan files (in the media store, in no row)")
    for path in report.orphan_files:
        print(f"  {path}")
    print(f"{verb} {len(report.temp_files)} leftover temp files")
    for path in report.temp_files:
        print(f"  {path}")
    print(f"{len(report.missing_files)} tracks whose media file is gone (kept: restore the files or delete the tracks)")
    if report.missing_files:
        print("  track ids: " + ", ".join(str(i) for i in report.missing_files))
    if report.in_flight:
        print(f"{len(report.in_flight)} temp files being written by a running import, left alone")
    for error in report.errors:
        print(f"  could not remove {error['path']}: {error['error']}")
    if not args.repair and (report.orphan_files or report.temp_files):
        print("run `python -m app check --repair` to remove the orphan and temp files")
    return 0


def _print_retag_summary(summary) -> None:
    print(f"retagged {summary.retagged}, unchanged {summary.unchanged}, failed {len(summary.failed)}")
    for r in summary.results:
        mark = {"retagged": "✓", "unchanged": "=", "failed": "✗"}[r.status]
        print(f"  {mark} {r.source}: {r.message}")


def _run_import(
    run: Callable[..., Any], description: str, as_json: bool, print_summary: Callable[[Any], None] = _print_summary
) -> int:
    from app.catalog.db import init_db

    init_db()
    bar, advance = _progress_bar(description)
    try:
        summary = run(progress=advance)
    finally:
        bar.close()
    if as_json:
        _print_json(summary.as_json())
    else:
        print_summary(summary)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from app.library import ingest_paths
    from app.library.executor import cluster_executor

    with cluster_executor(args.scheduler) as cluster:  # None: this machine's pool, as without Dask
        return _run_import(
            lambda progress: ingest_paths(args.paths, progress=progress, workers=args.workers, executor=cluster),
            "importing",
            args.json,
        )


def cmd_demo(args: argparse.Namespace) -> int:
    from app.catalog import repository
    from app.catalog.db import init_db, session_scope
    from app.tools.demo import build_demo_catalog

    if args.if_empty:
        init_db()
        with session_scope() as session:
            n_tracks = repository.count_tracks(session)
        if n_tracks:
            print(f"the catalog already has {n_tracks} tracks; demo not built", file=sys.stderr)
            return 0

    return _run_import(lambda progress: build_demo_catalog(progress=progress), "demo catalog", args.json)


def cmd_retag(args: argparse.Namespace) -> int:
    from app.library import retag_catalog
    from app.library.executor import cluster_executor

    with cluster_executor(args.scheduler) as cluster:
        return _run_import(
            lambda progress: retag_catalog(progress=progress, executor=cluster),
            "retagging",
            args.json,
            print_summary=_print_retag_summary,
        )


def cmd_recommend(args: argparse.Namespace) -> int:
    from app.catalog.db import init_db, session_scope
    from app.recommend import recommend

    if args.emotion not in FACE_LABELS:
        raise CommandError(f"unknown emotion {args.emotion!r}; choose one of: {', '.join(FACE_LABELS)}")
    if args.n < 1:
        raise CommandError("-n must be at least 1")
    init_db()
    with session_scope() as session:
        picks = recommend(
            session, args.emotion, strategy=args.strategy, n=args.n, session_id=args.session_id, seed=args.seed
        )
    if not picks:
        print(
            "the catalog is empty: build it with `python -m app demo` or `python -m app import PATH`", file=sys.stderr
        )
    if args.json:
        _print_json([p.as_json() for p in picks])
    else:
        for i, p in enumerate(picks, 1):
            mood = f"[{p.quadrant} v{p.valence:+.2f} a{p.arousal:+.2f}]"
            print(f"{i:2}. {p.title} — {p.artist} {mood} {p.score:.3f}  {p.reason}")
    return 0


# Commands owned by the evaluation/benchmark modules: imported only when used, so the rest of
# the CLI works without their heavier dependencies.
def cmd_eval_detect(args: argparse.Namespace) -> int | None:
    from app.vision.evaluate_detect import eval_detect_cli

    return eval_detect_cli(args)


def cmd_eval_face(args: argparse.Namespace) -> int | None:
    from app.vision.evaluate import eval_face_cli

    return eval_face_cli(args)


def cmd_eval_music(args: argparse.Namespace) -> int | None:
    from app.music.evaluate import eval_music_cli

    return eval_music_cli(args)


def cmd_eval_recommender(args: argparse.Namespace) -> int | None:
    from app.tools.simulate import eval_recommender_cli

    if args.sessions < 3:
        raise CommandError("--sessions must be at least 3 (one per strategy)")
    return eval_recommender_cli(args)


def cmd_bench(args: argparse.Namespace) -> int | None:
    from app.tools.bench import run_bench

    return run_bench(args)


def cmd_session(args: argparse.Namespace) -> int:
    """JSON lines in, JSON lines out; flushed per line so a script can talk to it interactively."""
    from app.listening.script import run

    for reply in run(sys.stdin):
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


# ----------------------------------------------------------------------------- parser


def _add_scheduler_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="analyse on the Dask cluster of this scheduler, e.g. tls://host:8786 "
        "(default: $MOODTUNE_DASK_SCHEDULER, else this machine's worker processes)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app", description="Moodtune: catalog, recommendations, evaluation."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("init-db", cmd_init_db, "create the catalog schema on DATABASE_URL")

    p = add("demo", cmd_demo, "synthesize and import the demo catalog (offline, deterministic)")
    p.add_argument("--json", action="store_true", help="print the import summary as JSON")
    p.add_argument("--if-empty", action="store_true", help="only when the catalog has no tracks yet")

    p = add("import", cmd_import, "import audio files or folders, tagging each with the mood model")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print {imported, skipped, failed} as JSON")
    p.add_argument("--workers", type=int, default=2, help="analysis processes (default 2; 0 analyses in this process)")
    _add_scheduler_option(p)

    p = add("check", cmd_check, "reconcile the media folder with the catalog (orphan, missing and temp files)")
    p.add_argument("--repair", action="store_true", help="remove orphan and temp files (rows are never deleted)")
    p.add_argument("--json", action="store_true", help="print {orphan_files, missing_files, temp_files, repaired}")
    p.add_argument(
        "--grace-s",
        type=float,
        default=None,
        metavar="S",
        help="look again at files without a row that are younger than this (an import may be adding it; default 10)",
    )

    p = add("retag", cmd_retag, "re-run the mood model on every track a curator hasn't set")
    p.add_argument("--json", action="store_true")
    _add_scheduler_option(p)

    p = add("recommend", cmd_recommend, "recommend tracks for a listener's emotion")
    p.add_argument("--emotion", required=True, metavar="LABEL", help=f"one of: {', '.join(FACE_LABELS)}")
    p.add_argument("--strategy", choices=STRATEGIES, default="match")
    p.add_argument("-n", type=int, default=10, help="number of tracks (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed for the tie-breaking jitter")
    p.add_argument("--session-id", default=None, help="exclude what this listener session played or skipped")
    p.add_argument("--json", action="store_true")

    p = add("session", cmd_session, "one listener session driven by JSON lines on stdin (see DESIGN.md)")
    p.add_argument("--json", action="store_true", help="accepted for symmetry: the output is always JSON lines")

    p = add("eval-detect", cmd_eval_detect, "evaluate the face detector on DIR/images/ + DIR/boxes.csv")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = add("eval-face", cmd_eval_face, "evaluate the expression model on DIR/<label>/<image> face crops")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = add("eval-music", cmd_eval_music, "evaluate the music mood model on DIR/annotations.csv + DIR/audio/")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = add("eval-recommender", cmd_eval_recommender, "compare recommendation policies on simulated listeners")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sessions", type=int, default=30, metavar="N", help="simulated listener sessions (default 30)")
    p.add_argument("--catalog-size", type=int, default=3000, metavar="N", help="synthetic catalog size (default 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--taste-db",
        metavar="URL",
        help="also run the taste-away listeners on this catalog (e.g. clips imported with `import`)",
    )
    p.add_argument(
        "--taste-labels", type=Path, metavar="CSV", help="Song,Quadrant labels of --taste-db's titles (4Q annotations)"
    )

    p = add("bench", cmd_bench, "performance figures as one JSON object")
    p.add_argument("--json", action="store_true")
    p.add_argument("--catalog-size", type=int, default=100_000, metavar="N")
    p.add_argument(
        "--events", type=int, default=None, metavar="N", help="synthetic listening events (default: as many as tracks)"
    )
    p.add_argument(
        "--db-url", default=None, help="run the catalog figures on this database (default: a cached SQLite file)"
    )
    p.add_argument("--explain", action="store_true", help="print each analytics query's plan to stderr")
    p.add_argument(
        "--import-files",
        type=int,
        default=100,
        metavar="N",
        help="clips imported by the app-process figures (rss_mb, import_tracks_per_s)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=("vision", "music", "recommend", "analytics", "app", "deploy", "listeners"),
        help="measure only this part (repeatable; default: all but listeners, the Chromium camera load)",
    )
    p.add_argument(
        "--merge", metavar="FILE", help="also write the figures into this JSON file (e.g. models/bench.json)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from sqlalchemy.exc import OperationalError

    from app.catalog.db import DatabaseUnavailable, safe_url
    from app.config import ConfigError
    from app.library import IngestSetupError
    from app.library.executor import SchedulerUnreachable

    try:
        return int(args.handler(args) or 0)
    except SchedulerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (CommandError, DatabaseUnavailable, IngestSetupError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(
            f"error: the catalog database at {safe_url()} is unreachable ({type(exc.orig).__name__})", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
