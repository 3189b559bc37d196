"""Hand-made audio features of one stretch of music: a fixed-length vector (`extract`).

What each group is for (valence ≈ pleasantness, arousal ≈ energy):
- log-mel band statistics and MFCCs (+ their frame-to-frame change): timbre and brightness;
- spectral contrast, flatness, centroid, roll-off, zero-crossing rate: harsh vs smooth sound;
- chroma, key clarity and major–minor mode (Krumhansl–Kessler key-profile correlation), tonnetz:
  harmony, the strongest audio cue for valence;
- onset-strength statistics, onset rate, tempo and pulse clarity: the strongest arousal cues;
- RMS loudness dynamics and harmonic/percussive energy ratio;
- spectral-peak dissonance proxy (energy between semitones): tension.

The spectral routines are `app.music.dsp`'s NumPy versions of librosa's (librosa's JIT would
double the analysis worker's memory); `python -m app.music.parity` checks them against librosa.
"""

from __future__ import annotations

import numpy as np

from app.music import dsp
from app.music.audio import SAMPLE_RATE
from app.music.errors import AudioError

N_FFT = 2048
HOP = 512
N_MELS = 64
N_MFCC = 20
N_CONTRAST = 7  # librosa's spectral_contrast: six sub-bands and the rest

# Krumhansl–Kessler key profiles (Krumhansl 1990, "Cognitive Foundations of Musical Pitch").
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _series(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}_{i}" for i in range(n))


_SHAPE = ("centroid", "rolloff", "flatness", "bandwidth", "zcr")

# The hand-made feature vector `extract` returns, group by group in this order; a feature's
# name is its identity (the model's cues are chosen by name, never by position).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "logmel_mean": _series("logmel_mean", N_MELS),
    "logmel_std": _series("logmel_std", N_MELS),
    "mfcc_mean": _series("mfcc_mean", N_MFCC),
    "mfcc_std": _series("mfcc_std", N_MFCC),
    "mfcc_delta_std": _series("mfcc_delta_std", N_MFCC),
    "contrast_mean": _series("contrast_mean", N_CONTRAST),
    "contrast_std": _series("contrast_std", N_CONTRAST),
    "shape_mean": tuple(f"{name}_mean" for name in _SHAPE),
    "shape_std": tuple(f"{name}_std" for name in _SHAPE),
    "chroma_mean": _series("chroma_mean", 12),
    "chroma_std": _series("chroma_std", 12),
    "tonnetz_mean": _series("tonnetz_mean", 6),
    "tonnetz_std": _series("tonnetz_std", 6),
    "key": ("key_major", "key_minor", "key_mode", "key_clarity"),
    "dynamics": (
        "rms_db_mean", "rms_db_std", "rms_db_range", "rms_db_change", "onset_mean", "onset_std", "onset_rate",
        "tempo", "pulse_clarity", "hp_ratio", "flux_mean", "flux_std", "peak_db",
    ),
    "dissonance": ("dissonance_mean", "dissonance_std"),
}  # fmt: skip
FEATURE_NAMES: tuple[str, ...] = tuple(name for names in FEATURE_GROUPS.values() for name in names)


def _key_features(chroma_mean: np.ndarray) -> np.ndarray:
    c = chroma_mean - chroma_mean.mean()
    if np.allclose(c, 0):
        return np.zeros(4)
    maj = np.array([np.corrcoef(c, np.roll(_MAJOR, k))[0, 1] for k in range(12)])
    mnr = np.array([np.corrcoef(c, np.roll(_MINOR, k))[0, 1] for k in range(12)])
    best = max(maj.max(), mnr.max())
    allc = np.sort(np.concatenate([maj, mnr]))
    return np.array([maj.max(), mnr.max(), maj.max() - mnr.max(), best - allc[-2]])


def _dissonance(power: np.ndarray, sr: int) -> np.ndarray:
    """Share of spectral energy that falls between equal-tempered semitones (80 Hz – 4 kHz):
    a cheap roughness/tension proxy."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    band = (freqs > 80) & (freqs < 4000)
    semis = 12 * np.log2(freqs[band] / 440.0)
    detune = np.abs(semis - np.round(semis))  # 0 on a semitone, 0.5 half-way
    p = power[band]
    total = p.sum(axis=0) + 1e-10
    off = (p * (detune[:, None] > 0.25)).sum(axis=0) / total
    return np.array([off.mean(), off.std()])


def check_audio(y: np.ndarray, sr: int) -> float:
    """The peak amplitude of `y`; AudioError for audio too short or too quiet to describe."""
    if y.size < sr:
        raise AudioError("need at least one second of audio to tag a mood")
    peak = float(np.max(np.abs(y)))
    if peak < 1e-4:
        raise AudioError("the audio is silent")
    return peak


def centroid_bandwidth(stft: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """[frames] spectral centroid and bandwidth of |STFT| (librosa's definitions), computed
    together: librosa's spectral_bandwidth would compute the centroid a second time."""
    freqs = dsp.fft_frequencies(sr, N_FFT)[:, None]
    weights = stft / np.maximum(stft.sum(axis=0, keepdims=True), np.finfo(np.float32).tiny)
    centroid = (freqs * weights).sum(axis=0, keepdims=True)
    bandwidth = np.sqrt((weights * (freqs - centroid) ** 2).sum(axis=0, keepdims=True))
    return centroid[0], bandwidth[0]


def extract(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Hand-made features (float32, `FEATURE_NAMES` order) of mono samples at `sr` (already windowed)."""
    y = np.asarray(y, dtype=np.float32)
    peak = check_audio(y, sr)
    stft = dsp.stft_magnitude(y, N_FFT, HOP)
    power = stft**2
    mel = dsp.mel_filterbank(float(sr), N_FFT, N_MELS) @ power
    logmel = dsp.power_to_db(mel, top_db=90)
    centroid, bandwidth = centroid_bandwidth(stft, sr)
    rolloff = dsp.spectral_rolloff(stft, sr)
    shape = np.vstack(
        [
            centroid / sr,
            rolloff / sr,
            dsp.spectral_flatness(stft),
            bandwidth / sr,
            dsp.zero_crossing_rate(y, N_FFT, HOP),
        ]
    )
    chroma = dsp.chroma_stft(power, sr)
    onset = dsp.onset_strength(logmel, N_FFT, HOP)
    # Harmonic/percussive split on the mel spectrogram (cheaper than on the full STFT).
    harm, perc = dsp.hpss(mel, kernel_size=17)
    return assemble(
        logmel=logmel,
        mfcc=dsp.mfcc(logmel, N_MFCC),
        contrast=dsp.spectral_contrast(stft, sr),
        shape=shape,
        chroma=chroma,
        tonnetz=dsp.tonnetz(chroma),
        rms_db=dsp.amplitude_to_db(dsp.rms(power) + 1e-6),
        onset=onset,
        n_onsets=len(dsp.onset_detect(onset, sr, HOP)),
        tempo=dsp.tempo(onset, sr, HOP),
        onset_ac=dsp.autocorrelate(onset - onset.mean()),
        harm=harm,
        perc=perc,
        power=power,
        peak=peak,
        duration=y.size / sr,
        sr=sr,
    )


def assemble(
    *, logmel: np.ndarray, mfcc: np.ndarray, contrast: np.ndarray, shape: np.ndarray, chroma: np.ndarray,
    tonnetz: np.ndarray, rms_db: np.ndarray, onset: np.ndarray, n_onsets: int, tempo: float,
    onset_ac: np.ndarray, harm: np.ndarray, perc: np.ndarray, power: np.ndarray, peak: float,
    duration: float, sr: int,
) -> np.ndarray:  # fmt: skip
    """The feature vector (float32, `FEATURE_NAMES` order) from a stretch's spectral curves
    ([rows, frames] each; `shape` is centroid, roll-off, flatness, bandwidth and ZCR), its onset
    envelope, onset count and tempo, the envelope's autocorrelation, its harmonic/percussive mel
    parts, its power spectrogram and peak: the summaries, whoever computed the curves."""
    # Pulse clarity: height of the strongest tempo peak in the onset autocorrelation.
    ac = onset_ac / (onset_ac[0] + 1e-10)
    lo, hi = int(60 / 200 * sr / HOP), int(60 / 40 * sr / HOP)
    pulse = float(ac[lo:hi].max()) if hi < ac.size else 0.0
    hp_ratio = np.log((harm.sum() + 1e-10) / (perc.sum() + 1e-10))
    flux = np.sqrt((np.diff(logmel, axis=1).clip(min=0) ** 2).mean(axis=0))
    rms_db = np.ravel(rms_db)
    groups = {
        "logmel_mean": logmel.mean(axis=1), "logmel_std": logmel.std(axis=1),
        "mfcc_mean": mfcc.mean(axis=1), "mfcc_std": mfcc.std(axis=1),
        "mfcc_delta_std": np.diff(mfcc, axis=1).std(axis=1),
        "contrast_mean": contrast.mean(axis=1), "contrast_std": contrast.std(axis=1),
        "shape_mean": shape.mean(axis=1), "shape_std": shape.std(axis=1),
        "chroma_mean": chroma.mean(axis=1), "chroma_std": chroma.std(axis=1),
        "tonnetz_mean": tonnetz.mean(axis=1), "tonnetz_std": tonnetz.std(axis=1),
        "key": _key_features(chroma.mean(axis=1)),
        "dynamics": np.array(
            [
                rms_db.mean(), rms_db.std(), np.percentile(rms_db, 95) - np.percentile(rms_db, 10),
                np.abs(np.diff(rms_db)).mean(),
                onset.mean(), onset.std(), n_onsets / duration, tempo / 200.0, pulse,
                hp_ratio, flux.mean(), flux.std(), 20 * np.log10(peak),
            ]
        ),
        "dissonance": _dissonance(power, sr),
    }  # fmt: skip
    for group, names in FEATURE_GROUPS.items():
        if np.size(groups[group]) != len(names):
            raise RuntimeError(f"feature group {group} has {np.size(groups[group])} values for {len(names)} names")
    feats = np.concatenate([np.ravel(groups[group]) for group in FEATURE_GROUPS]).astype(np.float32)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)


def extract_segments(y: np.ndarray, sr: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """[segments, FEATURE_NAMES]: `extract` of each sample span [start, end) of `y`."""
    return np.stack([extract(y[a:b], sr) for a, b in spans])
