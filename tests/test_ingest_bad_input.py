"""Whatever a curator throws at ingest: a clear message naming the problem or the limit, and
nothing left behind — no row, no media file, no temp file. (Runs on SQLite and MariaDB.)"""

import io
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf
from conftest import all_files, audio_bytes, stored_keys, tone

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


_watched: dict[str, list[str | int]] = {}  # path -> the modes (or os.open flags) it was opened with while watched
_hooked = False


def _note_open(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened = _watched.get(os.fsdecode(args[0]))
        if opened is not None:
            opened.append(str(args[1]) if args[1] is not None else args[2])  # open()'s mode, os.open's flags


@contextmanager
def _opens_of(path) -> Iterator[list[str | int]]:
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


ANY_LINK = "refused: symbolic link (a server-folder import reads only regular files inside the import folder)"


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


def test_the_same_file_twice_is_stored_once_and_reported(db_url, media_store, tmp_path, stub_tagger):
    first = _write(tmp_path, "Blue Harbor - Rainy Day.wav", audio_bytes("wav"))
    second = _write(tmp_path, "copy.wav", audio_bytes("wav"))
    summary = ingest_files([first, second], tagger=stub_tagger)
    assert [r.status for r in summary.results] == ["imported", "skipped"]
    assert "earlier in this import" in summary.results[1].message
    again = ingest_files([second], tagger=stub_tagger).results[0]
    assert again.status == "skipped" and "already in the catalog as “Rainy Day” by Blue Harbor" in again.message
    assert len(stored_keys(media_store)) == 1


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


def test_a_failed_database_write_leaves_no_stored_file(db_url, media_store, tmp_path, stub_tagger, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unavailable(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server has gone away"))

    monkeypatch.setattr(repository, "add_track", unavailable)
    path = _write(tmp_path, "ok.wav", audio_bytes("wav"))
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "failed" and "database is unavailable" in result.message
    with session_scope(db_url) as s:
        assert repository.count_tracks(s) == 0
    assert stored_keys(media_store) == []


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
    failed = {f["path"]: f["error"] for f in summary.as_json()["failed"]}
    assert failed == {
        str(inside / ".." / "elsewhere.wav"): f"outside the allowed import folder {inside.resolve()}",
        # told, not passed over in silence
        str(inside / "link.wav"): "refused: symbolic link (a server-folder import reads only regular files inside "
        "the import folder)",
    }


def _swap_after_listing(monkeypatch, swap) -> None:
    """Run `swap()` between the folder walk (the check) and the reading of the files (the use)."""
    from app.library import ingest

    listed = ingest.collect_audio_files

    def collect_then_swap(*args, **kwargs):
        found = listed(*args, **kwargs)
        swap()
        return found

    monkeypatch.setattr(ingest, "collect_audio_files", collect_then_swap)


def test_a_file_swapped_for_a_link_after_the_check_is_not_read_from_outside(
    db_url, media_dir, tmp_path, stub_tagger, monkeypatch
):
    root = tmp_path / "allowed"
    root.mkdir()
    checked = root / "song.wav"
    checked.write_bytes(audio_bytes("wav"))
    secret = tmp_path / "secret.wav"
    secret.write_bytes(audio_bytes("wav", seed=7))

    def swap():
        checked.unlink()
        checked.symlink_to(secret)

    _swap_after_listing(monkeypatch, swap)
    summary = ingest_paths([root], root=root, tagger=stub_tagger)
    assert summary.as_json() == {"imported": 0, "skipped": 0, "failed": [{"path": str(checked), "error": ANY_LINK}]}
    _assert_nothing_stored(db_url, media_dir)


def test_a_folder_swapped_for_a_link_after_the_check_is_not_read_from_outside(
    db_url, media_dir, tmp_path, stub_tagger, monkeypatch
):
    root = tmp_path / "allowed"
    (root / "album").mkdir(parents=True)
    (root / "album" / "song.wav").write_bytes(audio_bytes("wav"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "song.wav").write_bytes(audio_bytes("wav", seed=7))

    def swap():  # the file's own name stays a regular file; a folder above it now leads out
        (root / "album" / "song.wav").unlink()
        (root / "album").rmdir()
        (root / "album").symlink_to(elsewhere)

    _swap_after_listing(monkeypatch, swap)
    [result] = ingest_paths([root], root=root, tagger=stub_tagger).results
    assert (result.status, result.message) == ("failed", f"outside the allowed import folder {root.resolve()}")
    _assert_nothing_stored(db_url, media_dir)


def test_a_confined_import_reads_each_file_once_by_descriptor(db_url, media_dir, tmp_path, stub_tagger):
    """Nothing opens the file in the import folder by name after the one O_NOFOLLOW open."""
    root = tmp_path / "allowed"
    root.mkdir()
    song = root / "Artist - Song.wav"
    song.write_bytes(audio_bytes("wav"))
    with _opens_of(song) as opened:
        [result] = ingest_paths([root], root=root, tagger=stub_tagger).results
    assert result.status == "imported" and (result.title, result.artist) == ("Song", "Artist")
    assert len(opened) == 1 and isinstance(opened[0], int) and opened[0] & os.O_NOFOLLOW


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


# ----------------------------------------------------------------------------- hostile headers


def _wav_at(rate: int, seconds: float, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    frames = np.zeros((int(rate * seconds), channels), np.float32)
    sf.write(buffer, frames, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _flac_declaring(rate: int, channels: int, seconds: float) -> bytes:
    """A small FLAC at `rate` × `channels` whose STREAMINFO claims `seconds` of audio: the header
    is all a refusal may look at."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((int(rate * 0.6), channels), np.float32), rate, format="FLAC", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    packed = int.from_bytes(data[18:26], "big")  # rate (20 bits), channels-1 (3), bps-1 (5), total samples (36)
    packed = (packed & ~((1 << 36) - 1)) | int(rate * seconds)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if any audio is decoded: these files must be refused from the header alone."""
    from app.music import audio

    def refuse(*_args, **_kwargs):
        raise AssertionError("audio was decoded before the file was refused")

    monkeypatch.setattr(audio, "load_audio", refuse)


HOSTILE = {
    # 251 KB in the wild: 44 s at 655,350 Hz × 8 channels would decode to ~920 MB.
    "huge-rate.flac": (
        lambda: _flac_declaring(655_350, 8, 44),
        "the sample rate is 655,350 Hz: no browser can play this sample rate (accepted: 8–192 kHz)",
    ),
    "two-hertz.wav": (
        lambda: _wav_at(2, 800),
        "the sample rate is 2 Hz: no browser can play this sample rate (accepted: 8–192 kHz)",
    ),
    "hundred-hertz.wav": (
        lambda: _wav_at(100, 800),
        "the sample rate is 100 Hz: no browser can play this sample rate (accepted: 8–192 kHz)",
    ),
    "nine-channels.wav": (lambda: _wav_at(8000, 1, channels=9), "the file has 9 audio channels, more than the 8"),
    # Rate and channels each within limits, together over the decoded-size cap.
    "hi-res-surround.flac": (
        lambda: _flac_declaring(192_000, 8, 600),
        "decoded, this file would take 3515.6 MB (10.0 min at 192,000 Hz × 8 channels), over the 329.6 MB limit",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.usefixtures("no_decoding")
def test_hostile_stream_headers_are_refused_before_decoding(db_url, media_dir, tmp_path, stub_tagger, name):
    make, expected = HOSTILE[name]
    path = _write(tmp_path, name, make())
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "failed"
    assert result.message.startswith(expected), result.message
    _assert_nothing_stored(db_url, media_dir)


def test_the_limits_let_ordinary_rates_and_stereo_through(db_url, media_dir, tmp_path, stub_tagger):
    for rate in (8000, 44_100, 192_000):
        buffer = io.BytesIO()
        sf.write(buffer, tone(1.0, rate, seed=rate)[:, None].repeat(2, axis=1), rate, format="FLAC")
        path = _write(tmp_path, f"ok-{rate}.flac", buffer.getvalue())
        [result] = ingest_files([path], tagger=stub_tagger).results
        assert result.status == "imported", (rate, result.message)


def _id3_tag(payload_bytes: int) -> bytes:
    """An ID3v2.4 tag of `payload_bytes` (one TIT2 frame, then padding)."""
    title = b"\x03Polyglot"
    frame = b"TIT2" + len(title).to_bytes(4, "big") + b"\x00\x00" + title
    body = frame + bytes(max(0, payload_bytes - len(frame)))
    size = len(body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + body


@pytest.mark.parametrize("tag_bytes", [64, 20_000])  # a short tag, and one longer than the sniffed head
def test_an_id3_tag_in_front_of_a_wav_is_not_stored_as_mp3(db_url, media_dir, tmp_path, stub_tagger, tag_bytes):
    path = _write(tmp_path, "polyglot.mp3", _id3_tag(tag_bytes) + audio_bytes("wav"))
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "failed"
    assert result.message == (
        "ambiguous file: an MP3 (ID3) tag in front of WAV audio; save it again as a plain WAV or MP3 file"
    )
    _assert_nothing_stored(db_url, media_dir)


def test_an_id3_tag_in_front_of_mp3_audio_is_an_mp3(db_url, media_dir, tmp_path, stub_tagger):
    path = _write(tmp_path, "tagged.mp3", _id3_tag(20_000) + audio_bytes("mp3"))
    [result] = ingest_files([path], tagger=stub_tagger).results
    assert result.status == "imported", result.message
    assert [p.suffix for p in all_files(media_dir)] == [".mp3"]


def test_a_hard_link_to_a_file_outside_the_import_root_is_refused(db_url, media_dir, tmp_path, stub_tagger):
    inside = tmp_path / "allowed"
    inside.mkdir()
    (inside / "a.wav").write_bytes(audio_bytes("wav"))
    secret = tmp_path / "private" / "secret.wav"
    secret.parent.mkdir()
    secret.write_bytes(audio_bytes("wav", seed=7))
    os.link(secret, inside / "looks-inside.wav")  # same inode, a name inside the root
    summary = ingest_paths([inside], root=inside, tagger=stub_tagger)
    assert summary.imported == 1
    failed = {f["path"]: f["error"] for f in summary.as_json()["failed"]}
    assert failed == {
        str(inside / "looks-inside.wav"): "refused: hard link (the file has another name, maybe outside the import "
        "folder; copy it in instead)"
    }
    with session_scope(db_url) as s:
        assert repository.count_tracks(s) == 1
    assert len(all_files(media_dir)) == 1
