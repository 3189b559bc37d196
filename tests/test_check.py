"""`python -m app check [--repair]`: the media folder reconciled with the catalog rows, on SQLite
and MariaDB; rows are never deleted, files an import may still be writing are never removed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from catalog_helpers import add
from sqlalchemy import func, select

from app.catalog.db import session_scope
from app.catalog.media import FolderStore
from app.catalog.models import Track
from app.catalog.reconcile import check_catalog
from app.cli import main


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def _age(path: Path, seconds: float) -> Path:
    os.utime(path, (time.time() - seconds,) * 2)
    return path


def _stored(store: FolderStore, content: bytes, age_s: float = 3600) -> tuple[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    rel = store.relative_path(sha, "wav")
    path = store.resolve(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    _age(path, age_s)
    return rel, sha


@pytest.fixture
def messy(db_url, media_dir):
    """Two tracks with their files, one track whose file is gone, two old orphans, a crashed
    writer's temp files and an upload in flight (this live process's)."""
    store = FolderStore(media_dir)
    with session_scope(db_url) as s:
        kept = [add(s, f"Kept {i}", 0.2 * i, 0.5) for i in range(1, 3)]
        lost = add(s, "Lost file", -0.5, -0.5)
        ids = {"kept": [t.id for t in kept], "lost": lost.id}
        paths = [t.media_path for t in kept]
    for rel in paths:
        store.resolve(rel).parent.mkdir(parents=True, exist_ok=True)
        store.resolve(rel).write_bytes(b"audio")
        _age(store.resolve(rel), 3600)
    orphans = [store.resolve(_stored(store, f"orphan {i}".encode())[0]) for i in range(2)]
    dead = _dead_pid()
    incoming = media_dir / ".incoming"
    incoming.mkdir(parents=True)
    leftover = incoming / f"{dead}-{uuid.uuid4().hex}.tmp"
    leftover.write_bytes(b"crashed upload")
    half_copy = orphans[0].with_name(f".{orphans[0].name}.{dead}-{uuid.uuid4().hex}.tmp")
    half_copy.write_bytes(b"crashed copy")
    in_flight = store.incoming_path(".wav")
    in_flight.write_bytes(b"an upload being analysed")
    return {
        "store": store,
        "ids": ids,
        "kept_paths": [store.resolve(p) for p in paths],
        "orphans": orphans,
        "temps": sorted([leftover, half_copy]),
        "in_flight": in_flight,
    }


def _rows(db_url: str) -> int:
    with session_scope(db_url) as s:
        return s.scalar(select(func.count()).select_from(Track))


def test_check_reports_without_touching_anything(db_url, messy):
    with session_scope(db_url) as s:
        report = check_catalog(s, messy["store"], row_chunk=2, file_chunk=2)
    assert sorted(report.orphan_files) == sorted(map(str, messy["orphans"]))
    assert report.missing_files == [messy["ids"]["lost"]]
    assert sorted(report.temp_files) == list(map(str, messy["temps"]))
    assert report.in_flight == [str(messy["in_flight"])]
    assert report.repaired is False
    assert all(p.exists() for p in [*messy["orphans"], *messy["temps"], messy["in_flight"]])


def test_repair_removes_orphans_and_leftovers_keeps_rows_and_what_is_in_flight(db_url, messy, capsys):
    assert main(["check", "--repair", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"orphan_files", "missing_files", "temp_files", "repaired"}
    assert report["repaired"] is True
    assert sorted(report["orphan_files"]) == sorted(map(str, messy["orphans"]))
    assert sorted(report["temp_files"]) == list(map(str, messy["temps"]))
    assert report["missing_files"] == [messy["ids"]["lost"]]
    assert not any(p.exists() for p in [*messy["orphans"], *messy["temps"]])
    assert messy["in_flight"].exists() and all(p.exists() for p in messy["kept_paths"])
    assert _rows(db_url) == 3  # the row whose file is gone is reported, not deleted

    assert main(["check", "--json"]) == 0  # nothing left to repair
    again = json.loads(capsys.readouterr().out)
    assert again["orphan_files"] == [] and again["temp_files"] == []
    assert again["missing_files"] == [messy["ids"]["lost"]]


def test_a_file_just_copied_in_is_looked_at_again_before_it_counts_as_an_orphan(db_url, media_dir):
    store = FolderStore(media_dir)
    finishing, finishing_sha = _stored(store, b"its import is about to insert the row", age_s=0)
    abandoned, _ = _stored(store, b"its import died after the copy", age_s=0)
    waits: list[float] = []

    def meanwhile_the_import_commits(seconds: float) -> None:
        waits.append(seconds)
        with session_scope(db_url) as s:
            track = add(s, "Just imported", 0.3, 0.3)
            track.sha256, track.media_path = finishing_sha, finishing

    with session_scope(db_url) as s:
        report = check_catalog(s, store, repair=True, grace_s=10, wait=meanwhile_the_import_commits)
    assert len(waits) == 1 and 0 < waits[0] <= 10
    assert report.orphan_files == [str(store.resolve(abandoned))]
    assert store.exists(finishing) and not store.resolve(abandoned).exists()


def test_check_refuses_a_missing_catalog_instead_of_creating_one(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "gone.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert main(["check"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_check_text_output_says_what_to_do(db_url, messy, capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "found 2 orphan files" in out and "found 2 leftover temp files" in out
    assert "1 tracks whose media file is gone" in out and "check --repair" in out
