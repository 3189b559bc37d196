"""The audio formats Moodtune knows: the one list of what it accepts, and type sniffing from bytes.

A file's type comes from its first bytes, never its name. Accepted formats are those libsndfile
decodes and browsers play; a few others are recognised so a refusal can name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AudioFormat:
    name: str  # what sniff_format() returns; also the stored file's extension
    label: str  # how messages name it
    extensions: tuple[str, ...]  # file-name extensions it goes by, without the dot
    mime: str
    accepted: bool


FORMATS: tuple[AudioFormat, ...] = (
    AudioFormat("mp3", "MP3", ("mp3",), "audio/mpeg", True),
    AudioFormat("wav", "WAV", ("wav", "wave"), "audio/wav", True),
    AudioFormat("flac", "FLAC", ("flac",), "audio/flac", True),
    AudioFormat("ogg", "Ogg Vorbis/Opus", ("ogg", "oga"), "audio/ogg", True),
    AudioFormat("opus", "Ogg Vorbis/Opus", ("opus",), "audio/ogg", True),
    AudioFormat("aiff", "AIFF", ("aiff", "aif"), "audio/aiff", True),
    # Recognised but refused: soundfile can't decode them without ffmpeg.
    AudioFormat("m4a", "M4A", ("m4a",), "audio/mp4", False),
    AudioFormat("aac", "AAC", ("aac",), "audio/aac", False),
    AudioFormat("wma", "WMA", ("wma",), "audio/x-ms-wma", False),
)

ACCEPTED_FORMATS: tuple[str, ...] = tuple(f.name for f in FORMATS if f.accepted)
# What the upload widget offers: exactly the extensions of the accepted formats.
UPLOAD_EXTENSIONS: tuple[str, ...] = tuple(ext for f in FORMATS if f.accepted for ext in f.extensions)
# Looked at when walking a folder (content is still sniffed): the refused ones too, so an m4a in a
# folder gets a message instead of being passed over in silence. Files named explicitly are always tried.
FOLDER_EXTENSIONS: frozenset[str] = frozenset(ext for f in FORMATS for ext in f.extensions)
ACCEPTED_LABELS: tuple[str, ...] = tuple(dict.fromkeys(f.label for f in FORMATS if f.accepted))
_MIME_BY_EXTENSION = {ext: f.mime for f in FORMATS for ext in f.extensions}


def mime_type(path: str | Path) -> str:
    """The MIME type a browser needs to play a file, from its extension (stored files are named by
    their sniffed format)."""
    return _MIME_BY_EXTENSION.get(Path(path).suffix.lower().lstrip("."), "application/octet-stream")


def id3_tag_length(head: bytes) -> int:
    """Bytes an ID3v2 tag at the start takes (header, frames, footer), 0 when there is none."""
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # "syncsafe": 7 bits a byte
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def hidden_container(after_tag: bytes) -> str | None:
    """The container behind an ID3 tag when it is not MPEG audio (a WAV, FLAC… polyglot), else None.
    Decoders skip a leading ID3 tag and play what follows, so its name decides what a file is."""
    fmt = _sniff_container(after_tag)
    return fmt if fmt not in (None, "mp3") else None


def sniff_format(head: bytes) -> str | None:
    """Container type from the first bytes, or None if it isn't audio we know. A leading ID3 tag
    says "mp3"; `hidden_container` tells whether another container hides behind it."""
    if head[:3] == b"ID3":
        return "mp3"
    return _sniff_container(head)


def _sniff_container(head: bytes) -> str | None:
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[:128] else "ogg"
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    # MPEG audio frame sync (11 bits) with a valid layer; layer bits 00 would be AAC ADTS.
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "m4a"
    return None


_NOT_AUDIO = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive",
    b"\x7fELF": "a program",
    b"<": "a text/HTML file",
}


def describe_non_audio(head: bytes) -> str:
    """Why content sniff_format() doesn't know is refused, naming what it is when we can tell."""
    for magic, what in _NOT_AUDIO.items():
        if head.startswith(magic):
            return f"not an audio file: the content is {what}"
    return f"not an audio file: the content matches no supported audio format ({', '.join(ACCEPTED_LABELS)})"


def describe_unsupported(fmt: str) -> str:
    """Why a recognised audio format that isn't accepted is refused, and what to use instead."""
    return f"unsupported audio format {fmt.upper()}; use {', '.join(ACCEPTED_LABELS[:-1])} or {ACCEPTED_LABELS[-1]}"
