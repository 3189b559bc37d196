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
"""

from __future__ import annotations

import numpy as np

from app.music.audio import SAMPLE_RATE, AudioError, load_audio, probe

N_FFT = 2048
HOP = 512
N_MELS = 64
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


def load_for_analysis(path_or_bytes) -> np.ndarray:
    """Decode just the analysis windows of a file, concatenated, mono at SAMPLE_RATE."""
    info = probe(path_or_bytes)
    parts = [load_audio(path_or_bytes, SAMPLE_RATE, off, length) for off, length in analysis_windows(info.duration_s)]
    return np.concatenate(parts)


def select_from_array(y: np.ndarray, sr: int) -> np.ndarray:
    """The same windowing as `load_for_analysis`, for samples already in memory."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0 if y.shape[0] <= 2 else 1)
    if sr != SAMPLE_RATE:
        import soxr

        y = soxr.resample(y, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
    duration = len(y) / SAMPLE_RATE
    if duration < 1.0:
        raise AudioError("need at least one second of audio to tag a mood")
    parts = [y[int(off * SAMPLE_RATE) : int((off + length) * SAMPLE_RATE)] for off, length in analysis_windows(duration)]
    return np.concatenate(parts)


def _stats(m: np.ndarray) -> list[np.ndarray]:
    """Mean and std over time of each row of a (features, frames) matrix."""
    return [m.mean(axis=1), m.std(axis=1)]


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
    """Feature vector (float32) for mono samples at `sr` (already windowed)."""
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
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=20)
    d_mfcc = np.diff(mfcc, axis=1)
    contrast = librosa.feature.spectral_contrast(S=stft, sr=sr)
    # Centroid and bandwidth as librosa defines them, computed once here: librosa's
    # spectral_bandwidth recomputes the centroid and took a third of the extraction time.
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

    parts = [
        *_stats(logmel),
        *_stats(mfcc),
        d_mfcc.std(axis=1),
        *_stats(contrast),
        *_stats(np.vstack([centroid / sr, rolloff / sr, flatness, bandwidth / sr, zcr])),
        *_stats(chroma),
        *_stats(tonnetz),
        _key_features(chroma.mean(axis=1)),
        np.array(
            [
                rms_db.mean(), rms_db.std(), np.percentile(rms_db, 95) - np.percentile(rms_db, 10),
                np.abs(np.diff(rms_db)).mean(),
                onset.mean(), onset.std(), len(onsets) / duration, tempo / 200.0, pulse,
                hp_ratio, flux.mean(), flux.std(), 20 * np.log10(peak),
            ]
        ),
        _dissonance(power, sr),
    ]
    feats = np.concatenate([np.ravel(p) for p in parts]).astype(np.float32)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)


# The hand-made descriptors the mood model keeps beside the musicnn embedding: spectral
# contrast and shape, key/mode, dynamics/rhythm and dissonance. Timbre summaries (log-mel,
# MFCC, chroma, tonnetz) added nothing once the embedding was there (grouped CV, MODEL_CARD.md).
CUE_COLUMNS = np.r_[188:212, 248:267]
EMBEDDING_PATCHES = 5  # musicnn 3 s patches per track: 5 scored as well as 10 at half the cost


def analysis_audio(path_or_array, sr: int | None = None) -> np.ndarray:
    """The windowed samples (SAMPLE_RATE) a track is judged on, from a path/bytes or an array."""
    if isinstance(path_or_array, np.ndarray):
        if sr is None:
            raise ValueError("sr is required when tagging an array of samples")
        return select_from_array(path_or_array, sr)
    return load_for_analysis(path_or_array)


def mood_features(y: np.ndarray) -> np.ndarray:
    """The music mood model's input: musicnn embedding (300) + hand-made cues (43)."""
    from app.music.embedding import MusicnnEmbedder

    cues = extract(y, SAMPLE_RATE)[CUE_COLUMNS]
    embedding = MusicnnEmbedder.load().embed(y, SAMPLE_RATE, max_patches=EMBEDDING_PATCHES)
    return np.concatenate([embedding, cues]).astype(np.float32)


def features_for(path_or_array, sr: int | None = None) -> np.ndarray:
    """Mood-model feature vector for a file path/bytes, or for samples with their rate."""
    return mood_features(analysis_audio(path_or_array, sr))
