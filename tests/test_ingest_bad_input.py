"""Whatever a curator throws at ingest: a clear message naming the problem or the limit, and
nothing left behind — no row, no media file, no temp file. (Runs on SQLite and MariaDB.)"""

import os
import struct
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf
from conftest import all_files, audio_bytes

from app.catalog import repository
from app.catalog.db import session_scope
from app.library import ingest_bytes, ingest_files, ingest_paths


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 4 for _ in range(4))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _write(tmp_path, name: str, data: bytes):
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def _hour_long_wav(path) -> None:
    # 8 kHz unsigned 8-bit keeps an hour at 29 MB: under the size limit, over the duration limit.
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_U8", format="WAV") as f:
        block = (0.2 * np.sin(np.arange(8000 * 60) * 0.05)).astype(np.float32)
        for _ in range(60):
            f.write(block)


_watched: dict[str, list[str]] = {}  # path -> the modes it was opened with while watched
_hooked = False


def _note_open(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened = _watched.get(os.fsdecode(args[0]))
        if opened is not None:
            opened.append(str(args[1]))


@contextmanager
def _opens_of(path) -> Iterator[list[str]]:
    """The modes `path` is opened with in this process during the block, whatever code opens it
    (Python's "open" audit event; a hook can't be removed, so one serves every use)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_note_open)
        _hooked = True
    key = os.fspath(path)
    _watched[key] = opened = []
    try:
        yield opened
    finally:
        del _watched[key]


def _assert_nothing_stored(db_url, media_dir):
    with session_scope(db_url) as s:
        assert repository.count_tracks(s) == 0
    assert all_files(media_dir) == []


CASES = {
    "empty.mp3": (lambda: b"", "empty (0 bytes)"),
    "one-byte.wav": (lambda: b"R", "not an audio file"),
    "random.mp3": (lambda: np.random.default_rng(1).bytes(20_000).replace(b"\xff", b"\x00"), "not an audio file"),
    "picture.wav": (_png, "PNG image"),
    "truncated.mp3": (lambda: audio_bytes("mp3", 10)[: len(audio_bytes("mp3", 10)) // 2], "truncated"),
    "truncated.flac": (lambda: audio_bytes("flac", 10)[:30_000], "cannot decode"),
    "text.ogg": (lambda: b"<html><body>not audio</body></html>", "HTML"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_files_fail_with_a_reason_and_leave_nothing(db_url, media_dir, tmp_path, stub_tagger, name):
    make, expected = CASES[name]
    path = _write(tmp_path, name, make())
    summary = ingest_files([path], tagger=stub_tagger)
    [result] = summary.results
    assert result.status == "failed"
    assert expected in result.message
    assert summary.as_json()["failed"] == [{"path": str(path), "error": result.message}]
    _assert_nothing_stored(db_url, media_dir)


def test_an_hour_long_wav_names_the_duration_limit(db_url, media_dir, tmp_path, stub_tagger):
    path = tmp_path / "hour.wav"
    _hour_long_wav(path)
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "failed"
    assert "60.0 min long" in result.message and "15.0 min duration limit" in result.message
    _assert_nothing_stored(db_url, media_dir)


def test_an_oversized_file_is_refused_before_it_is_read(db_url, media_dir, tmp_path, stub_tagger):
    path = tmp_path / "huge.wav"
    with open(path, "wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 1024**3)
    with _opens_of(path) as opened:
        [result] = ingest_files([path], tagger=stub_tagger).results
    assert opened == [], "the oversized file was read"
    assert result.status == "failed"
    assert "2048.0 MB" in result.message and "50 MB size limit" in result.message
    _assert_nothing_stored(db_url, media_dir)


def test_an_oversized_upload_names_the_limit(db_url, media_dir, stub_tagger, monkeypatch):
    monkeypatch.setenv("MOODTUNE_MAX_UPLOAD_MB", "1")
    result = ingest_bytes(b"\x00" * (1024 * 1024 + 1), "big.wav", tagger=stub_tagger)
    assert result.status == "failed" and "over the 1 MB size limit" in result.message
    _assert_nothing_stored(db_url, media_dir)


def test_the_same_file_twice_is_stored_once_and_reported(db_url, media_dir, tmp_path, stub_tagger):
    first = _write(tmp_path, "Blue Harbor - Rainy Day.wav", audio_bytes("wav"))
    second = _write(tmp_path, "copy.wav", audio_bytes("wav"))
    summary = ingest_files([first, second], tagger=stub_tagger)
    assert [r.status for r in summary.results] == ["imported", "skipped"]
    assert "earlier in this import" in summary.results[1].message
    again = ingest_files([second], tagger=stub_tagger).results[0]
    assert again.status == "skipped" and "already in the catalog as “Rainy Day” by Blue Harbor" in again.message
    assert len(all_files(media_dir)) == 1


@pytest.mark.parametrize(
    ("upload_name", "title"),
    [
        ("../../etc/passwd.wav", "passwd"),
        ("evil\x00name.wav", "evilname"),
        ("Ça va – 東京 🎵.wav", "Ça va – 東京 🎵"),
        ("..\\..\\win.wav", "win"),
    ],
)
def test_uploads_with_weird_names_are_stored_safely(db_url, media_dir, stub_tagger, upload_name, title):
    result = ingest_bytes(audio_bytes("wav"), upload_name, tagger=stub_tagger)
    assert result.status == "imported", result.message
    assert result.title == title
    [stored] = all_files(media_dir)
    assert stored.resolve().is_relative_to(media_dir.resolve())
    assert ".." not in stored.name and "\x00" not in str(stored)


def test_a_failed_database_write_removes_the_stored_file(db_url, media_dir, tmp_path, stub_tagger, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unavailable(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server has gone away"))

    monkeypatch.setattr(repository, "add_track", unavailable)
    path = _write(tmp_path, "ok.wav", audio_bytes("wav"))
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "failed" and "database is unavailable" in result.message
    _assert_nothing_stored(db_url, media_dir)


def test_folder_import_lists_good_and_bad_files(db_url, media_dir, tmp_path, stub_tagger):
    _write(tmp_path, "good.flac", audio_bytes("flac"))
    _write(tmp_path, "empty.mp3", b"")
    _write(tmp_path, "cover.jpg", b"\xff\xd8\xff\xe0")  # not an audio extension: ignored in folders
    _write(tmp_path, ".hidden.wav", b"")
    summary = ingest_paths([tmp_path / "in", tmp_path / "missing"], tagger=stub_tagger)
    assert summary.as_json() == {
        "imported": 1,
        "skipped": 0,
        "failed": [
            {"path": str(tmp_path / "missing"), "error": "no such file or folder"},
            {"path": str(tmp_path / "in" / "empty.mp3"), "error": "the file is empty (0 bytes)"},
        ],
    }


def test_server_folder_import_stays_inside_the_import_root(db_url, tmp_path, stub_tagger):
    inside = tmp_path / "allowed"
    inside.mkdir()
    (inside / "a.wav").write_bytes(audio_bytes("wav"))
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(audio_bytes("wav", seed=2))
    (inside / "link.wav").symlink_to(outside)
    summary = ingest_paths([inside, inside / ".." / "elsewhere.wav"], root=inside, tagger=stub_tagger)
    assert summary.imported == 1
    errors = [f["error"] for f in summary.as_json()["failed"]]
    assert errors == [f"outside the allowed import folder {inside.resolve()}"]


def test_no_temp_files_survive_an_upload(db_url, media_dir, stub_tagger):
    ingest_bytes(b"garbage", "x.mp3", tagger=stub_tagger)
    ingest_bytes(audio_bytes("wav"), "fine.wav", tagger=stub_tagger)
    assert [p for p in all_files(media_dir) if p.name.endswith(".tmp")] == []
    assert os.listdir(media_dir / ".incoming") == []


def test_an_upload_cut_off_half_way_names_the_problem_and_leaves_nothing(db_url, media_dir, stub_tagger):
    """The browser's upload stopped half-way: what reaches the app is the first half of the file."""
    whole = audio_bytes("wav", 10)
    result = ingest_bytes(whole[: len(whole) // 2], "cut-off.wav", tagger=stub_tagger)
    assert result.status == "failed" and "truncated" in result.message
    _assert_nothing_stored(db_url, media_dir)
    assert os.listdir(media_dir / ".incoming") == []
    assert ingest_bytes(whole, "cut-off.wav", tagger=stub_tagger).status == "imported"  # the full upload still works


@pytest.mark.parametrize("stage", ["copying into the store", "writing the row"])
def test_an_upload_interrupted_mid_ingest_leaves_nothing_half_done(db_url, media_dir, stub_tagger, monkeypatch, stage):
    """The curator leaves the page while an upload is being stored: Streamlit stops the script
    thread with an exception that isn't an Exception (KeyboardInterrupt stands in for it)."""
    from app.catalog import media

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        if stage == "copying into the store":
            patch.setattr(media.os, "fsync", interrupt)  # after part of the copy is written
        else:
            patch.setattr(repository, "add_track", interrupt)
        ingest_bytes(audio_bytes("wav"), "interrupted.wav", tagger=stub_tagger)
    _assert_nothing_stored(db_url, media_dir)
    assert os.listdir(media_dir / ".incoming") == []
    assert ingest_bytes(audio_bytes("wav"), "interrupted.wav", tagger=stub_tagger).status == "imported"


def test_idle_analysis_workers_exit_and_hand_back_their_memory():
    """The mood model lives in worker processes, not the app's; when imports stop, they exit."""
    import time

    from app.library import LocalProcessPool

    pool = LocalProcessPool(idle_s=0.2)
    with pool.lease(1) as workers:
        worker_pid = workers.run(os.getpid)
    assert worker_pid != os.getpid()
    with pool.lease(1) as workers:
        assert workers.run(os.getpid) == worker_pid  # reused while work keeps coming
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{worker_pid}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{worker_pid}"), "the idle worker is still running"
    with pool.lease(1) as workers:
        assert workers.run(os.getpid) != worker_pid  # the next import starts afresh
    pool.shutdown_if_idle()
