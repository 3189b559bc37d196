"""Ingest audio into the catalog: all or nothing per file.

For each file: size limit (from the file system, before reading) → content hash → duplicate
check → real type from magic bytes (never the extension) → decode check and duration limit →
title/artist/album from tags (mutagen) with a file-name fallback → mood from the music model →
content-addressed copy into the media store → one database row. Any failure leaves no row, no
media file and no temp file, and yields a result whose message names the problem or the limit.

Analysis (decode + mood model, `analyse_file`) runs on an analysis executor (`executor.py`):
by default worker processes on both cores, so the app's own process never loads the mood
model's libraries. The database and the media store are written only by the calling process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import MediaStore, sha256_of_file
from app.config import Settings, get_settings
from app.library.checks import (
    HEAD_BYTES,
    Refused,
    check_decodes,
    check_format,
    check_size,
    read_tags,
    sanitize_name,
    title_artist_from_name,
)
from app.library.executor import AnalysisExecutor, AnalysisJob, analyse_all, describe_failure
from app.library.formats import FOLDER_EXTENSIONS
from app.library.tagging import IngestSetupError, Tagger, load_tagger, tagger_version

if TYPE_CHECKING:  # the app's own process never imports the music model's libraries
    from app.music.tagger import MoodTag

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    source: str  # what the user gave us (path or sanitised upload name)
    status: str  # "imported" | "skipped" | "failed"
    message: str
    track_id: int | None = None
    title: str | None = None
    artist: str | None = None
    quadrant: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "imported"


@dataclass
class ImportSummary:
    results: list[IngestResult] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(r.status == "imported" for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skipped" for r in self.results)

    @property
    def failed(self) -> list[IngestResult]:
        return [r for r in self.results if r.status == "failed"]

    def as_json(self) -> dict[str, Any]:
        """The DESIGN.md shape of `python -m app import --json`."""
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": [{"path": r.source, "error": r.message} for r in self.failed],
        }


Progress = Callable[[int, int, IngestResult], None]


@dataclass(frozen=True)
class _Analysis:
    """What analysis found out about one file (no side effects yet)."""

    source: str
    path: str
    sha256: str
    ext: str
    duration_s: float
    title: str
    artist: str
    album: str | None
    mood: MoodTag  # the model's tag as it came, not a copy of its fields
    tagged_by: str


# ----------------------------------------------------------------------------- analysis (the task)


def analyse_file(job: AnalysisJob, tagger: Tagger | None = None) -> _Analysis | IngestResult:
    """Check, read the tags of and mood-tag one file: the task an executor runs, no side effects.
    Without a tagger it loads the mood model where it runs."""
    try:
        return _analyse(job, tagger)
    except OSError as exc:
        return IngestResult(job.source, "failed", f"cannot read the file: {exc.strerror or exc}")


def _analyse(job: AnalysisJob, tagger: Tagger | None) -> _Analysis | IngestResult:
    from app.music.audio import AudioError

    def fail(message: str) -> IngestResult:
        return IngestResult(job.source, "failed", message)

    with open(job.path, "rb") as f:
        head = f.read(HEAD_BYTES)
    try:
        fmt = check_format(head)
        duration_s = check_decodes(job.path, fmt, job.max_duration_s)
    except Refused as exc:
        return fail(str(exc))
    tags = read_tags(job.path)
    fallback_title, fallback_artist = title_artist_from_name(job.name_hint)
    try:
        tagger = tagger if tagger is not None else load_tagger()
        mood = tagger.tag(job.path)
    except IngestSetupError as exc:
        return fail(str(exc))
    except AudioError as exc:
        return fail(f"cannot decode this {fmt.upper()} file: {exc}")
    except Exception as exc:  # the model must not take the whole import down
        log.exception("mood tagging failed for %s", job.source)
        return fail(f"mood tagging failed: {type(exc).__name__}: {exc}")
    return _Analysis(
        source=job.source,
        path=job.path,
        sha256=job.sha256,
        ext=fmt,
        duration_s=duration_s,
        title=tags.get("title") or fallback_title,
        artist=tags.get("artist") or fallback_artist or "Unknown artist",
        album=tags.get("album"),
        mood=mood,
        tagged_by=f"model:{tagger_version(tagger)}",
    )


# ----------------------------------------------------------------------------- commit


def _duplicate_message(track: Any) -> str:
    return f"already in the catalog as “{track.title}” by {track.artist} (identical audio file)"


def _commit(analysis: _Analysis, store: MediaStore, database_url: str | None) -> IngestResult:
    """Copy into the media store, then insert the row; undo the copy if the insert fails."""
    source = analysis.source
    try:
        rel, created = store.put_file(analysis.path, analysis.sha256, analysis.ext)
    except (OSError, ValueError) as exc:
        return IngestResult(source, "failed", f"could not store the file: {exc}")
    try:
        with session_scope(database_url) as session:
            track = repository.add_track(
                session,
                title=analysis.title,
                artist=analysis.artist,
                album=analysis.album,
                duration_s=analysis.duration_s,
                sha256=analysis.sha256,
                media_path=rel,
                format=analysis.ext,
                quadrant=analysis.mood.quadrant,
                valence=float(analysis.mood.valence),
                arousal=float(analysis.mood.arousal),
                probabilities={q: float(p) for q, p in analysis.mood.probabilities.items()},
                tagged_by=analysis.tagged_by,
            )
            result = IngestResult(
                source,
                "imported",
                f"imported as {analysis.mood.quadrant}",
                track.id,
                track.title,
                track.artist,
                track.quadrant,
            )
    except IntegrityError:
        # Someone imported the same content between our duplicate check and now; their row
        # owns the (identical) media file, so it stays.
        with session_scope(database_url) as session:
            existing = repository.get_track_by_sha(session, analysis.sha256)
            if existing is not None:
                return IngestResult(source, "skipped", _duplicate_message(existing), existing.id)
        if created:
            store.remove(rel)
        return IngestResult(source, "failed", "the database refused the track (constraint violation)")
    except BaseException as exc:
        if created:
            store.remove(rel)
        if isinstance(exc, SQLAlchemyError):
            return IngestResult(
                source, "failed", f"the catalog database is unavailable ({type(exc).__name__}); nothing was stored"
            )
        raise
    return result


# ----------------------------------------------------------------------------- public API


def collect_audio_files(
    paths: Iterable[str | Path], *, root: Path | None = None
) -> tuple[list[Path], list[IngestResult]]:
    """Expand folders (recursively, audio extensions, no hidden files) and keep explicit files.

    With `root` (MOODTUNE_IMPORT_ROOT for server-side imports), anything resolving outside it is
    refused. Returns (files, failures for paths that don't exist or aren't allowed).
    """
    files: list[Path] = []
    problems: list[IngestResult] = []
    root = root.resolve() if root else None
    for raw in paths:
        shown = str(raw)
        p = Path(raw)
        resolved = p.resolve()
        if root is not None and not resolved.is_relative_to(root):
            problems.append(IngestResult(shown, "failed", f"outside the allowed import folder {root}"))
            continue
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                rel_parts = child.relative_to(p).parts
                if any(part.startswith(".") for part in rel_parts) or not child.is_file():
                    continue
                if child.suffix.lower().lstrip(".") not in FOLDER_EXTENSIONS:
                    continue
                if root is not None and not child.resolve().is_relative_to(root):
                    continue  # a symlink leading out of the allowed folder
                files.append(child)
        elif p.is_file():
            files.append(p)
        elif p.exists():
            problems.append(IngestResult(shown, "failed", "not a regular file"))
        else:
            problems.append(IngestResult(shown, "failed", "no such file or folder"))
    return files, problems


def ingest_files(
    files: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    store: MediaStore | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    name_hints: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
) -> ImportSummary:
    """Ingest audio files; one result per file, in the order given.

    `name_hints` (original upload names, for the title fallback) and `sources` (what to call the
    file in messages) default to the paths. `tagger` replaces the mood model (analysis then runs
    in this process); `executor` replaces the local pool of `workers` processes. Raises
    IngestSetupError if the mood model can't load.
    """
    settings = settings or get_settings()
    workers = settings.analysis_workers if workers is None else workers
    store = store or MediaStore(settings.media_dir)
    n = len(files)
    results: list[IngestResult | None] = [None] * n
    done = 0

    def finish(i: int, result: IngestResult) -> None:
        nonlocal done
        results[i] = result
        done += 1
        if progress is not None:
            progress(done, n, result)

    index: dict[AnalysisJob, int] = {}
    seen: dict[str, str] = {}
    with session_scope(settings.database_url) as session:
        for i, f in enumerate(files):
            path = str(f)
            source = sources[i] if sources else path
            hint = name_hints[i] if name_hints else os.path.basename(path)
            try:
                check_size(os.stat(path).st_size, settings)
                sha = sha256_of_file(path)
            except Refused as exc:
                finish(i, IngestResult(source, "failed", str(exc)))
                continue
            except OSError as exc:
                finish(i, IngestResult(source, "failed", f"cannot read the file: {exc.strerror or exc}"))
                continue
            existing = repository.get_track_by_sha(session, sha)
            if existing is not None:
                finish(i, IngestResult(source, "skipped", _duplicate_message(existing), existing.id))
                continue
            if sha in seen:
                finish(i, IngestResult(source, "skipped", f"identical to {seen[sha]} earlier in this import"))
                continue
            seen[sha] = source
            index[AnalysisJob(path, source, hint, sha, settings.max_duration_s)] = i

    jobs = list(index)
    for job, outcome in analyse_all(analyse_file, jobs, workers=workers, tagger=tagger, executor=executor):
        if isinstance(outcome, Exception):
            result = IngestResult(job.source, "failed", describe_failure(outcome))
        elif isinstance(outcome, IngestResult):
            result = outcome
        else:
            result = _commit(outcome, store, settings.database_url)
        finish(index[job], result)
    return ImportSummary([r for r in results if r is not None])


def ingest_paths(
    paths: Iterable[str | Path],
    *,
    settings: Settings | None = None,
    root: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
) -> ImportSummary:
    """Ingest files and folders (the CLI `import` and the curator's server-folder import)."""
    files, problems = collect_audio_files(paths, root=root)
    summary = ingest_files(
        files, settings=settings, progress=progress, workers=workers, tagger=tagger, executor=executor
    )
    summary.results[:0] = problems
    return summary


def ingest_bytes(
    data: bytes,
    filename: str,
    *,
    settings: Settings | None = None,
    workers: int | None = None,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
) -> IngestResult:
    """Ingest one upload held in memory (the curator page). Uses the same path as files, with
    one analysis worker (the warm pool's, when uploads come one after another)."""
    settings = settings or get_settings()
    name = sanitize_name(filename)
    try:
        check_size(len(data), settings)
    except Refused as exc:
        return IngestResult(name, "failed", str(exc))
    store = MediaStore(settings.media_dir)
    temp = store.incoming_path()
    try:
        with open(temp, "wb") as f:
            f.write(data)
        workers = min(1, settings.analysis_workers) if workers is None else workers
        summary = ingest_files(
            [temp],
            settings=settings,
            store=store,
            workers=workers,
            name_hints=[name],
            sources=[name],
            tagger=tagger,
            executor=executor,
        )
        return summary.results[0]
    except IngestSetupError as exc:
        return IngestResult(name, "failed", str(exc))
    finally:
        temp.unlink(missing_ok=True)
