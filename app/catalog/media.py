"""Content-addressed media store: `<media_dir>/<sha[:2]>/<sha>.<ext>`.

Files are written under a temporary name in the destination folder and renamed into place
(os.replace is atomic on one filesystem), so a reader never sees half a file and a crash leaves
at most a `.tmp` file that `sweep_temp_files()` removes. A temp name carries the id of the
process writing it, so a sweep can tell a crashed writer's leftovers (removed) from an upload
still in flight in a live process (kept, however long its analysis takes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from app.config import get_settings

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
TEMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20
# A stored file's name (`<sha[:2]>/<sha>.<ext>`) and a temp name's owner (`…<pid>-<uuid>.tmp`).
_STORED_RE = re.compile(r"^([0-9a-f]{2})/(\1[0-9a-f]{62})\.([a-z0-9]{1,8})$")
_TEMP_OWNER_RE = re.compile(r"(?:^|\.)(\d+)(?:x(\d+))?-[0-9a-f]{32}(?:\.[A-Za-z0-9]+)*\.tmp$")
# Temp files whose writer is unknown (named before writers were recorded) are swept only once
# untouched for this long, so an upload in flight is never taken from under its import.
TEMP_GRACE_S = 3600.0


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot, Linux), or None where unknown: with
    the pid it names one process, even after a restart reuses the pid (a container's pid 1)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def _process_alive(pid: int, start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    return start is None or _start_ticks(pid) in (None, start)


def _temp_name(prefix: str = "", suffix: str = "") -> str:
    pid = os.getpid()
    start = _start_ticks(pid)
    owner = f"{pid}" if start is None else f"{pid}x{start}"
    return f"{prefix}{owner}-{uuid.uuid4().hex}{suffix}{TEMP_SUFFIX}"


class MediaPathError(ValueError):
    """A media path that is malformed or points outside the media store."""


def sha256_of_file(path: str | Path) -> str:
    """The content address of a file (hex SHA-256), read in chunks: ingest's duplicate check and the store's key."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class MediaStore:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root if root is not None else get_settings().media_dir).resolve()

    def relative_path(self, sha256: str, ext: str) -> str:
        if not _SHA_RE.match(sha256) or not _EXT_RE.match(ext):
            raise MediaPathError("malformed content hash or extension")
        return f"{sha256[:2]}/{sha256}.{ext}"

    def resolve(self, relative_path: str) -> Path:
        """Absolute path of a stored file; refuses anything that would land outside the store."""
        if not relative_path or "\x00" in relative_path or os.path.isabs(relative_path):
            raise MediaPathError("media path must be relative to the media store")
        candidate = (self.root / relative_path).resolve()
        if not candidate.is_relative_to(self.root) or candidate == self.root:
            raise MediaPathError("media path points outside the media store")
        return candidate

    def exists(self, relative_path: str) -> bool:
        return self.resolve(relative_path).is_file()

    def size(self, relative_path: str) -> int:
        """Bytes in a stored file; FileNotFoundError when it is gone (the audio route's 404)."""
        path = self.resolve(relative_path)
        if not path.is_file():
            raise FileNotFoundError(relative_path)
        return path.stat().st_size

    def read_range(self, relative_path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive; None: to the end) of a stored file, in chunks,
        so a song is streamed rather than held in memory (the audio route's Range requests)."""
        path = self.resolve(relative_path)
        with open(path, "rb") as f:
            f.seek(start)
            left = None if end is None else max(0, end - start)
            while left is None or left > 0:
                chunk = f.read(_CHUNK if left is None else min(_CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def put_file(self, source: str | Path, sha256: str, ext: str) -> tuple[str, bool]:
        """Copy `source` into the store, checking its hash on the way.

        Returns (relative path, created). `created` is False when the same content was already
        there. Raises ValueError if the file's content no longer matches `sha256`.
        """
        rel = self.relative_path(sha256, ext)
        final = self.resolve(rel)
        if final.is_file():
            return rel, False
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(_temp_name(f".{final.name}."))
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as src, open(temp, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            if digest.hexdigest() != sha256:
                raise ValueError("the file changed while it was being imported")
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        return rel, True

    def remove(self, relative_path: str) -> None:
        path = self.resolve(relative_path)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # drop the now-empty fan-out folder; harmless if another file is there
            path.parent.rmdir()

    def temp_files(self) -> list[Path]:
        """Every temp file in the store, in flight or left over."""
        if not self.root.is_dir():
            return []
        return [p for p in self.root.rglob(f"*{TEMP_SUFFIX}") if p.is_file()]

    def stored_files(self) -> Iterator[tuple[str, str]]:
        """(relative path, sha256) of each file named as the store names them, streamed."""
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as top:
            fan_outs = sorted((e for e in top if len(e.name) == 2), key=lambda e: e.name)
        for fan_out in fan_outs:
            if not fan_out.is_dir(follow_symlinks=False):
                continue
            with os.scandir(fan_out.path) as entries:
                for entry in entries:
                    rel = f"{fan_out.name}/{entry.name}"
                    match = _STORED_RE.match(rel)
                    if match and entry.is_file(follow_symlinks=False):
                        yield rel, match.group(2)

    def is_leftover(self, temp: Path, grace_s: float = TEMP_GRACE_S, now: float | None = None) -> bool:
        """True for a temp file no live process is writing: its writer has exited, or (writer
        unknown) nothing has touched it for `grace_s` seconds."""
        owner = _TEMP_OWNER_RE.search(temp.name)
        if owner is not None:
            start = owner.group(2)
            return not _process_alive(int(owner.group(1)), None if start is None else int(start))
        try:
            age = (time.time() if now is None else now) - temp.stat().st_mtime
        except FileNotFoundError:
            return False
        return age >= grace_s

    def sweep_temp_files(self, grace_s: float = TEMP_GRACE_S) -> int:
        """Remove leftovers of interrupted writes (see `is_leftover`); returns how many."""
        removed = 0
        now = time.time()
        for p in self.temp_files():
            if self.is_leftover(p, grace_s, now):
                p.unlink(missing_ok=True)
                removed += 1
        return removed

    def incoming_path(self, suffix: str = "") -> Path:
        """A fresh temp path inside the store (same filesystem, so it can be renamed into place)."""
        folder = self.root / ".incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _temp_name(suffix=suffix)
