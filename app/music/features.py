"""Audio features for music mood: a fixed-length vector per track.

What each group is for (valence ≈ pleasantness, arousal ≈ energy):
- log-mel band statistics and MFCCs (+ their frame-to-frame change): timbre and brightness;
- spectral contrast, flatness, centroid, roll-off, zero-crossing rate: harsh vs smooth sound;
- chroma, key clarity and major–minor mode (Krumhansl–Kessler key-profile correlation), tonnetz:
  harmony, the strongest audio cue for valence;
- onset-strength statistics, onset rate, tempo and pulse clarity: the strongest arousal cues;
- RMS loudness dynamics and harmonic/percussive energy ratio;
- spectral-peak dissonance proxy (energy between semitones): tension.

Long songs are analysed on a few fixed windows, not whole (see `analysis_windows`).

The mood model's input is built by `model_input` alone, for training and tagging alike: the
musicnn embedding of the analysed audio beside the hand-made features named in `CUE_FEATURES`.
"""

from __future__ import annotations

import numpy as np

from app.music.audio import SAMPLE_RATE, AudioSource, load_audio, probe
from app.music.embedding import MusicnnEmbedder, summarize
from app.music.errors import AudioError

N_FFT = 2048
HOP = 512
N_MELS = 64
N_MFCC = 20
N_CONTRAST = 7  # librosa's spectral_contrast: six sub-bands and the rest
WINDOW_S = 10.0  # length of each analysis window for long songs
CLIP_S = 30.0  # audio analysed per track: a 30 s clip whole, three 10 s windows of longer songs

# Krumhansl–Kessler key profiles (Krumhansl 1990, "Cognitive Foundations of Musical Pitch").
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def analysis_windows(duration_s: float) -> list[tuple[float, float]]:
    """(offset, length) windows to analyse: the whole clip up to 45 s, else three 10 s windows
    at 20 %, 50 % and 75 % of the song (skips intros/outros, bounded cost for any length)."""
    if duration_s <= 45.0:
        start = max(0.0, (duration_s - CLIP_S) / 2)
        return [(start, min(CLIP_S, duration_s))]
    return [(max(0.0, duration_s * f - WINDOW_S / 2), WINDOW_S) for f in (0.2, 0.5, 0.75)]


def analysis_audio(source: AudioSource, sr: int | None = None) -> np.ndarray:
    """The windowed samples (mono, SAMPLE_RATE) a track is judged on, concatenated.

    `source` is a path or bytes (only the windows are decoded), or samples with their rate `sr`.
    """
    if isinstance(source, np.ndarray):
        y = load_audio(source, SAMPLE_RATE, source_sr=sr)
        duration = len(y) / SAMPLE_RATE
        if duration < 1.0:
            raise AudioError("need at least one second of audio to tag a mood")
        windows = [
            (int(off * SAMPLE_RATE), int((off + length) * SAMPLE_RATE)) for off, length in analysis_windows(duration)
        ]
        return np.concatenate([y[start:end] for start, end in windows])
    info = probe(source)
    return np.concatenate(
        [load_audio(source, SAMPLE_RATE, off, length) for off, length in analysis_windows(info.duration_s)]
    )


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

# The hand-made cues the mood model keeps beside the musicnn embedding: spectral contrast and
# shape, key/mode, dynamics/rhythm and dissonance. Timbre summaries (log-mel, MFCC, chroma,
# tonnetz) are left to the embedding; the model card has the comparison.
CUE_GROUPS = ("contrast_mean", "contrast_std", "shape_mean", "shape_std", "key", "dynamics", "dissonance")
CUE_FEATURES: tuple[str, ...] = tuple(name for group in CUE_GROUPS for name in FEATURE_GROUPS[group])
_CUE_INDEX = np.array([FEATURE_NAMES.index(name) for name in CUE_FEATURES])

# musicnn 3 s patches per track, spread over the analysed audio: the net's cost grows with the
# count, and the model is trained on exactly this many (changing it means retraining).
EMBEDDING_PATCHES = 5


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


def extract(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Hand-made features (float32, `FEATURE_NAMES` order) of mono samples at `sr` (already windowed)."""
    import librosa

    if y.size < sr:
        raise AudioError("need at least one second of audio to tag a mood")
    peak = np.max(np.abs(y))
    if peak < 1e-4:
        raise AudioError("the audio is silent")
    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS, fmax=sr / 2)
    logmel = librosa.power_to_db(mel, ref=1.0, top_db=90)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=N_MFCC)
    d_mfcc = np.diff(mfcc, axis=1)
    contrast = librosa.feature.spectral_contrast(S=stft, sr=sr)
    # Centroid and bandwidth as librosa defines them, computed once here: librosa's
    # spectral_bandwidth would compute the centroid a second time, at a large share of the cost.
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)[:, None]
    weights = stft / np.maximum(stft.sum(axis=0, keepdims=True), np.finfo(np.float32).tiny)
    centroid = (freqs * weights).sum(axis=0, keepdims=True)
    bandwidth = np.sqrt((weights * (freqs - centroid) ** 2).sum(axis=0, keepdims=True))
    rolloff = librosa.feature.spectral_rolloff(S=stft, sr=sr)
    flatness = librosa.feature.spectral_flatness(S=stft)
    zcr = librosa.feature.zero_crossing_rate(y, hop_length=HOP)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    tonnetz = librosa.feature.tonnetz(chroma=chroma)
    rms = librosa.feature.rms(S=stft, frame_length=N_FFT)[0]
    rms_db = librosa.amplitude_to_db(rms + 1e-6, ref=1.0)
    onset = librosa.onset.onset_strength(S=logmel, sr=sr, hop_length=HOP)
    tempo = float(librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=HOP)[0])
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=HOP)
    duration = y.size / sr
    # Pulse clarity: height of the strongest tempo peak in the onset autocorrelation.
    ac = librosa.autocorrelate(onset - onset.mean())
    ac = ac / (ac[0] + 1e-10)
    lo, hi = int(60 / 200 * sr / HOP), int(60 / 40 * sr / HOP)
    pulse = float(ac[lo:hi].max()) if hi < ac.size else 0.0
    # Harmonic/percussive split on the mel spectrogram (cheaper than on the full STFT).
    harm, perc = librosa.decompose.hpss(mel, kernel_size=17)
    hp_ratio = np.log((harm.sum() + 1e-10) / (perc.sum() + 1e-10))
    flux = np.sqrt((np.diff(logmel, axis=1).clip(min=0) ** 2).mean(axis=0))

    shape = np.vstack([centroid / sr, rolloff / sr, flatness, bandwidth / sr, zcr])
    groups = {
        "logmel_mean": logmel.mean(axis=1), "logmel_std": logmel.std(axis=1),
        "mfcc_mean": mfcc.mean(axis=1), "mfcc_std": mfcc.std(axis=1),
        "mfcc_delta_std": d_mfcc.std(axis=1),
        "contrast_mean": contrast.mean(axis=1), "contrast_std": contrast.std(axis=1),
        "shape_mean": shape.mean(axis=1), "shape_std": shape.std(axis=1),
        "chroma_mean": chroma.mean(axis=1), "chroma_std": chroma.std(axis=1),
        "tonnetz_mean": tonnetz.mean(axis=1), "tonnetz_std": tonnetz.std(axis=1),
        "key": _key_features(chroma.mean(axis=1)),
        "dynamics": np.array(
            [
                rms_db.mean(), rms_db.std(), np.percentile(rms_db, 95) - np.percentile(rms_db, 10),
                np.abs(np.diff(rms_db)).mean(),
                onset.mean(), onset.std(), len(onsets) / duration, tempo / 200.0, pulse,
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


def clip_analysis(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the mood model's input is made from, for analysed audio `y` (SAMPLE_RATE):
    the hand-made features (`FEATURE_NAMES`) and musicnn's outputs on `EMBEDDING_PATCHES`
    patches spread over the clip (`[patches, 50 tags + 200 penultimate]`)."""
    hand = extract(y, SAMPLE_RATE)
    per_patch = MusicnnEmbedder.load().patch_outputs(y, SAMPLE_RATE, max_patches=EMBEDDING_PATCHES)
    return hand, per_patch


def model_input(hand: np.ndarray, per_patch: np.ndarray) -> np.ndarray:
    """The mood model's input vector: musicnn embedding (tag means and spreads, penultimate
    means; 300) + the `CUE_FEATURES` of the hand-made features. The one definition, used by
    tagging and by training (`app.music.train`)."""
    return np.concatenate([summarize(per_patch), hand[_CUE_INDEX]]).astype(np.float32)


def mood_features(y: np.ndarray) -> np.ndarray:
    """The mood model's input for analysed audio `y` (SAMPLE_RATE)."""
    return model_input(*clip_analysis(y))


def features_for(source: AudioSource, sr: int | None = None) -> np.ndarray:
    """The mood model's input for a file path/bytes, or for samples with their rate."""
    return mood_features(analysis_audio(source, sr))
