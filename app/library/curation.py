"""What the Curate page asks of the library and the catalog: the catalog's counts, a search
for the review table (every filter in the query), applying a curator's table edits, uploads,
re-tagging and server-folder imports with their results as rows, and a track's stored audio.

Each call opens its own short transaction(s), so the page never holds a database session; the
page renders what comes back and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import MediaPathError, MediaStore
from app.catalog.repository import TAGGED_BY
from app.catalog.summary import TrackSummary
from app.config import Settings, get_settings
from app.emotions import QUADRANTS, quadrant_of
from app.library.ingest import IngestResult, Progress, ingest_bytes, ingest_paths
from app.library.retag import RetagProgress, RetagResult, retag_catalog
from app.library.tagging import IngestSetupError

__all__ = [
    "CATALOG_COLUMNS",
    "EDITABLE_COLUMNS",
    "PAGE_SIZE",
    "RESULT_COLUMNS",
    "TAGGED_BY",
    "EditOutcome",
    "IngestResult",
    "IngestSetupError",
    "RetagResult",
    "Upload",
    "add_uploads",
    "apply_edits",
    "catalog_frame",
    "find_tracks",
    "import_folder",
    "model_tagged_count",
    "quadrant_counts",
    "resolve_import_folder",
    "result_rows",
    "retag",
    "track_audio",
]

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
    "duration_s",
    "delete",
)


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
            "duration_s": round(t.duration_s, 1),
            "delete": False,
        }
        for t in tracks
    ]
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))


def find_tracks(query: str, quadrant: str | None, tagged_by: str | None, limit: int = PAGE_SIZE) -> pd.DataFrame:
    """The review table: title/artist/album substring, mood quadrant and who tagged it
    ("curator", "model" or None), at most ``limit`` rows."""
    with session_scope() as s:
        tracks = repository.search_tracks(s, query, quadrant=quadrant, tagged_by=tagged_by, limit=limit)
    return catalog_frame(tracks)


def track_audio(track_id: int, store: MediaStore | None = None) -> Path | None:
    """A track's stored audio file, or None when the track or its file is gone. Never leaves
    the media store (MediaStore.resolve refuses paths outside it)."""
    with session_scope() as s:
        found = repository.track_summaries(s, [int(track_id)])
    if not found:
        return None
    try:
        path = (store or MediaStore()).resolve(found[0].media_path)
    except MediaPathError:
        return None
    return path if path.is_file() else None


def result_rows(results: Sequence[IngestResult | RetagResult]) -> pd.DataFrame:
    """One row per uploaded, imported or re-tagged file: the track's mood as it is now, else the
    reason it failed."""
    ids = [r.track_id for r in results if r.track_id is not None]
    with session_scope() as s:
        tracks = {t.track_id: t for t in repository.track_summaries(s, ids)}
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
                "confidence": round(max(t.probabilities.values()), 3) if t else None,
                "message": r.message,
            }
        )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


# ----------------------------------------------------------------------------- bringing music in


class Upload(Protocol):
    """An uploaded file as the page holds it (Streamlit's UploadedFile is one)."""

    name: str

    def getvalue(self) -> bytes: ...


def add_uploads(files: Sequence[Upload], progress: Progress, settings: Settings | None = None) -> None:
    """Tag and add each upload, reporting each result through ``progress(done, total, result)``.
    Raises IngestSetupError when the import can't start (e.g. no mood model)."""
    settings = settings or get_settings()
    for i, f in enumerate(files, 1):
        progress(i, len(files), ingest_bytes(f.getvalue(), f.name, settings=settings))


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
    ingest_paths([folder], settings=settings, root=settings.import_root, progress=progress)


# ----------------------------------------------------------------------------- editing


@dataclass
class EditOutcome:
    updated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _changed(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return not math.isclose(float(a), float(b), abs_tol=5e-4)
        except (TypeError, ValueError):
            return True
    return (a or "") != (b or "")


def apply_edits(original: pd.DataFrame, edited: pd.DataFrame) -> EditOutcome:
    """Save what the curator changed in the table. Each track is its own transaction, so one
    bad row (e.g. a point outside the chosen quadrant) doesn't lose the others.

    A change of quadrant, valence or arousal becomes a curator tag (kept by re-tagging); a new
    valence/arousal decides the quadrant, a new quadrant alone moves the track into it.
    """
    outcome = EditOutcome()
    before = original.set_index("id")
    for _, row in edited.iterrows():
        track_id = int(row["id"])
        if track_id not in before.index:
            continue
        old = before.loc[track_id]
        try:
            with session_scope() as s:
                if bool(row.get("delete", False)):
                    if repository.delete_track(s, track_id):
                        outcome.deleted.append(track_id)
                    continue
                text_changes = {
                    col: str(row[col]) for col in ("title", "artist", "album") if _changed(row[col], old[col])
                }
                if text_changes:
                    repository.update_track(s, track_id, **text_changes)
                va_changed = _changed(row["valence"], old["valence"]) or _changed(row["arousal"], old["arousal"])
                if va_changed:
                    valence, arousal = float(row["valence"]), float(row["arousal"])
                    if not (-1 <= valence <= 1 and -1 <= arousal <= 1):
                        raise ValueError("valence and arousal must be within [-1, 1]")
                    repository.set_track_mood_by_curator(
                        s, track_id, quadrant_of(valence, arousal), valence=valence, arousal=arousal
                    )
                elif _changed(row["quadrant"], old["quadrant"]):
                    if row["quadrant"] not in QUADRANTS:
                        raise ValueError(f"unknown quadrant {row['quadrant']!r}")
                    repository.set_track_mood_by_curator(s, track_id, str(row["quadrant"]))
                if text_changes or va_changed or _changed(row["quadrant"], old["quadrant"]):
                    outcome.updated.append(track_id)
        except (LookupError, ValueError) as exc:
            outcome.errors.append(f"track {track_id}: {exc}")
    return outcome
