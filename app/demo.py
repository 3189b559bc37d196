"""The demo catalog: 32 synthesized instrumental clips that span the four Russell quadrants.

Each clip is plain numpy additive synthesis driven by the musical cues that carry mood:
mode (major/minor, plus chromatic dissonance for tension), tempo, register, loudness,
articulation (staccato/legato) and timbre (number and weight of harmonics, distortion).
Everything is seeded, so the same files (and hashes) come out every time; they are written as
WAV with ID3 title/artist tags and go through the normal ingest path, so the mood model —
not this file — decides each track's quadrant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.catalog.ingest import ImportSummary, IngestResult, ingest_files
from app.config import Settings

SR = 22050
CLIPS_PER_QUADRANT = 8

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PHRYGIAN = (0, 1, 3, 5, 6, 8, 10)  # minor with a flat 2nd and diminished 5th: tense

TITLES = {
    "Q1": ["Sunlit Run", "Bright Parade", "Citrus Skies", "Jumping Lights", "Golden Hour Dash", "Confetti Street", "Morning Sprint", "Kite Festival"],
    "Q2": ["Iron Storm", "Red Alarm", "Fault Line", "Pressure Drop", "Steel Chase", "Night Siren", "Broken Gears", "Thunder Gate"],
    "Q3": ["Grey Window", "Last Letter", "Empty Platform", "Fading Photograph", "Rain on Slate", "Winter Corridor", "Quiet Goodbye", "Low Tide"],
    "Q4": ["Soft Meadow", "Lantern Glow", "Still Water", "Cotton Clouds", "Evening Tea", "Slow Harbor", "Feather Lullaby", "Warm Blanket"],
}
ARTISTS = ["Demo Ensemble", "The Synthetic Quartet", "Numpy Strings", "Sine Wave Collective"]


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
    # Q3 sits an octave below Q4: with the same slow legato minor in the middle register the
    # mood model heard all eight clips as calm (Q4, valence +0.5…+0.7); a low register is what
    # reads as sad (5 of 8 clips Q3, 2 Q4, 1 Q2, measured with the committed model).
    "Q3": Style(MINOR, (50, 62), (40, 47), -26.0, 1.3, 10, 1.9, 1, False, 0.0, False),
    "Q4": Style(MAJOR, (60, 76), (67, 74), -23.0, 1.4, 10, 1.5, 1, False, 0.0, False),
}


def _freq(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


_TABLE_SIZE = 4096


def _wavetable(style: Style, freq: float) -> np.ndarray:
    """One period of the style's harmonic series (harmonics above Nyquist left out)."""
    x = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    top = max(1, min(style.harmonics, int((SR / 2) / (freq * 1.01))))
    return sum(np.sin(2 * np.pi * k * x) / k**style.rolloff for k in range(1, top + 1))


def _tone(freq: float, length: int, style: Style, attack_s: float, decay: float | None = None) -> np.ndarray:
    # Wavetable lookup instead of one sine per harmonic: same sound, a fraction of the CPU.
    t = np.arange(length) / SR
    table = _wavetable(style, freq)
    vibrato = 0.004 * np.sin(2 * np.pi * 5.0 * t) / 5.0  # ±0.4 % pitch wobble, like a played note
    wave = np.zeros(length)
    for detune in (1.0, 1.004):  # two voices 7 cents apart (a chorus) thicken the spectrum
        phase = (freq * detune * (t + vibrato)) % 1.0
        wave += table[(phase * _TABLE_SIZE).astype(np.int64) % _TABLE_SIZE]
    attack = max(1, int(attack_s * SR))
    release = max(1, int(min(0.25, length / SR / 3) * SR))
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


def _drums(buffer: np.ndarray, beat_len: int, rng: np.random.Generator, harsh: bool) -> None:
    kick_t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 12)
    hat_len = int(0.05 * SR)
    for beat, start in enumerate(range(0, len(buffer), beat_len)):
        _add(buffer, start, 0.9 * kick)
        for offset in (0, beat_len // 4, beat_len // 2, 3 * beat_len // 4):  # sixteenth hats
            hat = np.diff(rng.normal(0, 1, hat_len + 1)) * np.exp(-np.arange(hat_len) / SR * 60)
            _add(buffer, start + offset, (0.3 if offset == beat_len // 2 else 0.15) * hat)
        if beat % 2 == 1:
            snare_len = int(0.15 * SR)
            snare = rng.normal(0, 1, snare_len) * np.exp(-np.arange(snare_len) / SR * (25 if harsh else 35))
            _add(buffer, start, (0.6 if harsh else 0.4) * snare)


def _reverb(x: np.ndarray, rng: np.random.Generator, seconds: float, wet: float) -> np.ndarray:
    """Convolution with exponentially decaying noise: a cheap, plausible room."""
    n = int(seconds * SR)
    impulse = rng.normal(0, 1, n) * np.exp(-np.arange(n) / SR * (6.9 / seconds))
    impulse /= np.sqrt(np.sum(impulse**2))
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    tail = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(impulse, size), size)[: len(x)]
    return (1 - wet) * x + wet * tail * (np.std(x) / (np.std(tail) + 1e-12))


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.abs(noise).max() + 1e-12)


def synthesize_clip(quadrant: str, index: int) -> np.ndarray:
    """One deterministic clip (float32 mono at SR) in the style of `quadrant`."""
    style = STYLES[quadrant]
    rng = np.random.default_rng(1000 * (1 + "Q1Q2Q3Q4".index(quadrant)) + index)
    duration = 20.0 + (index * 1.37) % 10.0
    n = int(duration * SR)
    tempo = rng.uniform(*style.tempo)
    beat_len = int(60.0 / tempo * SR)
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
            tone = _tone(_freq(root - 12 + pitch), int(bar_len * 1.05), style, attack_s=0.02 if style.drums else 0.4, decay=0.3)
            _add(music, start, 0.18 * tone)
        _add(music, start, 0.35 * _tone(_freq(root - 24 + chord[0]), bar_len, style, 0.01, decay=0.5))

    # Melody: a seeded random walk over the scale, `notes_per_beat` notes per beat.
    slot = beat_len // style.notes_per_beat
    degree = 7
    for start in range(0, n, slot):
        if rng.random() < (0.15 if style.drums else 0.3):
            continue  # rests
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, 14))
        pitch = scale[degree % 7] + 12 * (degree // 7)
        length = max(int(slot * style.articulation), int(0.03 * SR))
        _add(music, start, 0.3 * _tone(_freq(root + pitch - 7), length, style, attack_s=0.005 if style.articulation < 1 else 0.08))

    if style.drums:
        _drums(music, beat_len, rng, harsh=style.distortion > 0)
    else:  # soft brushes keep a slow pulse
        brush_len = int(0.2 * SR)
        for start in range(0, n, beat_len):
            brush = rng.normal(0, 1, brush_len) * np.exp(-np.arange(brush_len) / SR * 12)
            _add(music, start, 0.04 * np.convolve(brush, np.ones(8) / 8, mode="same"))
    if style.distortion:
        music = np.tanh(style.distortion * music / (np.abs(music).max() + 1e-9))
    # A room and a noise floor: real recordings are never digitally silent between notes, and
    # the mood model has only heard real recordings.
    music = _reverb(music, rng, seconds=0.6 if style.drums else 1.8, wet=0.2 if style.drums else 0.35)
    music += np.abs(music).max() * 10 ** (-36 / 20) * _pink_noise(len(music), rng)
    rms = np.sqrt(np.mean(music**2)) + 1e-12
    music *= 10 ** (style.loudness_dbfs / 20) / rms
    peak = np.abs(music).max()
    if peak > 0.98:
        music *= 0.98 / peak
    fade = int(0.5 * SR)
    music[:fade] *= np.linspace(0, 1, fade)
    music[-fade:] *= np.linspace(1, 0, fade)
    return music.astype(np.float32)


def demo_specs() -> list[tuple[str, int, str, str]]:
    """(quadrant, index, title, artist) for every demo clip, interleaving quadrants."""
    specs = []
    for index in range(CLIPS_PER_QUADRANT):
        for qi, quadrant in enumerate(("Q1", "Q2", "Q3", "Q4")):
            specs.append((quadrant, index, TITLES[quadrant][index], ARTISTS[(index + qi) % len(ARTISTS)]))
    return specs


def write_demo_wav(path: Path, quadrant: str, index: int, title: str, artist: str) -> None:
    import soundfile as sf
    from mutagen.id3 import TALB, TIT2, TPE1
    from mutagen.wave import WAVE

    sf.write(path, synthesize_clip(quadrant, index), SR, subtype="PCM_16")
    tagged = WAVE(path)
    tagged.add_tags()
    tagged.tags.add(TIT2(encoding=3, text=title))
    tagged.tags.add(TPE1(encoding=3, text=artist))
    tagged.tags.add(TALB(encoding=3, text="Moodtune Demo"))
    tagged.save()


def build_demo_catalog(
    *, settings: Settings | None = None, progress: Callable[[int, int, IngestResult], None] | None = None
) -> ImportSummary:
    """Synthesize the clips into a temp folder and ingest them (existing ones are skipped)."""
    with tempfile.TemporaryDirectory(prefix="moodtune-demo-") as folder:
        paths = []
        for quadrant, index, title, artist in demo_specs():
            path = Path(folder) / f"{artist} - {title}.wav"
            write_demo_wav(path, quadrant, index, title, artist)
            paths.append(path)
        return ingest_files(paths, settings=settings, progress=progress, sources=[p.name for p in paths])
