import hashlib
import os
import subprocess
import sys
import time
import uuid

import pytest
from conftest import all_files

from app.catalog.media import TEMP_GRACE_S, FolderStore, MediaPathError


def test_files_are_stored_by_content_hash_once(media_dir, tmp_path):
    store = FolderStore(media_dir)
    src = tmp_path / "song.mp3"
    src.write_bytes(b"some audio")
    sha = hashlib.sha256(b"some audio").hexdigest()
    rel, created = store.put_file(src, sha, "mp3")
    assert rel == f"{sha[:2]}/{sha}.mp3" and created
    assert store.resolve(rel).read_bytes() == b"some audio"
    assert store.put_file(src, sha, "mp3") == (rel, False)
    assert all_files(media_dir) == [store.resolve(rel)]


def test_a_file_that_changed_under_us_is_not_stored(media_dir, tmp_path):
    store = FolderStore(media_dir)
    src = tmp_path / "song.wav"
    src.write_bytes(b"new content")
    with pytest.raises(ValueError, match="changed"):
        store.put_file(src, hashlib.sha256(b"old content").hexdigest(), "wav")
    assert all_files(media_dir) == []


@pytest.mark.parametrize("bad", ["../secrets.toml", "/etc/passwd", "ab/../../x.wav", "a\x00b", "", "."])
def test_paths_outside_the_store_are_refused(media_dir, bad):
    with pytest.raises(MediaPathError):
        FolderStore(media_dir).resolve(bad)


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def test_leftovers_of_a_dead_writer_are_swept_an_upload_in_flight_is_not(media_dir):
    store = FolderStore(media_dir)
    in_flight = store.incoming_path(".wav")  # written by this (live) process
    in_flight.write_bytes(b"being analysed")
    os.utime(in_flight, (0, 0))  # however long its analysis has taken
    dead = _dead_pid()
    leftover = in_flight.with_name(f"{dead}-{uuid.uuid4().hex}.wav.tmp")  # a crashed upload's
    leftover.write_bytes(b"half")
    fan_out = media_dir / "ab"
    fan_out.mkdir()
    half_copy = fan_out / f".{'ab' * 32}.wav.{dead}x1-{uuid.uuid4().hex}.tmp"  # a crashed put_file's
    half_copy.write_bytes(b"half")

    assert sorted(store.temp_files()) == sorted([in_flight, leftover, half_copy])
    assert store.sweep_temp_files() == 2
    assert store.temp_files() == [in_flight]


def test_a_live_pid_that_is_another_process_now_does_not_protect_a_leftover(media_dir):
    # A restart can reuse the pid (a container's pid 1): the start time tells the two apart.
    store = FolderStore(media_dir)
    mine = store.incoming_path()
    pid, start = mine.name.split("-", 1)[0].split("x")
    assert int(pid) == os.getpid()
    reused = mine.with_name(f"{pid}x{int(start) + 1}-{uuid.uuid4().hex}.tmp")
    reused.write_bytes(b"left by an earlier process with the same pid")
    assert store.sweep_temp_files() == 1
    assert not reused.exists()


def test_temp_files_of_an_unknown_writer_are_swept_only_after_the_grace_period(media_dir):
    store = FolderStore(media_dir)
    folder = media_dir / ".incoming"
    folder.mkdir(parents=True)
    fresh = folder / f"{uuid.uuid4().hex}.tmp"  # named the old way: no writer recorded
    fresh.write_bytes(b"maybe in flight")
    old = folder / f"{uuid.uuid4().hex}.wav.tmp"
    old.write_bytes(b"stale")
    os.utime(old, (time.time() - TEMP_GRACE_S - 1,) * 2)
    assert store.sweep_temp_files() == 1
    assert store.temp_files() == [fresh]
    assert store.sweep_temp_files(grace_s=0) == 1


def test_stored_files_lists_only_files_named_by_the_store(media_dir, tmp_path):
    store = FolderStore(media_dir)
    src = tmp_path / "a.wav"
    src.write_bytes(b"audio")
    sha = hashlib.sha256(b"audio").hexdigest()
    rel, _ = store.put_file(src, sha, "wav")
    (media_dir / sha[:2] / "notes.txt").write_text("not the store's")
    (media_dir / ".incoming").mkdir()
    (media_dir / ".incoming" / "x.tmp").write_bytes(b"")
    assert list(store.stored_files()) == [(rel, sha)]
