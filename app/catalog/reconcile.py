"""Reconcile the media store with the catalog rows (`python -m app check [--repair]`).

Three kinds of mismatch, each left by a crash or by hand: a stored file no row points at (an
orphan: the process died between copying the file in and inserting its row), a row whose file
is gone (`missing_files`: never deleted here, only reported, since the row holds the curator's
tags and the listening history), and temp files of interrupted writes.

Both sides are streamed in bounded chunks (rows by id, files one fan-out folder at a time, their
rows looked up by content hash), so memory stays flat on a catalog of a million tracks.

An import running while the check does is left alone: a temp file whose writer is alive is
reported as in flight and never removed, and a stored file without a row that is younger than
`grace_s` (it may be in the moment between its copy and its row) is looked at again once that
old, so it counts as an orphan only if its row still hasn't come.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.media import MediaPathError, MediaStore
from app.catalog.models import Track

ROW_CHUNK = 5000
FILE_CHUNK = 500  # hashes per IN (…) lookup
ORPHAN_GRACE_S = 10.0  # well past the copy-to-row moment, which a busy database bounds


@dataclass
class CheckReport:
    orphan_files: list[str] = field(default_factory=list)  # where each is (MediaStore.locator)
    missing_files: list[int] = field(default_factory=list)  # track ids
    temp_files: list[str] = field(default_factory=list)  # absolute paths of leftovers
    in_flight: list[str] = field(default_factory=list)  # temp files a live import is writing: untouched
    errors: list[dict[str, str]] = field(default_factory=list)  # files --repair could not remove
    repaired: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "orphan_files": self.orphan_files,
            "missing_files": self.missing_files,
            "temp_files": self.temp_files,
            "repaired": self.repaired,
            "in_flight": self.in_flight,
            "errors": self.errors,
        }


def _rows(session: Session, chunk: int) -> Iterator[tuple[int, str]]:
    """(id, media_path) of every track, by id, `chunk` rows per query (keyset pagination)."""
    last = 0
    while True:
        batch = session.execute(
            select(Track.id, Track.media_path).where(Track.id > last).order_by(Track.id).limit(chunk)
        ).all()
        if not batch:
            return
        yield from ((row.id, row.media_path) for row in batch)
        last = batch[-1].id


def _batches(items: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _missing_files(session: Session, store: MediaStore, chunk: int) -> list[int]:
    missing = []
    for track_id, media_path in _rows(session, chunk):
        try:
            present = store.exists(media_path)
        except MediaPathError:
            present = False
        if not present:
            missing.append(track_id)
    return missing


def _orphans_among(session: Session, files: Iterable[tuple[str, str]], chunk: int) -> Iterator[str]:
    """The relative paths among `files` ((relative path, sha256) pairs) that no row points at."""
    for batch in _batches(iter(files), chunk):
        shas = sorted({sha for _, sha in batch})
        referenced = set(session.scalars(select(Track.media_path).where(Track.sha256.in_(shas))))
        yield from (rel for rel, _ in batch if rel not in referenced)


def check_catalog(
    session: Session,
    store: MediaStore,
    *,
    repair: bool = False,
    grace_s: float = ORPHAN_GRACE_S,
    row_chunk: int = ROW_CHUNK,
    file_chunk: int = FILE_CHUNK,
    wait: Callable[[float], None] = time.sleep,
) -> CheckReport:
    """What doesn't match between `store` and the rows in `session`; with `repair`, orphans and
    leftover temp files are removed (rows are never touched). Takes up to `grace_s` longer when
    a stored file is younger than that (see the module docstring)."""
    report = CheckReport(repaired=repair)
    now = time.time()

    def remove(where: str, listed: list[str], unlink: Callable[[], None]) -> None:
        listed.append(where)
        if repair:
            try:
                unlink()
            except OSError as exc:
                report.errors.append({"path": where, "error": f"{type(exc).__name__}: {exc}"})

    for temp in store.temp_files():
        if store.is_leftover(temp, now=now):
            remove(str(temp), report.temp_files, partial(temp.unlink, missing_ok=True))
        else:
            report.in_flight.append(str(temp))

    young: list[tuple[str, float]] = []
    for rel in _orphans_among(session, store.stored_files(), file_chunk):
        modified = store.modified_at(rel)
        if modified is None:
            continue  # removed meanwhile (an import undoing its copy)
        age = now - modified
        if age < grace_s:
            young.append((rel, age))
        else:
            remove(store.locator(rel), report.orphan_files, partial(store.remove, rel))
    if young:
        # Copied in a moment ago: an import may be about to insert their rows. Look again once
        # they are `grace_s` old, in a new transaction (a fresh snapshot of the rows).
        wait(grace_s - min(age for _, age in young))
        session.rollback()
        still = _orphans_among(session, [(rel, rel.rsplit("/", 1)[1].split(".", 1)[0]) for rel, _ in young], file_chunk)
        for rel in still:
            if store.exists(rel):
                remove(store.locator(rel), report.orphan_files, partial(store.remove, rel))

    report.missing_files = _missing_files(session, store, row_chunk)
    return report
