"""Audio loading: the one place that turns a file, its bytes or samples in memory into mono
float32 samples at a given rate (`load_audio`, with `to_mono` and `resample`).

soundfile (libsndfile) decodes WAV, FLAC, Ogg Vorbis/Opus and MP3. Long files are read window by
window so a 5-minute song never has to be decoded whole.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.music.errors import AudioError

SAMPLE_RATE = 22050

AudioSource = str | Path | bytes | bytearray | np.ndarray


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


def to_mono(y: np.ndarray) -> np.ndarray:
    """float32 mono samples from mono `[n]` or multichannel audio in either layout, `[n, channels]`
    (as soundfile reads it) or `[channels, n]`: the channels are the short axis."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0 if y.shape[0] < y.shape[1] else 1)
    if y.ndim != 1:
        raise ValueError(f"expected mono or 2-D multichannel audio, got shape {y.shape}")
    return y


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    """`y` at `sr` → float32 at `target` (soxr HQ, the resampler librosa.load uses)."""
    if sr == target:
        return y
    import soxr

    return soxr.resample(y, sr, target, quality="HQ").astype(np.float32)


def load_audio(
    source: AudioSource,
    sr: int = SAMPLE_RATE,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    *,
    source_sr: int | None = None,
) -> np.ndarray:
    """Mono float32 samples at `sr` from `offset_s`, at most `duration_s` seconds.

    `source` is a file path, the file's bytes, or samples already in memory (mono or
    multichannel, see `to_mono`) at rate `source_sr`. A file is decoded only from the offset on.
    Raises AudioError for data that can't be decoded or decodes to under half a second (files),
    or holds invalid samples; ValueError for an array without its rate.
    """
    if isinstance(source, np.ndarray):
        if source_sr is None:
            raise ValueError("sr is required when tagging an array of samples")
        y = resample(to_mono(source), source_sr, sr)
        if offset_s or duration_s is not None:
            end = None if duration_s is None else int((offset_s + duration_s) * sr)
            y = y[int(offset_s * sr) : end]
        if not np.all(np.isfinite(y)):
            raise AudioError("the audio contains invalid samples")
        return y
    import soundfile as sf

    try:
        with sf.SoundFile(_source(source)) as f:
            native = f.samplerate
            start = int(offset_s * native)
            if start:
                f.seek(min(start, max(f.frames - 1, 0)))
            frames = -1 if duration_s is None else int(duration_s * native)
            y, read = _decode_blocks(f, frames, sr)
    except Exception as exc:
        raise AudioError(f"could not decode audio ({_short(exc)})") from None
    if read < native * 0.5:
        raise AudioError("decoded less than half a second of audio (file empty or truncated)")
    if not np.all(np.isfinite(y)):
        raise AudioError("decoded audio contains invalid samples")
    return y


# Frames decoded at a time (about 6 s at 44.1 kHz): a whole song is never held at its native
# rate and channel count, only as the mono `sr` samples analysis needs.
_BLOCK_FRAMES = 1 << 18


def _decode_blocks(f, frames: int, sr: int) -> tuple[np.ndarray, int]:
    """Mono float32 at `sr` of the next `frames` frames (-1: all) of the open SoundFile `f`, and
    how many native frames were read. The same samples as decoding everything, downmixing and
    `resample`: the downmix is per frame and soxr's stream resampler matches its one-shot one."""
    import soxr

    stream = None if f.samplerate == sr else soxr.ResampleStream(f.samplerate, sr, 1, dtype="float32", quality="HQ")
    parts, read, last = [], 0, False
    while not last:
        want = _BLOCK_FRAMES if frames < 0 else min(_BLOCK_FRAMES, frames - read)
        block = f.read(frames=want, dtype="float32", always_2d=True)
        read += len(block)
        last = len(block) < want or read == frames
        mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
        parts.append(mono if stream is None else stream.resample_chunk(mono, last=last))
    return np.concatenate(parts).astype(np.float32, copy=False), read
