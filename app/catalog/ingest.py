"""Ingest audio into the catalog: all or nothing per file.

For each file: size limit (from the file system, before reading) → content hash → duplicate
check → real type from magic bytes (never the extension) → decode check and duration limit →
title/artist/album from tags (mutagen) with a file-name fallback → mood from the music model →
content-addressed copy into the media store → one database row. Any failure leaves no row, no
media file and no temp file, and yields a result whose message names the problem or the limit.

Analysis (decode + mood model) runs in worker processes (`_AnalysisPool`): both cores for bulk
imports, and the app's own process never loads the mood model's libraries. The database and the
media store are written only by the calling process.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.config import Settings, get_settings

from . import repository
from .db import session_scope
from .media import MediaStore

log = logging.getLogger(__name__)

# Extensions looked at when walking a folder (content is still sniffed); files named
# explicitly are always tried.
AUDIO_EXTENSIONS = frozenset({"mp3", "wav", "wave", "flac", "ogg", "oga", "opus", "aif", "aiff", "m4a", "aac", "wma"})
# Formats soundfile decodes and the app stores/plays.
ACCEPTED_FORMATS = ("wav", "flac", "mp3", "ogg", "opus", "aiff")
TAIL_CHECK_S = 2.0
ANALYSIS_IDLE_S = 120.0


class IngestSetupError(RuntimeError):
    """The import can't start at all (e.g. the mood model is missing)."""


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


@dataclass(frozen=True)
class _Analysis:
    """What a worker found out about one file (no side effects yet)."""

    source: str
    path: str
    sha256: str
    ext: str
    duration_s: float
    title: str
    artist: str
    album: str | None
    quadrant: str
    valence: float
    arousal: float
    probabilities: dict[str, float]
    tagged_by: str


# ----------------------------------------------------------------------------- names


def sanitize_name(name: str | None) -> str:
    """A display-safe file name: last path component only, no NUL/control characters, NFC."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable())
    text = " ".join(text.split()).strip(". ")
    return text[:200] or "upload"


def title_artist_from_name(name: str) -> tuple[str, str | None]:
    """'Artist - Title.mp3' → ('Title', 'Artist'); 'my_song.wav' → ('my song', None)."""
    stem = sanitize_name(name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    stem = " ".join(stem.replace("_", " ").split())
    if " - " in stem:
        artist, title = (part.strip() for part in stem.split(" - ", 1))
        if artist and title:
            return title, artist
    return stem or "Untitled", None


# ----------------------------------------------------------------------------- sniffing


def sniff_format(head: bytes) -> str | None:
    """Container type from the first bytes, or None if it isn't audio we know."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[:128] else "ogg"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        return "mp3"
    # MPEG audio frame sync (11 bits) with a valid layer; layer bits 00 would be AAC ADTS.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "m4a"
    return None


_NOT_AUDIO = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"\x7fELF": "a program",
    b"<": "a text/HTML file",
}


def _describe_non_audio(head: bytes) -> str:
    for magic, what in _NOT_AUDIO.items():
        if head.startswith(magic):
            return f"not an audio file: the content is {what}"
    return "not an audio file: the content matches no supported audio format (MP3, WAV, FLAC, Ogg Vorbis/Opus, AIFF)"


# ----------------------------------------------------------------------------- analysis


def _format_mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def _format_duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _read_tags(path: str) -> dict[str, str]:
    """title/artist/album from the file's tags; {} when it has none or mutagen can't read them."""
    import mutagen

    found: dict[str, str] = {}
    try:
        audio = mutagen.File(path, easy=True)
        if audio is not None and audio.tags is not None:
            for key in ("title", "artist", "album"):
                values = audio.tags.get(key) if hasattr(audio.tags, "get") else None
                if values:
                    found[key] = str(values[0])
        if not found:  # WAV/AIFF carry ID3 frames but have no "easy" interface
            audio = mutagen.File(path)
            tags = getattr(audio, "tags", None)
            for key, frame in (("title", "TIT2"), ("artist", "TPE1"), ("album", "TALB")):
                if tags is not None and hasattr(tags, "get") and tags.get(frame):
                    found[key] = str(tags.get(frame).text[0])
    except Exception:  # tags are optional; a broken tag block must not fail the import
        log.debug("could not read tags of %s", path, exc_info=True)
    return {k: repository.clean_text(v) for k, v in found.items() if repository.clean_text(v)}


def _load_tagger():
    try:
        from app.music import MoodTagger

        return MoodTagger.load()
    except Exception as exc:
        raise IngestSetupError(f"the music mood model could not be loaded: {exc}") from None


def _tagger_version(tagger: Any) -> str:
    return str(getattr(tagger, "version", None) or getattr(type(tagger), "version", "unknown"))


def _wav_declared_data_shortfall(path: str) -> int:
    """Bytes of audio data a RIFF/WAVE header declares beyond the end of the file (0 when it
    fits, or when the size is left open as streaming writers do)."""
    import struct

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return 0
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):
                    return 0
                return max(0, offset + 8 + chunk_size - size)
            offset += 8 + chunk_size + (chunk_size & 1)
    return 0


def _analyse(path: str, source: str, name_hint: str, sha256: str, max_duration_s: float) -> _Analysis | IngestResult:
    """Validate, read tags and tag the mood of one file. Runs in a worker process; no side effects."""
    from app.music.audio import AudioError, load_audio, probe

    def fail(message: str) -> IngestResult:
        return IngestResult(source, "failed", message)

    with open(path, "rb") as f:
        head = f.read(4096)
    fmt = sniff_format(head)
    if fmt is None:
        return fail(_describe_non_audio(head))
    if fmt not in ACCEPTED_FORMATS:
        return fail(f"unsupported audio format {fmt.upper()}; use MP3, WAV, FLAC, Ogg Vorbis/Opus or AIFF")
    try:
        info = probe(path)
    except AudioError as exc:
        return fail(f"cannot decode this {fmt.upper()} file: {exc}")
    if info.duration_s > max_duration_s:
        return fail(
            f"audio is {_format_duration(info.duration_s)} long, over the {_format_duration(max_duration_s)} "
            f"duration limit (MOODTUNE_MAX_DURATION_S={max_duration_s:g})"
        )
    try:
        load_audio(path, sr=info.sample_rate, duration_s=min(5.0, info.duration_s))
    except AudioError as exc:
        return fail(f"cannot decode this {fmt.upper()} file: {exc}")
    declared = _wav_declared_data_shortfall(path) if fmt == "wav" else 0
    if declared > 0:
        # libsndfile quietly plays a cut-off WAV as a shorter one; the header knows better.
        return fail(f"the WAV file is truncated: its header declares {_format_mb(declared)} more audio data than the file holds")
    if info.duration_s > 2 * TAIL_CHECK_S:
        # A cut-off file still has a header promising the full length: decoding its end fails.
        try:
            load_audio(path, sr=info.sample_rate, offset_s=info.duration_s - TAIL_CHECK_S, duration_s=TAIL_CHECK_S)
        except AudioError:
            return fail(
                f"the {fmt.upper()} file is truncated: its header declares {_format_duration(info.duration_s)} "
                "but the audio data ends early"
            )
    tags = _read_tags(path)
    fallback_title, fallback_artist = title_artist_from_name(name_hint)
    try:
        tagger = _load_tagger()
        mood = tagger.tag(path)
    except IngestSetupError as exc:
        return fail(str(exc))
    except AudioError as exc:
        return fail(f"cannot decode this {fmt.upper()} file: {exc}")
    except Exception as exc:  # the model must not take the whole import down
        log.exception("mood tagging failed for %s", source)
        return fail(f"mood tagging failed: {type(exc).__name__}: {exc}")
    return _Analysis(
        source=source,
        path=path,
        sha256=sha256,
        ext=fmt,
        duration_s=float(info.duration_s),
        title=tags.get("title") or fallback_title,
        artist=tags.get("artist") or fallback_artist or "Unknown artist",
        album=tags.get("album"),
        quadrant=mood.quadrant,
        valence=float(mood.valence),
        arousal=float(mood.arousal),
        probabilities={q: float(p) for q, p in mood.probabilities.items()},
        tagged_by=f"model:{_tagger_version(tagger)}",
    )


def _analyse_job(job: tuple[str, str, str, str, float]) -> _Analysis | IngestResult:
    path, source, name_hint, sha256, max_duration_s = job
    try:
        return _analyse(path, source, name_hint, sha256, max_duration_s)
    except OSError as exc:
        return IngestResult(source, "failed", f"cannot read the file: {exc.strerror or exc}")


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
                quadrant=analysis.quadrant,
                valence=analysis.valence,
                arousal=analysis.arousal,
                probabilities=analysis.probabilities,
                tagged_by=analysis.tagged_by,
            )
            result = IngestResult(source, "imported", f"imported as {analysis.quadrant}", track.id, track.title, track.artist, track.quadrant)
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
            return IngestResult(source, "failed", f"the catalog database is unavailable ({type(exc).__name__}); nothing was stored")
        raise
    return result


# ----------------------------------------------------------------------------- analysis pool


class _AnalysisPool:
    """Worker processes that analyse audio, so the app's own process never loads the mood model
    and its libraries (librosa, numba, SciPy, scikit-learn: about 450 MB measured; see
    `rss_mb` and `analysis_worker_rss_mb` in `python -m app bench`).

    Started on first use and kept while imports keep coming (each worker loads the model once,
    so a curator's uploads one after another don't pay that each time), shut down after
    ANALYSIS_IDLE_S without work so the memory goes back. forkserver: workers start from a clean
    process, safe even though the caller has threads (the Streamlit server does)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._size = 0
        self._busy = 0
        self._idle_timer: threading.Timer | None = None

    def acquire(self, workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._executor is not None and self._size < workers and self._busy == 0:
                self._executor.shutdown(wait=False)
                self._executor = None
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)
                self._size = workers
            self._busy += 1
            return self._executor

    def release(self, executor: ProcessPoolExecutor, broken: bool = False) -> None:
        with self._lock:
            self._busy -= 1
            if broken and executor is self._executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            if self._busy == 0 and self._executor is not None:
                self._idle_timer = threading.Timer(ANALYSIS_IDLE_S, self.shutdown_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()

    def shutdown_if_idle(self) -> None:
        with self._lock:
            if self._busy == 0 and self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None


_analysis_pool = _AnalysisPool()


def _check_tagger() -> str:
    """Run in a worker before any file: one clear error if the model can't load there."""
    return _tagger_version(_load_tagger())


def _analysis_outcomes(jobs: list, fn: Callable, workers: int, source_of: Callable[[Any], str]) -> Iterator[tuple[int, Any]]:
    """(index, outcome) for every (index, job) as it is done: in this process when workers is 0,
    else in the analysis pool, where a crashed worker or an exception becomes a failed
    IngestResult for that job. Raises IngestSetupError first if the model can't load."""
    if not jobs:
        return
    if workers <= 0:
        _load_tagger()  # fail fast with one clear error instead of one per file
        for i, job in jobs:
            yield i, fn(job)
        return
    executor = _analysis_pool.acquire(min(workers, len(jobs)))
    broken = False
    try:
        try:
            executor.submit(_check_tagger).result()
        except BrokenProcessPool:
            broken = True
            raise IngestSetupError("the analysis worker could not start (out of memory?)") from None
        futures: dict[Future, tuple[int, Any]] = {executor.submit(fn, job): (i, job) for i, job in jobs}
        for future in as_completed(futures):
            i, job = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool:
                broken = True
                outcome = IngestResult(source_of(job), "failed", "the analysis worker crashed (out of memory?)")
            except Exception as exc:
                outcome = IngestResult(source_of(job), "failed", f"analysis failed: {type(exc).__name__}: {exc}")
            yield i, outcome
    finally:
        _analysis_pool.release(executor, broken)


# ----------------------------------------------------------------------------- public API

Progress = Callable[[int, int, IngestResult], None]


def collect_audio_files(paths: Iterable[str | Path], *, root: Path | None = None) -> tuple[list[Path], list[IngestResult]]:
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
                if child.suffix.lower().lstrip(".") not in AUDIO_EXTENSIONS:
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


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_files(
    files: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    store: MediaStore | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    name_hints: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> ImportSummary:
    """Ingest audio files; one result per file, in the order given.

    `name_hints` (original upload names, for the title fallback) and `sources` (what to call the
    file in messages) default to the paths. Raises IngestSetupError if the mood model can't load.
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

    jobs: list[tuple[int, tuple[str, str, str, str, float]]] = []
    seen: dict[str, str] = {}
    with session_scope(settings.database_url) as session:
        for i, f in enumerate(files):
            path = str(f)
            source = sources[i] if sources else path
            hint = name_hints[i] if name_hints else os.path.basename(path)
            try:
                size = os.stat(path).st_size
                if size == 0:
                    finish(i, IngestResult(source, "failed", "the file is empty (0 bytes)"))
                    continue
                if size > settings.max_upload_bytes:
                    finish(i, IngestResult(source, "failed", f"the file is {_format_mb(size)}, over the {settings.max_upload_mb:g} MB size limit (MOODTUNE_MAX_UPLOAD_MB)"))
                    continue
                sha = _hash_file(Path(path))
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
            jobs.append((i, (path, source, hint, sha, settings.max_duration_s)))

    for i, outcome in _analysis_outcomes(jobs, _analyse_job, workers, lambda job: job[1]):
        finish(i, outcome if isinstance(outcome, IngestResult) else _commit(outcome, store, settings.database_url))
    return ImportSummary([r for r in results if r is not None])


def ingest_paths(
    paths: Iterable[str | Path],
    *,
    settings: Settings | None = None,
    root: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Ingest files and folders (the CLI `import` and the curator's server-folder import)."""
    files, problems = collect_audio_files(paths, root=root)
    summary = ingest_files(files, settings=settings, progress=progress, workers=workers)
    summary.results[:0] = problems
    return summary


def ingest_bytes(data: bytes, filename: str, *, settings: Settings | None = None, workers: int | None = None) -> IngestResult:
    """Ingest one upload held in memory (the curator page). Uses the same path as files, with
    one analysis worker (the warm pool's, when uploads come one after another)."""
    settings = settings or get_settings()
    name = sanitize_name(filename)
    if len(data) > settings.max_upload_bytes:
        return IngestResult(name, "failed", f"the file is {_format_mb(len(data))}, over the {settings.max_upload_mb:g} MB size limit (MOODTUNE_MAX_UPLOAD_MB)")
    store = MediaStore(settings.media_dir)
    temp = store.incoming_path()
    try:
        with open(temp, "wb") as f:
            f.write(data)
        workers = min(1, settings.analysis_workers) if workers is None else workers
        summary = ingest_files([temp], settings=settings, store=store, workers=workers, name_hints=[name], sources=[name])
        return summary.results[0]
    except IngestSetupError as exc:
        return IngestResult(name, "failed", str(exc))
    finally:
        temp.unlink(missing_ok=True)


def _retag_job(job: tuple[int, str]) -> tuple[Any, str] | IngestResult:
    """The mood of one stored track (in a worker): (MoodTag, model version) or a failure."""
    from app.music.audio import AudioError

    track_id, path = job
    tagger = _load_tagger()
    try:
        return tagger.tag(path), _tagger_version(tagger)
    except (AudioError, OSError, ValueError) as exc:
        return IngestResult(str(track_id), "failed", f"could not retag: {exc}", track_id)


def retag_catalog(
    *, settings: Settings | None = None, progress: Progress | None = None, workers: int | None = None
) -> ImportSummary:
    """Re-run the mood model on every track a curator hasn't set (e.g. after retraining)."""
    settings = settings or get_settings()
    workers = settings.analysis_workers if workers is None else workers
    store = MediaStore(settings.media_dir)
    summary = ImportSummary()
    jobs: list[tuple[int, tuple[int, str]]] = []
    with session_scope(settings.database_url) as session:
        for track_id in repository.model_tagged_track_ids(session):
            track = repository.get_track(session, track_id)
            try:
                jobs.append((len(jobs), (track_id, str(store.resolve(track.media_path)))))
            except (OSError, ValueError) as exc:  # MediaPathError is a ValueError
                summary.results.append(IngestResult(track.title, "failed", f"could not retag: {exc}", track_id))
    total = len(jobs) + len(summary.results)
    for i, outcome in _analysis_outcomes(jobs, _retag_job, workers, lambda job: str(job[0])):
        if isinstance(outcome, IngestResult):
            result = outcome
        else:
            tag, version = outcome
            with session_scope(settings.database_url) as session:
                track = repository.get_track(session, jobs[i][1][0])
                if track is None:
                    continue
                repository.set_track_mood_by_model(session, track, tag, version)
                result = IngestResult(track.title, "imported", f"retagged as {track.quadrant}", track.id, track.title, track.artist, track.quadrant)
        summary.results.append(result)
        if progress is not None:
            progress(len(summary.results), total, result)
    return summary
