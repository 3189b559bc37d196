"""Ingest audio into the catalog: all or nothing per file.

For each file: size limit (from the file system, before reading) → content hash → duplicate
check → real type from magic bytes (never the extension) → decode check and duration limit →
title/artist/album from tags (mutagen) with a file-name fallback → mood from the music model (tag,
confidence and timeline) → one database row, committed once its content-addressed copy is in the media store. Any
failure leaves no row, no media file and no temp file, and yields a result whose message names the
problem or the limit.

Analysis (decode + mood model, `analyse_file`) runs on an analysis executor (`executor.py`):
by default worker processes on both cores, so the app's own process never loads the mood
model's libraries. The database and the media store are written only by the calling process.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import MediaStore, open_media_store, sha256_of_file
from app.config import Settings, get_settings
from app.library.checks import (
    Refused,
    check_decodes,
    check_format,
    check_size,
    read_head,
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
        head, after_id3 = read_head(f)
    try:
        fmt = check_format(head, after_id3)
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
    """Insert the row, copy the file into the media store, then commit. A process killed while
    copying leaves neither: the row was never committed, and the stored file appears only once
    complete (a rename, or a finished upload). Only the moment between the end of the copy and
    the commit can leave a stored file without its row, which `check --repair` removes."""
    source = analysis.source
    created = False
    try:
        with session_scope(database_url) as session:
            track = repository.add_track(
                session,
                title=analysis.title,
                artist=analysis.artist,
                album=analysis.album,
                duration_s=analysis.duration_s,
                sha256=analysis.sha256,
                media_path=store.relative_path(analysis.sha256, analysis.ext),
                format=analysis.ext,
                tagged_by=analysis.tagged_by,
                **repository.mood_fields(analysis.mood),  # quadrant, point, confidence, timeline
            )
            try:
                _, created = store.put_file(analysis.path, analysis.sha256, analysis.ext)
            except (OSError, ValueError) as exc:
                raise _NotStored(f"could not store the file: {exc}") from exc
            result = IngestResult(
                source,
                "imported",
                f"imported as {analysis.mood.quadrant}",
                track.id,
                track.title,
                track.artist,
                track.quadrant,
            )
    except _NotStored as exc:
        return IngestResult(source, "failed", str(exc))
    except IntegrityError:
        # Someone imported the same content between our duplicate check and now; their row
        # owns the (identical) media file, so it stays.
        with session_scope(database_url) as session:
            existing = repository.get_track_by_sha(session, analysis.sha256)
            if existing is not None:
                return IngestResult(source, "skipped", _duplicate_message(existing), existing.id)
        if created:
            store.remove(track.media_path)
        return IngestResult(source, "failed", "the database refused the track (constraint violation)")
    except BaseException as exc:
        if created:
            store.remove(store.relative_path(analysis.sha256, analysis.ext))
        if isinstance(exc, SQLAlchemyError):
            return IngestResult(
                source, "failed", f"the catalog database is unavailable ({type(exc).__name__}); nothing was stored"
            )
        raise
    return result


class _NotStored(Exception):
    """The media store refused the file (the row is rolled back)."""


# ----------------------------------------------------------------------------- public API


SYMLINK_REFUSED = "refused: symbolic link (a server-folder import reads only regular files inside the import folder)"
NOT_REGULAR_REFUSED = "refused: not a regular file"
# A hard link is the same file under a second name, which may be outside the import folder (its
# other names can't be listed): a server-folder import reads only files with one name.
HARDLINK_REFUSED = "refused: hard link (the file has another name, maybe outside the import folder; copy it in instead)"
CONFINED_BATCH = 32  # files copied out of the import folder at a time (bounds the private copies on disk)


def _outside(root: Path) -> str:
    return f"outside the allowed import folder {root}"


def collect_audio_files(
    paths: Iterable[str | Path], *, root: Path | None = None
) -> tuple[list[Path], list[IngestResult]]:
    """Expand folders (recursively, audio extensions, no hidden files) and keep explicit files.

    With `root` (MOODTUNE_IMPORT_ROOT for server-side imports), anything resolving outside it is
    refused, and symbolic links are not followed: each one gets a "refused: symbolic link" result.
    Returns (files, failures for paths that don't exist or aren't allowed). What is listed here is
    only a plan: `ingest_paths` checks each file again on the descriptor it reads.
    """
    files: list[Path] = []
    problems: list[IngestResult] = []
    root = root.resolve() if root else None
    for raw in paths:
        shown = str(raw)
        p = Path(raw)
        resolved = p.resolve()
        if root is not None and not resolved.is_relative_to(root):
            problems.append(IngestResult(shown, "failed", _outside(root)))
            continue
        if p.is_dir():
            if root is not None:
                _walk_confined(p, files, problems)
                continue
            for child in sorted(p.rglob("*")):
                rel_parts = child.relative_to(p).parts
                if any(part.startswith(".") for part in rel_parts) or not child.is_file():
                    continue
                if child.suffix.lower().lstrip(".") not in FOLDER_EXTENSIONS:
                    continue
                files.append(child)
        elif p.is_file():
            files.append(p)
        elif p.exists():
            problems.append(IngestResult(shown, "failed", "not a regular file"))
        else:
            problems.append(IngestResult(shown, "failed", "no such file or folder"))
    return files, problems


def _walk_confined(folder: Path, files: list[Path], problems: list[IngestResult]) -> None:
    """A server-folder walk that follows no symbolic link and reports each one it meets."""
    for here, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(here)
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                problems.append(IngestResult(str(base / name), "failed", SYMLINK_REFUSED))
        for name in sorted(filenames):
            child = base / name
            if name.startswith(".") or child.suffix.lower().lstrip(".") not in FOLDER_EXTENSIONS:
                continue
            if child.is_symlink():
                problems.append(IngestResult(str(child), "failed", SYMLINK_REFUSED))
            else:
                files.append(child)


def _descriptor_path(fd: int, named: Path) -> Path | None:
    """Where an open file really is, asked of the descriptor (not of a name that can be swapped);
    None when it can't be told."""
    proc = Path(f"/proc/self/fd/{fd}")
    if proc.exists():  # Linux
        target = os.readlink(proc)
        return None if target.endswith(" (deleted)") else Path(target)
    try:
        import fcntl

        raw = fcntl.fcntl(fd, fcntl.F_GETPATH, b"\0" * 1024)  # macOS
        return Path(os.fsdecode(raw.rstrip(b"\0")))
    except (ImportError, AttributeError, OSError):
        # Elsewhere: the resolved name counts only if it is the very file the descriptor holds.
        real = Path(os.path.realpath(named))
        opened, found = os.fstat(fd), os.stat(real)
        return real if (opened.st_dev, opened.st_ino) == (found.st_dev, found.st_ino) else None


def open_confined(path: Path, root: Path) -> int:
    """Open a file for a server-folder import: not through a symbolic link (O_NOFOLLOW), a regular
    file with no other name (fstat: no hard link), and inside `root` by the descriptor's own
    path. Returns the descriptor; raises Refused with the reason otherwise. Every later read goes
    through this descriptor."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise Refused(SYMLINK_REFUSED) from None
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise Refused(NOT_REGULAR_REFUSED)
        if opened.st_nlink > 1:
            raise Refused(HARDLINK_REFUSED)
        real = _descriptor_path(fd, path)
        if real is None or not real.is_relative_to(root):
            raise Refused(_outside(root))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _private_copy(path: Path, root: Path, store: MediaStore, settings: Settings) -> Path:
    """A copy in the media store's incoming folder of what `open_confined` opened: analysis and
    the store then read this copy, which nobody else can swap. Raises Refused or OSError."""
    fd = open_confined(path, root)
    temp = store.incoming_path()
    try:
        check_size(os.fstat(fd).st_size, settings)
        limit = settings.max_upload_bytes
        copied = 0
        with open(temp, "wb") as out:
            while chunk := os.read(fd, 1 << 20):
                copied += len(chunk)
                if copied > limit:  # grew after the size check
                    raise Refused(f"the file grew past the {settings.max_upload_mb:g} MB size limit while being read")
                out.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    return temp


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
    store = store or open_media_store(settings)
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
            # An absolute path: a worker elsewhere (a Dask cluster) has another working directory.
            index[AnalysisJob(os.path.abspath(path), source, hint, sha, settings.max_duration_s)] = i

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
    """Ingest files and folders (the CLI `import` and the curator's server-folder import).

    With `root`, each file is opened once without following links and checked on that descriptor
    (`open_confined`); what is analysed and stored is a private copy read from it, so a file
    swapped after the check (for a link out of the root, say) is never read from outside."""
    files, problems = collect_audio_files(paths, root=root)
    if root is None:
        summary = ingest_files(
            files, settings=settings, progress=progress, workers=workers, tagger=tagger, executor=executor
        )
        summary.results[:0] = problems
        return summary
    settings = settings or get_settings()
    root = root.resolve()
    store = open_media_store(settings)
    total = len(problems) + len(files)
    results: list[IngestResult] = []

    def report(result: IngestResult) -> None:
        results.append(result)
        if progress is not None:
            progress(len(results), total, result)

    for problem in problems:
        report(problem)
    for start in range(0, len(files), CONFINED_BATCH):
        batch = files[start : start + CONFINED_BATCH]
        copies: list[tuple[Path, Path]] = []
        try:
            for path in batch:
                try:
                    copies.append((path, _private_copy(path, root, store, settings)))
                except Refused as exc:
                    report(IngestResult(str(path), "failed", str(exc)))
                except OSError as exc:
                    report(IngestResult(str(path), "failed", f"cannot read the file: {exc.strerror or exc}"))
            if copies:
                ingest_files(
                    [copy for _, copy in copies],
                    settings=settings,
                    store=store,
                    progress=lambda _done, _n, result: report(result),
                    workers=workers,
                    name_hints=[path.name for path, _ in copies],
                    sources=[str(path) for path, _ in copies],
                    tagger=tagger,
                    executor=executor,
                )
        finally:
            for _, copy in copies:
                copy.unlink(missing_ok=True)
    return ImportSummary(results)


def ingest_bytes(
    data: bytes,
    filename: str,
    *,
    settings: Settings | None = None,
    workers: int | None = None,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
    spooled: Callable[[], None] | None = None,
) -> IngestResult:
    """Ingest one upload held in memory (the curator page). Uses the same path as files, with
    one analysis worker (the warm pool's, when uploads come one after another).

    The bytes are written to the media store's incoming folder first and this function lets go
    of them; `spooled()` is then called (also for a refused file), for the caller to drop its
    own copy (the upload widget's) before the song is analysed and stored."""
    settings = settings or get_settings()
    name = sanitize_name(filename)
    try:
        check_size(len(data), settings)
    except Refused as exc:
        del data
        if spooled is not None:
            spooled()
        return IngestResult(name, "failed", str(exc))
    store = open_media_store(settings)
    temp = store.incoming_path()
    try:
        with open(temp, "wb") as f:
            f.write(data)
        del data
        if spooled is not None:
            spooled()
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
