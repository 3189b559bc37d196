"""Generated inputs for the demo, the benchmark and the tests: nothing is read from outside the repo.

- `mood_clip`: the one music synthesizer. Plain numpy additive synthesis driven by the musical
  cues that carry mood: mode (major/minor, plus chromatic dissonance for tension), tempo,
  register, loudness, articulation (staccato/legato) and timbre (number and weight of harmonics,
  distortion). Seeded, so the same arguments give the same samples every time.
- `tone`: a plain (optionally chorded, tremolo'd, noisy) tone, for tests about file handling
  where the audio's pitch or loudness, not its mood, matters.
- `astronaut_frame`: scikit-image's astronaut photo (Eileen Collins, smiling) as a BGR camera frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 22050
QUADRANT_ORDER = "Q1Q2Q3Q4"

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PHRYGIAN = (0, 1, 3, 5, 6, 8, 10)  # minor with a flat 2nd and diminished 5th: tense


@dataclass(frozen=True)
class Style:
    scale: tuple[int, ...]
    tempo: tuple[float, float]  # bpm range
    root_midi: tuple[int, int]  # register of the melody's tonic
    loudness_dbfs: float  # target RMS
    articulation: float  # note length as a share of its slot: <0.5 staccato, >1 legato overlap
    harmonics: int  # brightness
    rolloff: float  # harmonic k has amplitude 1/k**rolloff: low = bright/harsh
    notes_per_beat: int
    drums: bool
    distortion: float  # tanh drive, 0 = clean
    dissonance: bool  # add a minor-second cluster to chords


STYLES = {
    "Q1": Style(MAJOR, (128, 150), (72, 79), -13.0, 0.7, 16, 0.9, 2, True, 0.0, False),
    "Q2": Style(PHRYGIAN, (140, 172), (48, 55), -12.0, 0.6, 20, 0.7, 4, True, 3.0, True),
    # Q3 sits an octave below Q4: the mood model hears a slow legato minor in the middle
    # register as calm (Q4); the low register is what makes it read as sad.
    "Q3": Style(MINOR, (50, 62), (40, 47), -26.0, 1.3, 10, 1.9, 1, False, 0.0, False),
    "Q4": Style(MAJOR, (60, 76), (67, 74), -23.0, 1.4, 10, 1.5, 1, False, 0.0, False),
}

_TABLE_SIZE = 4096


def _freq(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _wavetable(style: Style, freq: float, sr: int) -> np.ndarray:
    """One period of the style's harmonic series (harmonics above Nyquist left out)."""
    x = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    top = max(1, min(style.harmonics, int((sr / 2) / (freq * 1.01))))
    return sum(np.sin(2 * np.pi * k * x) / k**style.rolloff for k in range(1, top + 1))


def _note(
    freq: float, length: int, style: Style, sr: int, *, attack_s: float, decay: float | None = None
) -> np.ndarray:
    # Wavetable lookup instead of one sine per harmonic: same sound, a fraction of the CPU.
    t = np.arange(length) / sr
    table = _wavetable(style, freq, sr)
    vibrato = 0.004 * np.sin(2 * np.pi * 5.0 * t) / 5.0  # ±0.4 % pitch wobble, like a played note
    wave = np.zeros(length)
    for detune in (1.0, 1.004):  # two voices 7 cents apart (a chorus) thicken the spectrum
        phase = (freq * detune * (t + vibrato)) % 1.0
        wave += table[(phase * _TABLE_SIZE).astype(np.int64) % _TABLE_SIZE]
    attack = max(1, int(attack_s * sr))
    release = max(1, int(min(0.25, length / sr / 3) * sr))
    env = np.ones(length)
    env[:attack] = np.linspace(0, 1, min(attack, length))[: min(attack, length)]
    env[-release:] *= np.linspace(1, 0, release)
    if decay is None:
        decay = 3.0 if style.articulation < 1 else 0.4
    return wave * env * np.exp(-t * decay)


def _add(buffer: np.ndarray, start: int, sound: np.ndarray) -> None:
    end = min(len(buffer), start + len(sound))
    if start < end:
        buffer[start:end] += sound[: end - start]


def _drums(buffer: np.ndarray, beat_len: int, rng: np.random.Generator, harsh: bool, sr: int) -> None:
    kick_t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 12)
    hat_len = int(0.05 * sr)
    for beat, start in enumerate(range(0, len(buffer), beat_len)):
        _add(buffer, start, 0.9 * kick)
        for offset in (0, beat_len // 4, beat_len // 2, 3 * beat_len // 4):  # sixteenth hats
            hat = np.diff(rng.normal(0, 1, hat_len + 1)) * np.exp(-np.arange(hat_len) / sr * 60)
            _add(buffer, start + offset, (0.3 if offset == beat_len // 2 else 0.15) * hat)
        if beat % 2 == 1:
            snare_len = int(0.15 * sr)
            snare = rng.normal(0, 1, snare_len) * np.exp(-np.arange(snare_len) / sr * (25 if harsh else 35))
            _add(buffer, start, (0.6 if harsh else 0.4) * snare)


def _reverb(x: np.ndarray, rng: np.random.Generator, seconds: float, wet: float, sr: int) -> np.ndarray:
    """Convolution with exponentially decaying noise: a cheap, plausible room."""
    n = int(seconds * sr)
    impulse = rng.normal(0, 1, n) * np.exp(-np.arange(n) / sr * (6.9 / seconds))
    impulse /= np.sqrt(np.sum(impulse**2))
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    tail = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(impulse, size), size)[: len(x)]
    return (1 - wet) * x + wet * tail * (np.std(x) / (np.std(tail) + 1e-12))


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.abs(noise).max() + 1e-12)


def mood_clip(quadrant: str, seed: int = 0, seconds: float | None = None, sr: int = SR) -> np.ndarray:
    """A deterministic instrumental clip (float32 mono at `sr`) in the style of `quadrant`.

    `seed` picks the variation (tempo, key, melody, noise); without `seconds` the clip lasts
    20 to 30 s, set by the seed. The demo catalog is `mood_clip(quadrant, index)`."""
    style = STYLES[quadrant]
    rng = np.random.default_rng(1000 * (1 + QUADRANT_ORDER.index(quadrant)) + seed)
    duration = 20.0 + (seed * 1.37) % 10.0 if seconds is None else float(seconds)
    n = int(duration * sr)
    tempo = rng.uniform(*style.tempo)
    beat_len = int(60.0 / tempo * sr)
    root = int(rng.integers(style.root_midi[0], style.root_midi[1] + 1))
    scale = style.scale
    music = np.zeros(n)

    # Harmony: one chord per bar (4 beats), triads on scale degrees I-VI-IV-V or i-iv-VI-v.
    progression = [0, 5, 3, 4] if scale == MAJOR else [0, 3, 5, 4]
    bar_len = 4 * beat_len
    for bar, start in enumerate(range(0, n, bar_len)):
        degree = progression[bar % len(progression)]
        chord = [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
        if style.dissonance:
            chord.append(chord[0] + 1)
        for pitch in chord:
            attack = 0.02 if style.drums else 0.4
            _add(
                music,
                start,
                0.18 * _note(_freq(root - 12 + pitch), int(bar_len * 1.05), style, sr, attack_s=attack, decay=0.3),
            )
        _add(music, start, 0.35 * _note(_freq(root - 24 + chord[0]), bar_len, style, sr, attack_s=0.01, decay=0.5))

    # Melody: a seeded random walk over the scale, `notes_per_beat` notes per beat.
    slot = beat_len // style.notes_per_beat
    degree = 7
    for start in range(0, n, slot):
        if rng.random() < (0.15 if style.drums else 0.3):
            continue  # rests
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, 14))
        pitch = scale[degree % 7] + 12 * (degree // 7)
        length = max(int(slot * style.articulation), int(0.03 * sr))
        attack = 0.005 if style.articulation < 1 else 0.08
        _add(music, start, 0.3 * _note(_freq(root + pitch - 7), length, style, sr, attack_s=attack))

    if style.drums:
        _drums(music, beat_len, rng, style.distortion > 0, sr)
    else:  # soft brushes keep a slow pulse
        brush_len = int(0.2 * sr)
        for start in range(0, n, beat_len):
            brush = rng.normal(0, 1, brush_len) * np.exp(-np.arange(brush_len) / sr * 12)
            _add(music, start, 0.04 * np.convolve(brush, np.ones(8) / 8, mode="same"))
    if style.distortion:
        music = np.tanh(style.distortion * music / (np.abs(music).max() + 1e-9))
    # A room and a noise floor: real recordings are never digitally silent between notes, and
    # the mood model has only heard real recordings.
    music = _reverb(music, rng, seconds=0.6 if style.drums else 1.8, wet=0.2 if style.drums else 0.35, sr=sr)
    music += np.abs(music).max() * 10 ** (-36 / 20) * _pink_noise(len(music), rng)
    rms = np.sqrt(np.mean(music**2)) + 1e-12
    music *= 10 ** (style.loudness_dbfs / 20) / rms
    peak = np.abs(music).max()
    if peak > 0.98:
        music *= 0.98 / peak
    fade = int(0.5 * sr)
    music[:fade] *= np.linspace(0, 1, fade)
    music[-fade:] *= np.linspace(1, 0, fade)
    return music.astype(np.float32)


def tone(
    seconds: float = 3.0,
    sr: int = SR,
    freq: float = 440.0,
    *,
    ratios: Sequence[float] = (1.0,),
    amplitude: float = 0.4,
    tremolo: float = 0.0,
    tremolo_hz: float = 3.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """float32 mono: sines at `freq` × each of `ratios` (their mean, times `amplitude`), an
    optional tremolo of depth `tremolo`, plus seeded white noise of std `noise` (so different
    seeds give different files and hashes)."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * freq * r * t) for r in ratios) / len(ratios)
    y = amplitude * y * (1 + tremolo * np.sin(2 * np.pi * tremolo_hz * t))
    if noise:
        y = y + noise * np.random.default_rng(seed).normal(size=t.size)
    return y.astype(np.float32)


def astronaut_frame(width: int = 640, height: int = 480, letterbox: bool = False) -> np.ndarray:
    """The astronaut photo (a smiling face) as a BGR camera frame of `width`×`height`: stretched
    to fill it, or with `letterbox` kept square and centred on grey."""
    import cv2
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    if not letterbox:
        return cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    side = min(width, height)
    frame = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    frame[top : top + side, left : left + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return frame


def write_long_song(path: str | Path, seconds: float = 300.0, sr: int = 44100) -> None:
    """A whole song as a curator imports one: `seconds` of music, 16-bit stereo WAV at `sr`."""
    import soundfile as sf

    y = np.tile(mood_clip("Q2", seed=7, seconds=30.0, sr=sr), int(np.ceil(seconds / 30.0)))[: int(seconds * sr)]
    sf.write(path, np.stack([y, 0.9 * y], axis=1), sr, subtype="PCM_16")
