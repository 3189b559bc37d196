"""What a file must pass before it enters the catalog, and what it tells us about itself.

Each check raises `Refused` with a message for the curator that names the problem or the limit
(and the setting that moves it). Title/artist/album come from the tags, else from the file name.
"""

from __future__ import annotations

import logging
import os
import struct
import unicodedata
import zlib
from contextvars import ContextVar
from typing import BinaryIO

from app.catalog import repository
from app.config import Settings
from app.library.formats import (
    ACCEPTED_FORMATS,
    describe_non_audio,
    describe_unsupported,
    hidden_container,
    id3_tag_length,
    sniff_format,
)

log = logging.getLogger(__name__)

TAIL_CHECK_S = 2.0  # seconds decoded at the end of a file to catch one that was cut off
HEAD_BYTES = 4096  # what sniffing looks at
# Sample rates browsers' audio elements play (Chrome and Firefox refuse below 8 kHz or above 192 kHz).
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
# More channels than a 7.1 mix are no music a browser plays; analysis downmixes what it accepts.
MAX_CHANNELS = 8
# Decoded size is frames x channels x 4-byte float samples. The cap is what the longest allowed
# track takes at this rate in stereo, so a file's cost is bounded by the duration limit whatever
# rate and channel count its header claims.
DECODED_CAP_RATE = 48_000
DECODED_CAP_CHANNELS = 2
BYTES_PER_DECODED_SAMPLE = 4


class Refused(ValueError):
    """The file can't go into the catalog; the message says why, for the curator."""


# ----------------------------------------------------------------------------- messages


def format_mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def format_duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


# ----------------------------------------------------------------------------- checks


def check_size(n_bytes: int, settings: Settings) -> None:
    """Empty or over the upload limit: decided from the size alone, before anything is read."""
    if n_bytes == 0:
        raise Refused("the file is empty (0 bytes)")
    if n_bytes > settings.max_upload_bytes:
        raise Refused(
            f"the file is {format_mb(n_bytes)}, over the {settings.max_upload_mb:g} MB size limit "
            "(MOODTUNE_MAX_UPLOAD_MB)"
        )


def check_format(head: bytes, after_id3: bytes | None = None) -> str:
    """The accepted format the first bytes show (see formats.ACCEPTED_FORMATS). For a file that
    starts with an ID3 tag, `after_id3` is what follows the tag (`read_head` reads both)."""
    fmt = sniff_format(head)
    if fmt is None:
        raise Refused(describe_non_audio(head))
    if fmt not in ACCEPTED_FORMATS:
        raise Refused(describe_unsupported(fmt))
    hidden = hidden_container(after_id3) if after_id3 is not None else None
    if hidden is not None:
        # Stored as mp3 it would be served as audio/mpeg while decoders play the other container.
        raise Refused(
            f"ambiguous file: an MP3 (ID3) tag in front of {hidden.upper()} audio; "
            f"save it again as a plain {hidden.upper()} or MP3 file"
        )
    return fmt


def read_head(f: BinaryIO) -> tuple[bytes, bytes | None]:
    """The first HEAD_BYTES of an open file and, when they start with an ID3 tag, the HEAD_BYTES
    after the tag (a tag with cover art can be far longer than the head)."""
    head = f.read(HEAD_BYTES)
    tag = id3_tag_length(head)
    if not tag:
        return head, None
    f.seek(tag)
    return head, f.read(HEAD_BYTES)


def check_decodes(path: str, fmt: str, max_duration_s: float) -> float:
    """Decode checks and the stream limits (check_stream_limits); returns the duration in seconds.

    The header must open and stay within the limits, the first seconds and the last TAIL_CHECK_S
    must decode, and a WAV's header must not promise more data than the file holds."""
    from app.music.audio import AudioError, load_audio, probe

    label = fmt.upper()
    try:
        info = probe(path)
    except AudioError as exc:
        raise Refused(f"cannot decode this {label} file: {exc}") from None
    check_stream_limits(info.sample_rate, info.channels, info.duration_s, max_duration_s)
    try:
        load_audio(path, sr=info.sample_rate, duration_s=min(5.0, info.duration_s))
    except AudioError as exc:
        raise Refused(f"cannot decode this {label} file: {exc}") from None
    declared = wav_declared_data_shortfall(path) if fmt == "wav" else 0
    if declared > 0:
        # libsndfile quietly plays a cut-off WAV as a shorter one; the header knows better.
        raise Refused(
            f"the WAV file is truncated: its header declares {format_mb(declared)} more audio data than the file holds"
        )
    if info.duration_s > 2 * TAIL_CHECK_S:
        # A cut-off file still has a header promising the full length: decoding its end fails.
        try:
            load_audio(path, sr=info.sample_rate, offset_s=info.duration_s - TAIL_CHECK_S, duration_s=TAIL_CHECK_S)
        except AudioError:
            raise Refused(
                f"the {label} file is truncated: its header declares {format_duration(info.duration_s)} "
                "but the audio data ends early"
            ) from None
    return float(info.duration_s)


def decoded_cap_bytes(max_duration_s: float) -> int:
    """The most decoded audio one file may amount to (see DECODED_CAP_RATE)."""
    return int(max_duration_s * DECODED_CAP_RATE * DECODED_CAP_CHANNELS * BYTES_PER_DECODED_SAMPLE)


def check_stream_limits(sample_rate: int, channels: int, duration_s: float, max_duration_s: float) -> None:
    """Sample rate, channel count, duration and decoded size, from the header alone: refused before any
    audio is decoded, so a small file whose header claims a huge stream costs no memory."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise Refused(
            f"the sample rate is {sample_rate:,} Hz: no browser can play this sample rate "
            f"(accepted: {MIN_SAMPLE_RATE // 1000}–{MAX_SAMPLE_RATE // 1000} kHz)"
        )
    if channels > MAX_CHANNELS:
        raise Refused(f"the file has {channels} audio channels, more than the {MAX_CHANNELS} accepted (mix it down)")
    if duration_s > max_duration_s:
        raise Refused(
            f"audio is {format_duration(duration_s)} long, over the {format_duration(max_duration_s)} "
            f"duration limit (MOODTUNE_MAX_DURATION_S={max_duration_s:g})"
        )
    decoded = int(round(duration_s * sample_rate)) * channels * BYTES_PER_DECODED_SAMPLE
    cap = decoded_cap_bytes(max_duration_s)
    if decoded > cap:
        raise Refused(
            f"decoded, this file would take {format_mb(decoded)} ({format_duration(duration_s)} at "
            f"{sample_rate:,} Hz × {channels} channels), over the {format_mb(cap)} limit; "
            f"save it at {DECODED_CAP_RATE // 1000} kHz stereo or shorter"
        )


def wav_declared_data_shortfall(path: str) -> int:
    """Bytes of audio data a RIFF/WAVE header declares beyond the end of the file (0 when it
    fits, or when the size is left open as streaming writers do)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return 0
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):
                    return 0
                return max(0, offset + 8 + chunk_size - size)
            offset += 8 + chunk_size + (chunk_size & 1)
    return 0


# ----------------------------------------------------------------------------- names and tags


def sanitize_name(name: str | None) -> str:
    """A display-safe file name: last path component only, no NUL/control characters, NFC."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if ch.isprintable())
    text = " ".join(text.split()).strip(". ")
    return text[:200] or "upload"


def title_artist_from_name(name: str) -> tuple[str, str | None]:
    """'Artist - Title.mp3' → ('Title', 'Artist'); 'my_song.wav' → ('my song', None)."""
    stem = sanitize_name(name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    stem = " ".join(stem.replace("_", " ").split())
    if " - " in stem:
        artist, title = (part.strip() for part in stem.split(" - ", 1))
        if artist and title:
            return title, artist
    return stem or "Untitled", None


# What the zlib-compressed ID3 frames of one file may inflate to, all together: mutagen inflates
# every compressed frame with no limit (a 1 MB tag can become gigabytes) and has no option for one.
TAG_INFLATE_BUDGET = 1 << 20
_tag_inflate_left: ContextVar[int] = ContextVar("tag_inflate_left", default=0)


class _BoundedZlib:
    """Stands in for `zlib` inside mutagen's ID3 frame parser: inflates at most what is left of
    TAG_INFLATE_BUDGET for the tags being read (nothing outside read_tags); a frame past it
    raises zlib.error, which mutagen treats as a junk frame and skips."""

    error = zlib.error

    @staticmethod
    def decompress(data: bytes, *_args: object, **_kwargs: object) -> bytes:
        left = _tag_inflate_left.get()
        if left <= 0:
            raise zlib.error("compressed ID3 frames are over the inflate budget")
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, left + 1)  # stops after left + 1 bytes, however big the frame
        if len(out) > left or not inflater.eof:
            _tag_inflate_left.set(0)
            raise zlib.error("compressed ID3 frame is over the inflate budget or incomplete")
        _tag_inflate_left.set(left - len(out))
        return out


def _bound_id3_inflate() -> None:
    """Make mutagen's ID3 frame parser inflate through _BoundedZlib (idempotent). Fails loudly
    if a mutagen upgrade moved the parser's zlib, rather than silently reading unbounded."""
    from mutagen.id3 import _frames

    if _frames.zlib is not _BoundedZlib:
        if _frames.zlib is not zlib:
            raise RuntimeError("mutagen.id3._frames no longer uses zlib: re-check the ID3 inflate bound")
        _frames.zlib = _BoundedZlib


def read_tags(path: str) -> dict[str, str]:
    """title/artist/album from the file's tags; {} when it has none or mutagen can't read them.
    Compressed ID3 frames inflate to at most TAG_INFLATE_BUDGET bytes in all."""
    import mutagen

    _bound_id3_inflate()
    budget = _tag_inflate_left.set(TAG_INFLATE_BUDGET)
    try:
        return _read_tags(mutagen, path)
    finally:
        _tag_inflate_left.reset(budget)


def _read_tags(mutagen, path: str) -> dict[str, str]:  # noqa: ANN001 - the lazily imported module
    found: dict[str, str] = {}
    try:
        audio = mutagen.File(path, easy=True)
        if audio is not None and audio.tags is not None:
            for key in ("title", "artist", "album"):
                values = audio.tags.get(key) if hasattr(audio.tags, "get") else None
                if values:
                    found[key] = str(values[0])
        if not found:  # WAV/AIFF carry ID3 frames but have no "easy" interface
            audio = mutagen.File(path)
            tags = getattr(audio, "tags", None)
            for key, frame in (("title", "TIT2"), ("artist", "TPE1"), ("album", "TALB")):
                if tags is not None and hasattr(tags, "get") and tags.get(frame):
                    found[key] = str(tags.get(frame).text[0])
    except Exception:  # tags are optional; a broken tag block must not fail the import
        log.debug("could not read tags of %s", path, exc_info=True)
    return {k: repository.clean_text(v) for k, v in found.items() if repository.clean_text(v)}
