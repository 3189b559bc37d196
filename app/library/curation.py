"""What the Curate page asks of the library and the catalog: the catalog's counts, a search
for the review table (every filter in the query, "needs review" included), applying a curator's
table edits, uploads, re-tagging and server-folder imports with their results as rows, and a
track's stored audio and mood timeline.

Each call opens its own short transaction(s), so the page never holds a database session; the
page renders what comes back and nothing else.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from app.catalog import repository
from app.catalog.db import DatabaseUnavailable, ping, session_scope
from app.catalog.media import MediaPathError, MediaStore, open_media_store
from app.catalog.models import Track
from app.catalog.repository import TAGGED_BY
from app.catalog.summary import TrackSummary
from app.config import Settings, get_settings
from app.emotions import QUADRANT_VA, QUADRANTS, quadrant_of
from app.library.ingest import IngestResult, Progress, ingest_bytes, ingest_paths
from app.library.retag import RetagProgress, RetagResult, retag_catalog
from app.library.tagging import IngestSetupError
from app.music.tagger import REVIEW_BELOW, needs_review

__all__ = [
    "CATALOG_COLUMNS",
    "EDITABLE_COLUMNS",
    "PAGE_SIZE",
    "RESULT_COLUMNS",
    "REVIEW_BELOW",
    "TAGGED_BY",
    "TIMELINE_COLUMNS",
    "OUTAGE_ERRORS",
    "EditOutcome",
    "ImportStopped",
    "IngestResult",
    "IngestSetupError",
    "RetagResult",
    "Upload",
    "add_uploads",
    "apply_edits",
    "TrackBackup",
    "catalog_frame",
    "confidence_label",
    "discard_undo",
    "find_tracks",
    "import_folder",
    "model_tagged_count",
    "needs_tags",
    "project_into",
    "quadrant_counts",
    "resolve_import_folder",
    "result_rows",
    "retag",
    "tagged_by_label",
    "track_audio",
    "track_timeline",
    "undo",
]

log = logging.getLogger(__name__)

# What a catalog outage raises (the SQLite guard's DatabaseReplaced is both).
OUTAGE_ERRORS = (SQLAlchemyError, DatabaseUnavailable)
DB_FAILURES_BEFORE_STOP = 3  # failed files in a row, with the database not answering, before an import stops
UNKNOWN_ARTIST = "Unknown artist"  # what ingest and the repository write when a file has no artist tag

PAGE_SIZE = 200  # rows in the review table; filters run in the query, so these are the first matches
EDITABLE_COLUMNS = ("title", "artist", "album", "quadrant", "valence", "arousal", "delete")
RESULT_COLUMNS = (
    "file",
    "status",
    "title",
    "artist",
    "duration_s",
    "quadrant",
    "valence",
    "arousal",
    "confidence",
    "message",
)
CATALOG_COLUMNS = (
    "id",
    "title",
    "artist",
    "album",
    "quadrant",
    "valence",
    "arousal",
    "tagged_by",
    "tagged",
    "confidence",
    "certainty",
    "duration_s",
    "hint",
    "delete",
)
# A track's mood timeline as the page charts it: one row per segment (`track_timeline`).
TIMELINE_COLUMNS = ("start_s", "end_s", "valence", "arousal", "quadrant")
# Above REVIEW_BELOW a tag is "fairly sure" up to here, then "sure": words for the review table.
SURE_FROM = 0.75
_VERSION_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def tagged_by_label(tagged_by: str | None) -> str:
    """Who set a track's mood, in words: "curator", or "model trained 24 Nov" from a model
    version such as ``model:music-logreg_c0.01-emotify-20261124`` ("model" when it carries no
    date). The date is the model's, not the tag's: a track added later reads the same."""
    if not tagged_by:
        return ""
    if not tagged_by.startswith("model:"):
        return tagged_by
    found = _VERSION_DATE.search(tagged_by)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        return "model"
    return f"model trained {int(found.group(3))} {_MONTHS[int(found.group(2)) - 1]}"


def confidence_label(confidence: float | None) -> str:
    """The model's confidence in words for the review table: "unsure 42 %" (below REVIEW_BELOW,
    what the "needs review" filter lists), "fairly sure 63 %", "sure 91 %"; empty when a curator
    set the mood (or the tag predates stored confidences)."""
    if confidence is None or not math.isfinite(confidence):
        return ""
    word = "unsure" if needs_review(confidence) else "fairly sure" if confidence < SURE_FROM else "sure"
    return f"{word} {round(100 * confidence)} %"


def needs_tags(title: str | None, artist: str | None) -> bool:
    """A track whose file had no artist tag (its title then came from the file name)."""
    return not artist or artist == UNKNOWN_ARTIST or not title


def project_into(quadrant: str, valence: float, arousal: float) -> tuple[float, float]:
    """The point mirrored into ``quadrant`` (same distance from each axis, that quadrant's signs),
    so an override keeps how strong the mood was instead of jumping to the quadrant's centre."""
    sv, sa = (math.copysign(1.0, c) for c in QUADRANT_VA[quadrant])
    # Off the axis by a hair: a point on an axis belongs to the positive side (quadrant_of).
    return sv * max(abs(float(valence)), 0.01), sa * max(abs(float(arousal)), 0.01)


# ----------------------------------------------------------------------------- reading


def quadrant_counts() -> dict[str, int]:
    with session_scope() as s:
        return repository.counts_by_quadrant(s)


def model_tagged_count() -> int:
    """How many tracks a re-tag may change (every one a curator hasn't set)."""
    with session_scope() as s:
        return len(repository.model_tagged_track_ids(s))


def catalog_frame(tracks: Iterable[TrackSummary]) -> pd.DataFrame:
    rows = [
        {
            "id": t.track_id,
            "title": t.title,
            "artist": t.artist,
            "album": t.album or "",
            "quadrant": t.quadrant,
            "valence": round(t.valence, 3),
            "arousal": round(t.arousal, 3),
            "tagged_by": t.tagged_by,
            "tagged": tagged_by_label(t.tagged_by),
            "confidence": t.confidence,
            "certainty": confidence_label(t.confidence),
            "duration_s": round(t.duration_s, 1),
            "hint": "fix title/artist" if needs_tags(t.title, t.artist) else "",
            "delete": False,
        }
        for t in tracks
    ]
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))


def find_tracks(
    query: str,
    quadrant: str | None,
    tagged_by: str | None,
    limit: int = PAGE_SIZE,
    *,
    needs_review: bool = False,
) -> pd.DataFrame:
    """The review table: title/artist/album substring, mood quadrant and who tagged it
    ("curator", "model" or None), at most ``limit`` rows. With ``needs_review``, only the model
    tags less confident than REVIEW_BELOW, least sure first (where a curator's time helps most)."""
    with session_scope() as s:
        tracks = repository.search_tracks(
            s,
            query,
            quadrant=quadrant,
            tagged_by=tagged_by,
            confidence_below=REVIEW_BELOW if needs_review else None,
            limit=limit,
        )
    return catalog_frame(tracks)


def track_timeline(track_id: int) -> pd.DataFrame:
    """A track's mood segment by segment (TIMELINE_COLUMNS, in time order, each segment's quadrant
    from its point); empty when the track or its timeline is missing."""
    with session_scope() as s:
        found = repository.track_summaries(s, [int(track_id)])
    points = found[0].timeline if found else ()
    rows = [(a, b, v, r, quadrant_of(v, r)) for a, b, v, r in points]
    return pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))


def track_audio(track_id: int, store: MediaStore | None = None) -> Path | str | None:
    """A track's stored audio: its file on disk (a folder store) or a URL the browser fetches
    from the bucket; None when the track or its file is gone. Never leaves the media store (a
    key outside it is refused)."""
    with session_scope() as s:
        found = repository.track_summaries(s, [int(track_id)])
    if not found:
        return None
    store = store or open_media_store()
    key = found[0].media_path
    try:
        return store.local_path(key) or (store.playback_url(key) if store.exists(key) else None)
    except MediaPathError:
        return None


def result_rows(results: Sequence[IngestResult | RetagResult]) -> pd.DataFrame:
    """One row per uploaded, imported or re-tagged file: the track's mood as it is now, else the
    reason it failed."""
    ids = [r.track_id for r in results if r.track_id is not None]
    try:
        with session_scope() as s:
            tracks = {t.track_id: t for t in repository.track_summaries(s, ids)}
    except OUTAGE_ERRORS as exc:  # the results are still worth showing: from what the import said
        log.warning("result table without catalog details (database unavailable): %s", type(exc).__name__)
        tracks = {}
    rows = []
    for r in results:
        t = tracks.get(r.track_id) if r.track_id is not None else None
        rows.append(
            {
                "file": r.source,
                "status": r.status,
                "title": t.title if t else r.title,
                "artist": t.artist if t else r.artist,
                "duration_s": round(t.duration_s, 1) if t else None,
                "quadrant": t.quadrant if t else r.quadrant,
                "valence": round(t.valence, 3) if t else None,
                "arousal": round(t.arousal, 3) if t else None,
                "confidence": round(t.confidence, 3) if t and t.confidence is not None else None,
                "message": r.message
                + ("; fix title/artist (the file has no tags)" if r.ok and needs_tags(r.title, r.artist) else ""),
            }
        )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


# ----------------------------------------------------------------------------- bringing music in


class Upload(Protocol):
    """An uploaded file as the page holds it (Streamlit's UploadedFile is one)."""

    name: str

    def getvalue(self) -> bytes: ...


class ImportStopped(RuntimeError):
    """The catalog database stopped answering during an import or upload: it stopped there,
    and what was done before is kept (the message says how far it got)."""


def _stop_on_outage(progress: Progress) -> Progress:
    """``progress`` that raises ImportStopped once DB_FAILURES_BEFORE_STOP files in a row failed
    while the database didn't answer, instead of failing every remaining file the same way."""
    failures = 0

    def guarded(done: int, total: int, result: IngestResult) -> None:
        nonlocal failures
        progress(done, total, result)
        if result.status != "failed":
            failures = 0
            return
        try:
            ping()
        except DatabaseUnavailable:
            failures += 1
        else:
            failures = 0
        if failures >= DB_FAILURES_BEFORE_STOP:
            log.warning("import stopped after %d of %d files: the catalog database is unavailable", done, total)
            raise ImportStopped(f"the catalog database stopped answering; stopped after {done} of {total} files")

    return guarded


def _outage_stops(done: int) -> ImportStopped:
    log.warning("import stopped after %d files: the catalog database is unavailable", done)
    return ImportStopped(f"the catalog database is unavailable; stopped after {done} file(s)")


def add_uploads(
    files: Sequence[Upload],
    progress: Progress,
    settings: Settings | None = None,
    release: Callable[[Upload], None] | None = None,
) -> None:
    """Tag and add each upload, reporting each result through ``progress(done, total, result)``.
    ``release(upload)`` is called once that upload's bytes are on disk (or it was refused), before
    it is analysed, so the page can drop them from memory (it may be called again after).
    Raises IngestSetupError when the import can't start (e.g. no mood model) and ImportStopped
    when the database stops answering."""
    settings = settings or get_settings()
    guarded = _stop_on_outage(progress)
    for i, f in enumerate(files, 1):
        let_go = None if release is None else partial(release, f)
        try:
            result = ingest_bytes(f.getvalue(), f.name, settings=settings, spooled=let_go)
        except OUTAGE_ERRORS:
            raise _outage_stops(i - 1) from None
        finally:
            if let_go is not None:
                let_go()
        guarded(i, len(files), result)


def retag(progress: RetagProgress) -> None:
    """Re-run the mood model on every track a curator hasn't set."""
    retag_catalog(progress=progress)


def resolve_import_folder(root: Path | None, relative: str) -> Path:
    """The folder a curator asked to import, which must lie inside the configured import root."""
    if root is None:
        raise PermissionError("server-folder import is off: set MOODTUNE_IMPORT_ROOT to enable it")
    if "\x00" in relative:
        raise PermissionError("invalid folder name")
    root = root.resolve()
    candidate = (root / relative.strip().lstrip("/")).resolve() if relative.strip() else root
    if not candidate.is_relative_to(root):
        raise PermissionError(f"only folders inside {root} can be imported")
    if not candidate.is_dir():
        raise FileNotFoundError(f"no such folder inside the import root: {relative}")
    return candidate


def import_folder(folder: Path, progress: Progress, settings: Settings | None = None) -> None:
    """Import a folder that ``resolve_import_folder`` accepted, confined to the import root."""
    settings = settings or get_settings()
    seen: list[IngestResult] = []

    def counted(done: int, total: int, result: IngestResult) -> None:
        seen.append(result)
        progress(done, total, result)

    try:
        ingest_paths([folder], settings=settings, root=settings.import_root, progress=_stop_on_outage(counted))
    except OUTAGE_ERRORS:  # e.g. the duplicate check of the next batch
        raise _outage_stops(len(seen)) from None


# ----------------------------------------------------------------------------- editing


@dataclass(frozen=True)
class TrackBackup:
    """A track as it was before a save: what undo puts back. For a deleted track, ``held_file``
    is a copy of its audio kept in the media store's temp area (swept when the app restarts,
    which is when an undo expires at the latest)."""

    track: TrackSummary
    sha256: str  # the one thing a summary leaves out that a re-added row needs
    held_file: Path | None = None

    @property
    def track_id(self) -> int:
        return self.track.track_id

    @classmethod
    def of(cls, track: Track, held_file: Path | None = None) -> TrackBackup:
        return cls(TrackSummary.of(track), track.sha256, held_file)


@dataclass
class EditOutcome:
    updated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    backups: list[TrackBackup] = field(default_factory=list)  # what undo restores
    titles: dict[int, str] = field(default_factory=dict)  # track id -> title, for the confirmation


def _changed(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return not math.isclose(float(a), float(b), abs_tol=5e-4)
        except (TypeError, ValueError):
            return True
    return (a or "") != (b or "")


def _hold_file(track: Track, store: MediaStore) -> Path:
    """A copy of a deleted track's audio, in the store's temp area (this process owns it)."""
    held = store.incoming_path(".held")
    try:
        store.download(track.media_path, held)
    except BaseException:
        held.unlink(missing_ok=True)
        raise
    return held


def apply_edits(original: pd.DataFrame, edited: pd.DataFrame, store: MediaStore | None = None) -> EditOutcome:
    """Save what the curator changed in the table. Each track is its own transaction, so one
    bad row (e.g. a point outside the chosen quadrant) doesn't lose the others.

    A change of quadrant, valence or arousal becomes a curator tag (kept by re-tagging); a new
    valence/arousal decides the quadrant, a new quadrant alone mirrors the track's point into it
    (``project_into``). Each changed or deleted track is backed up in the outcome for ``undo``.
    Raises one of OUTAGE_ERRORS only when the database fails (the rows saved before it stay saved).
    """
    outcome = EditOutcome()
    store = store or open_media_store()
    before = original.set_index("id")
    for _, row in edited.iterrows():
        track_id = int(row["id"])
        if track_id not in before.index:
            continue
        old = before.loc[track_id]
        held: Path | None = None
        try:
            with session_scope() as s:
                track = repository.get_track(s, track_id)
                if track is None:
                    raise LookupError(f"no track with id {track_id}")
                if bool(row.get("delete", False)):
                    try:
                        held = _hold_file(track, store)
                    except (OSError, MediaPathError):
                        held = None  # the file was already gone: undo restores the row alone
                    backup = TrackBackup.of(track, held)
                    if repository.delete_track(s, track_id, store):
                        outcome.deleted.append(track_id)
                        outcome.backups.append(backup)
                        outcome.titles[track_id] = backup.track.title
                    continue
                backup = TrackBackup.of(track)
                text_changes = {
                    col: str(row[col]) for col in ("title", "artist", "album") if _changed(row[col], old[col])
                }
                if text_changes:
                    repository.update_track(s, track_id, **text_changes)
                va_changed = _changed(row["valence"], old["valence"]) or _changed(row["arousal"], old["arousal"])
                quadrant_changed = _changed(row["quadrant"], old["quadrant"])
                if va_changed:
                    valence, arousal = float(row["valence"]), float(row["arousal"])
                    if not (-1 <= valence <= 1 and -1 <= arousal <= 1):
                        raise ValueError("valence and arousal must be within [-1, 1]")
                    repository.set_track_mood_by_curator(
                        s, track_id, quadrant_of(valence, arousal), valence=valence, arousal=arousal
                    )
                elif quadrant_changed:
                    if row["quadrant"] not in QUADRANTS:
                        raise ValueError(f"unknown quadrant {row['quadrant']!r}")
                    valence, arousal = project_into(str(row["quadrant"]), track.valence, track.arousal)
                    repository.set_track_mood_by_curator(
                        s, track_id, str(row["quadrant"]), valence=valence, arousal=arousal
                    )
                if text_changes or va_changed or quadrant_changed:
                    outcome.updated.append(track_id)
                    outcome.backups.append(backup)
                    outcome.titles[track_id] = str(row["title"])
        except (LookupError, ValueError) as exc:
            _drop(held)
            outcome.errors.append(f"track {track_id}: {exc}")
        except OUTAGE_ERRORS:
            _drop(held)
            log.warning("saving curator edits stopped: the catalog database is unavailable", exc_info=True)
            outcome.errors.append("the catalog database is unavailable: the remaining changes were not saved")
            break
    return outcome


def _drop(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def discard_undo(outcome: EditOutcome) -> None:
    """The undo window closed: let go of the held audio of deleted tracks."""
    for backup in outcome.backups:
        _drop(backup.held_file)


def undo(outcome: EditOutcome, store: MediaStore | None = None) -> list[str]:
    """Put every track a save changed or deleted back as it was; returns the problems (empty
    when all is back). A deleted track comes back with its audio, mood and tags under a new id;
    its listening history went with the delete."""
    store = store or open_media_store()
    problems: list[str] = []
    for b in outcome.backups:
        t = b.track
        try:
            with session_scope() as s:
                if b.track_id in outcome.deleted:
                    if b.held_file is None or not b.held_file.is_file():
                        raise LookupError("its audio file is gone")
                    rel, _ = store.put_file(b.held_file, b.sha256, t.format)
                    repository.add_track(
                        s,
                        title=t.title,
                        artist=t.artist,
                        album=t.album,
                        duration_s=t.duration_s,
                        sha256=b.sha256,
                        media_path=rel,
                        format=t.format,
                        quadrant=t.quadrant,
                        valence=t.valence,
                        arousal=t.arousal,
                        probabilities=t.probabilities,
                        tagged_by=t.tagged_by,
                        confidence=t.confidence,
                        timeline=t.timeline,
                    )
                else:
                    track = s.get(Track, b.track_id)
                    if track is None:
                        raise LookupError("it was deleted since")
                    track.title, track.artist, track.album = t.title, t.artist, t.album
                    track.set_mood(t.quadrant, t.valence, t.arousal, dict(t.probabilities), confidence=t.confidence)
                    track.tagged_by = t.tagged_by
        except (LookupError, ValueError, OSError) as exc:
            problems.append(f"“{t.title}” could not be put back: {exc}")
        except OUTAGE_ERRORS:
            log.warning("undo failed: the catalog database is unavailable", exc_info=True)
            problems.append(f"“{t.title}” could not be put back: the catalog database is unavailable")
    discard_undo(outcome)
    return problems
