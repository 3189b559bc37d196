"""Curator actions without Streamlit: upload results as rows, the catalog as an editable table,
and applying a curator's table edits through the repository (ORM parameters only)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.ingest import IngestResult
from app.catalog.models import Track
from app.emotions import QUADRANTS, quadrant_of

EDITABLE_COLUMNS = ("title", "artist", "album", "quadrant", "valence", "arousal", "delete")
RESULT_COLUMNS = ("file", "status", "title", "artist", "duration_s", "quadrant", "valence", "arousal", "confidence", "message")
CATALOG_COLUMNS = ("id", "title", "artist", "album", "quadrant", "valence", "arousal", "tagged_by", "duration_s", "delete")


def result_rows(results: Sequence[IngestResult]) -> pd.DataFrame:
    """One row per uploaded/imported file: the track's mood when it went in, else the reason."""
    ids = [r.track_id for r in results if r.track_id is not None]
    with session_scope() as s:
        tracks = {t.id: t for t in repository.get_tracks(s, ids)}
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


def catalog_frame(tracks: Iterable[Track]) -> pd.DataFrame:
    rows = [
        {
            "id": t.id, "title": t.title, "artist": t.artist, "album": t.album or "",
            "quadrant": t.quadrant, "valence": round(t.valence, 3), "arousal": round(t.arousal, 3),
            "tagged_by": t.tagged_by, "duration_s": round(t.duration_s, 1), "delete": False,
        }
        for t in tracks
    ]
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))


def find_tracks(query: str, quadrant: str | None, tagged_by: str | None, limit: int = 200) -> pd.DataFrame:
    """Search the catalog (title/artist/album substring; bounded) for the review table."""
    with session_scope() as s:
        tracks = repository.search_tracks(s, query, quadrant=quadrant, limit=limit)
        if tagged_by == "curator":
            tracks = [t for t in tracks if t.tagged_by == repository.CURATOR]
        elif tagged_by == "model":
            tracks = [t for t in tracks if t.tagged_by != repository.CURATOR]
        return catalog_frame(tracks)


@dataclass
class EditOutcome:
    updated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _changed(a, b) -> bool:
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
