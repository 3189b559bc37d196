"""Audio decoding: the one place that turns a file or bytes into samples.

soundfile (libsndfile) decodes WAV, FLAC, Ogg Vorbis/Opus and MP3; librosa's audioread fallback
covers the rest (m4a via ffmpeg where installed). Long files are read window by window so a
5-minute song never has to be decoded whole.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050


class AudioError(ValueError):
    """The input is not decodable audio (message says why, for the user)."""


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    format: str  # e.g. "WAV", "MP3", "OGG"


def _source(path_or_bytes):
    return io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else str(path_or_bytes)


def probe(path_or_bytes: str | Path | bytes) -> AudioInfo:
    """Header-level facts about a file. Raises AudioError for anything soundfile can't open."""
    import soundfile as sf

    try:
        info = sf.info(_source(path_or_bytes))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"not a decodable audio file ({_short(exc)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError("the audio stream is empty")
    return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels, info.format)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _to_mono(data: np.ndarray) -> np.ndarray:
    return data.mean(axis=1) if data.ndim == 2 else data


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return y
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32)


def load_audio(
    path_or_bytes: str | Path | bytes,
    sr: int = SAMPLE_RATE,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode mono float32 samples at `sr` from `offset_s`, at most `duration_s` seconds.

    Raises AudioError if the data can't be decoded, or decodes to silence-length nothing.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(_source(path_or_bytes)) as f:
            native = f.samplerate
            start = int(offset_s * native)
            if start:
                f.seek(min(start, max(f.frames - 1, 0)))
            frames = -1 if duration_s is None else int(duration_s * native)
            data = f.read(frames=frames, dtype="float32", always_2d=False)
    except Exception as exc:
        raise AudioError(f"could not decode audio ({_short(exc)})") from None
    y = _to_mono(np.asarray(data, dtype=np.float32))
    if y.size < native * 0.5:
        raise AudioError("decoded less than half a second of audio (file empty or truncated)")
    if not np.all(np.isfinite(y)):
        raise AudioError("decoded audio contains invalid samples")
    return _resample(y, native, sr)
