"""Content-addressed media store: `<media_dir>/<sha[:2]>/<sha>.<ext>`.

Files are written under a temporary name in the destination folder and renamed into place
(os.replace is atomic on one filesystem), so a reader never sees half a file and a crash leaves
at most a `.tmp` file that `sweep_temp_files()` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from pathlib import Path

from app.config import get_settings

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
TEMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20


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
        temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
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
        if not self.root.is_dir():
            return []
        return [p for p in self.root.rglob(f"*{TEMP_SUFFIX}") if p.is_file()]

    def sweep_temp_files(self) -> int:
        """Remove leftovers of interrupted writes; returns how many were removed."""
        leftovers = self.temp_files()
        for p in leftovers:
            p.unlink(missing_ok=True)
        return len(leftovers)

    def incoming_path(self, suffix: str = "") -> Path:
        """A fresh temp path inside the store (same filesystem, so it can be renamed into place)."""
        folder = self.root / ".incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex}{suffix}{TEMP_SUFFIX}"
