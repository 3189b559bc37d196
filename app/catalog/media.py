"""Where the catalog's audio lives: one interface (`MediaStore`), two places.

- `FolderStore` (the default, `MOODTUNE_MEDIA_DIR`): `<media_dir>/<sha[:2]>/<sha>.<ext>`. Files
  are written under a temporary name in the destination folder and renamed into place
  (os.replace is atomic on one filesystem), so a reader never sees half a file and a crash leaves
  at most a `.tmp` file that `sweep_temp_files()` removes. A temp name carries the id of the
  process writing it, so a sweep can tell a crashed writer's leftovers (removed) from an upload
  still in flight in a live process (kept, however long its analysis takes).
- `BucketStore` (`MOODTUNE_MEDIA_URL=s3://bucket/prefix`): the same keys as objects on any
  S3-compatible service. An object appears whole or not at all (a PUT, or a multipart upload
  that only its completion makes visible), so a killed upload leaves nothing in the bucket.
  Uploads and deleted tracks' held copies are staged in the local media folder, which may be
  wiped between runs without losing anything.

Keys are the same everywhere (`relative_path`); readers use `size`/`read_range`/`iter_range`
(never a whole song in memory), `playback_url` (a URL the browser fetches itself, where the store
has one) or `local_copy` (a file on disk for the analysis, downloaded for a bucket).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import BucketSettings, Settings, get_settings

if TYPE_CHECKING:
    from obstore.store import S3Store

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
PLAYBACK_URL_TTL = timedelta(hours=6)  # longer than a listening session's queue stays on screen


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


def check_key(relative_path: str) -> str:
    """A stored file's key as the store names it (`<sha[:2]>/<sha>.<ext>`); MediaPathError otherwise."""
    if not isinstance(relative_path, str) or not _STORED_RE.match(relative_path):
        raise MediaPathError("not a media store key")
    return relative_path


class MediaStore(ABC):
    """The audio of the catalog, by key (`relative_path`). Temp files of uploads in progress and
    held copies of deleted tracks live in `staging`, a local folder (the store itself, for a
    folder store)."""

    staging: FolderStore

    @staticmethod
    def relative_path(sha256: str, ext: str) -> str:
        if not _SHA_RE.match(sha256) or not _EXT_RE.match(ext):
            raise MediaPathError("malformed content hash or extension")
        return f"{sha256[:2]}/{sha256}.{ext}"

    # -- reading
    @abstractmethod
    def exists(self, relative_path: str) -> bool: ...

    @abstractmethod
    def size(self, relative_path: str) -> int:
        """Bytes in a stored file; FileNotFoundError when it is gone."""

    @abstractmethod
    def read_range(self, relative_path: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (exclusive) of a stored file; FileNotFoundError when it is gone."""

    def iter_range(self, relative_path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A stored file's bytes `start`..`end` (exclusive; None: to the end) in chunks, for a
        streamed response: never the whole song in memory."""
        end = self.size(relative_path) if end is None else end
        while start < end:
            stop = min(end, start + _CHUNK)
            yield self.read_range(relative_path, start, stop)
            start = stop

    def playback_url(self, relative_path: str) -> str | None:
        """A URL the browser can fetch the file from itself (ranges included), or None where the
        app must serve it (a folder store)."""
        return None

    def local_path(self, relative_path: str) -> Path | None:
        """The stored file on this machine's disk, or None (a bucket, or the file is gone)."""
        return None

    @abstractmethod
    def download(self, relative_path: str, dest: Path) -> None:
        """Copy a stored file to `dest` on local disk; FileNotFoundError when it is gone."""

    @contextlib.contextmanager
    def local_copy(self, relative_path: str) -> Iterator[Path]:
        """A path on local disk holding the file while the block runs (the file itself for a
        folder store; a downloaded temp copy, removed afterwards, for a bucket)."""
        here = self.local_path(relative_path)
        if here is not None:
            yield here
            return
        temp = self.incoming_path("." + relative_path.rsplit(".", 1)[-1])
        try:
            self.download(relative_path, temp)
            yield temp
        finally:
            temp.unlink(missing_ok=True)

    @abstractmethod
    def locator(self, relative_path: str) -> str:
        """Where a stored file is, for people and for tasks on other hosts (an absolute path or
        an s3:// URL; see `resolve_locator`)."""

    @abstractmethod
    def modified_at(self, relative_path: str) -> float | None:
        """When a stored file was written (epoch seconds), None when it is gone."""

    @abstractmethod
    def stored_files(self) -> Iterator[tuple[str, str]]:
        """(key, sha256) of each file named as the store names them, streamed."""

    # -- writing
    @abstractmethod
    def put_file(self, source: str | Path, sha256: str, ext: str) -> tuple[str, bool]:
        """Copy `source` into the store, checking its hash on the way.

        Returns (key, created). `created` is False when the same content was already there.
        Raises ValueError if the file's content no longer matches `sha256`; the store is then
        unchanged."""

    @abstractmethod
    def remove(self, relative_path: str) -> None:
        """Delete a stored file (nothing happens when it is already gone)."""

    # -- the local staging area
    def incoming_path(self, suffix: str = "") -> Path:
        """A fresh temp path owned by this process in the local staging area."""
        return self.staging.incoming_path(suffix)

    def temp_files(self) -> list[Path]:
        return self.staging.temp_files()

    def is_leftover(self, temp: Path, grace_s: float = TEMP_GRACE_S, now: float | None = None) -> bool:
        return self.staging.is_leftover(temp, grace_s, now)

    def sweep_temp_files(self, grace_s: float = TEMP_GRACE_S) -> int:
        return self.staging.sweep_temp_files(grace_s)


class FolderStore(MediaStore):
    """The media store in a local folder (the default)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root if root is not None else get_settings().media_dir).resolve()
        self.staging = self

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
        return self.resolve(relative_path).stat().st_size

    def read_range(self, relative_path: str, start: int, end: int) -> bytes:
        with open(self.resolve(relative_path), "rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def local_path(self, relative_path: str) -> Path | None:
        path = self.resolve(relative_path)
        return path if path.is_file() else None

    def download(self, relative_path: str, dest: Path) -> None:
        shutil.copyfile(self.resolve(relative_path), dest)

    def locator(self, relative_path: str) -> str:
        return str(self.resolve(relative_path))

    def modified_at(self, relative_path: str) -> float | None:
        try:
            return self.resolve(relative_path).stat().st_mtime
        except FileNotFoundError:
            return None

    def put_file(self, source: str | Path, sha256: str, ext: str) -> tuple[str, bool]:
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


@contextlib.contextmanager
def _as_os_errors(where: str) -> Iterator[None]:
    """obstore's errors as the OSErrors a folder store raises (FileNotFoundError for a missing
    object), each naming the bucket and the kind of failure, never a credential."""
    from obstore.exceptions import BaseError

    try:
        yield
    except FileNotFoundError:
        raise FileNotFoundError(f"not in the media bucket: {where}") from None
    except BaseError as exc:
        first_line = str(exc).split("\n", 1)[0].split(" in ", 1)[0]
        raise OSError(f"the media bucket failed ({type(exc).__name__}): {first_line}") from None


class BucketStore(MediaStore):
    """The media store as objects under `s3://bucket/prefix/` on an S3-compatible service.

    The client is obstore (Rust's object_store): importing it and opening a store adds a few MB
    to the app's memory where boto3 adds several times that (bench's `media_client_import_mb`),
    and its API is the handful of calls used here (put/get_range/head/list/delete/sign)."""

    def __init__(self, bucket: BucketSettings, staging: str | Path) -> None:
        from obstore.store import S3Store

        self.bucket = bucket
        self.staging = FolderStore(staging)
        config: dict[str, Any] = {"region": bucket.region}
        if bucket.access_key_id:
            config["access_key_id"] = bucket.access_key_id
            config["secret_access_key"] = bucket.secret_access_key
        if bucket.endpoint:
            config["endpoint"] = bucket.endpoint
            config["virtual_hosted_style_request"] = False  # path style: what MinIO/SeaweedFS/R2 all accept
        self._store: S3Store = S3Store(
            bucket.name,
            prefix=bucket.prefix or None,
            client_options={"allow_http": bool(bucket.endpoint and bucket.endpoint.startswith("http://"))},
            # Fail in seconds, not minutes, when the service is down: a page is waiting.
            retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=20)},
            **config,
        )

    def _key(self, relative_path: str) -> str:
        return check_key(relative_path)

    def _head(self, relative_path: str) -> dict[str, Any] | None:
        import obstore

        try:
            with _as_os_errors(relative_path):
                return obstore.head(self._store, self._key(relative_path))
        except FileNotFoundError:
            return None

    def exists(self, relative_path: str) -> bool:
        return self._head(relative_path) is not None

    def size(self, relative_path: str) -> int:
        meta = self._head(relative_path)
        if meta is None:
            raise FileNotFoundError(f"not in the media bucket: {relative_path}")
        return int(meta["size"])

    def read_range(self, relative_path: str, start: int, end: int) -> bytes:
        import obstore

        if end <= start:
            return b""
        with _as_os_errors(relative_path):
            return bytes(obstore.get_range(self._store, self._key(relative_path), start=start, end=end))

    def playback_url(self, relative_path: str) -> str | None:
        import obstore

        # A presigned GET: the browser streams (with ranges) from the bucket, the app holds none of it.
        with _as_os_errors(relative_path):
            return obstore.sign(self._store, "GET", self._key(relative_path), PLAYBACK_URL_TTL)

    def download(self, relative_path: str, dest: Path) -> None:
        import obstore

        with _as_os_errors(relative_path), open(dest, "wb") as out:
            for chunk in obstore.get(self._store, self._key(relative_path)).stream(min_chunk_size=_CHUNK):
                out.write(chunk)

    def locator(self, relative_path: str) -> str:
        return f"{self.bucket.url}/{self._key(relative_path)}"

    def modified_at(self, relative_path: str) -> float | None:
        meta = self._head(relative_path)
        return None if meta is None else meta["last_modified"].timestamp()

    def stored_files(self) -> Iterator[tuple[str, str]]:
        import obstore

        with _as_os_errors("listing"):
            for page in obstore.list(self._store, chunk_size=1000):
                for meta in page:
                    match = _STORED_RE.match(meta["path"])
                    if match:
                        yield meta["path"], match.group(2)

    def put_file(self, source: str | Path, sha256: str, ext: str) -> tuple[str, bool]:
        import obstore

        rel = self.relative_path(sha256, ext)
        if self.exists(rel):
            return rel, False
        changed = ValueError("the file changed while it was being imported")

        def chunks() -> Iterator[bytes]:
            digest = hashlib.sha256()
            with open(source, "rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    yield chunk
            if digest.hexdigest() != sha256:
                raise changed  # before the upload completes, so the object never appears

        try:
            # Multipart above 5 MB with two parts in flight: bounded memory; an upload that never
            # completes (an error, a killed process) leaves no object.
            with _as_os_errors(rel):
                obstore.put(self._store, rel, chunks(), chunk_size=5 * _CHUNK, max_concurrency=2)
        except Exception as exc:
            if exc is changed or exc.__context__ is changed or exc.__cause__ is changed:
                raise changed from None
            raise
        return rel, True

    def remove(self, relative_path: str) -> None:
        import obstore

        with contextlib.suppress(FileNotFoundError), _as_os_errors(relative_path):
            obstore.delete(self._store, self._key(relative_path))


def open_media_store(settings: Settings | None = None) -> MediaStore:
    """The media store the settings name: a bucket when `MOODTUNE_MEDIA_URL` is an s3:// URL,
    else the local media folder."""
    settings = settings or get_settings()
    if settings.media_bucket is not None:
        return BucketStore(settings.media_bucket, settings.media_dir)
    return FolderStore(settings.media_dir)


@contextlib.contextmanager
def local_copy_of(locator: str) -> Iterator[Path]:
    """A local file holding what `MediaStore.locator` named (an analysis task's input): the
    path itself, or, for an s3:// URL of the configured bucket, a downloaded temp copy."""
    settings = get_settings()
    bucket = settings.media_bucket
    if not locator.startswith("s3://"):
        yield Path(locator)
        return
    if bucket is None or not locator.startswith(bucket.url + "/"):
        raise OSError(f"{locator} is not in this host's media bucket (set MOODTUNE_MEDIA_URL as where the import ran)")
    store = open_media_store(settings)
    with store.local_copy(locator[len(bucket.url) + 1 :]) as path:
        yield path
