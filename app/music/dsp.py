"""NumPy versions of the librosa 0.11 routines the mood features use, with librosa's defaults.

The analysis worker imports this instead of librosa: librosa pulls in numba's JIT, llvmlite and
SciPy, which cost more memory than the whole analysis and a JIT warm-up per process. Each
function computes what the librosa function of the same name computes, in the same order and
dtypes where that matters (float64 FFTs cast to float32, float32 spectra), so the features
agree closely; `python -m app.music.parity` checks them against librosa on the training clips
and `models/dsp_parity.json` holds the figures.

Spectrograms are [bins, frames], as in librosa. Only the parameters the features use are
offered; anything else would be untested surface.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Float64 frames per FFT call in `stft_magnitude`: blocks that stay in cache run faster than one big
# transform, and a long input needs no large scratch arrays.
_STFT_BLOCK_BYTES = 1 << 19


def hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True)), float64."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def frame(y: np.ndarray, length: int, hop: int) -> np.ndarray:
    """[length, frames] strided view of `y`: frame j is y[j*hop : j*hop + length] (librosa.util.frame)."""
    return np.lib.stride_tricks.sliding_window_view(y, length)[::hop].T


def fft_frequencies(sr: float, n_fft: int) -> np.ndarray:
    """Centre frequency of each STFT bin, [1 + n_fft // 2]."""
    return np.fft.rfftfreq(n_fft, 1.0 / sr)


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| [1 + n_fft // 2, 1 + len(y) // hop], float32: Hann window, centred frames,
    zero padding (librosa.stft's defaults). Each block is transformed in float64 and rounded to
    complex64, as librosa does for float32 audio, then its magnitude taken."""
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, n_fft // 2)
    frames = frame(padded, n_fft, hop)
    window = hann(n_fft)[:, None]
    out = np.empty((1 + n_fft // 2, frames.shape[1]), dtype=np.float32)
    step = max(1, _STFT_BLOCK_BYTES // (8 * n_fft))
    for start in range(0, frames.shape[1], step):
        block = frames[:, start : start + step]
        out[:, start : start + block.shape[1]] = np.abs(np.fft.rfft(window * block, axis=0).astype(np.complex64))
    return out


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (librosa.hz_to_mel, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mels = hz / f_sp
    high = hz >= min_log_hz
    mels[high] = min_log_mel + np.log(hz[high] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    hz = f_sp * mels
    high = mels >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mels[high] - min_log_mel))
    return hz


@lru_cache(maxsize=8)
def mel_filterbank(sr: float, n_fft: int, n_mels: int, fmax: float | None = None) -> np.ndarray:
    """[n_mels, 1 + n_fft // 2] float32 triangular mel filters from 0 Hz to `fmax` (default
    Nyquist), Slaney scale and Slaney area normalisation (librosa.filters.mel's defaults).
    Read-only: it is cached."""
    fmax = float(sr) / 2 if fmax is None else fmax
    fftfreqs = fft_frequencies(sr, n_fft)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)).astype(np.float32)
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights = (weights * enorm[:, None]).astype(np.float32)
    weights.flags.writeable = False
    return weights


def power_to_db(s: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10·log10(max(amin, s)) with ref 1, floored at `top_db` below the array's maximum."""
    log_spec = 10.0 * np.log10(np.maximum(amin, s))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def amplitude_to_db(s: np.ndarray, amin: float = 1e-5, top_db: float | None = 80.0) -> np.ndarray:
    """20·log10(max(amin, |s|)) with ref 1, floored at `top_db` below the maximum."""
    return power_to_db(np.square(np.abs(s)), amin=amin**2, top_db=top_db)


@lru_cache(maxsize=4)
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows [n_out, n_in] (scipy.fft.dct(type=2, norm='ortho'))."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    basis.flags.writeable = False
    return basis


def mfcc(log_mel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """[n_mfcc, frames] float32 MFCCs of a dB mel spectrogram (DCT-II, orthonormal, no lifter)."""
    return (_dct_matrix(n_mfcc, log_mel.shape[0]) @ log_mel.astype(np.float64)).astype(np.float32)


def spectral_contrast(
    mag: np.ndarray, sr: float, fmin: float = 200.0, n_bands: int = 6, quantile: float = 0.02
) -> np.ndarray:
    """[n_bands + 1, frames] float64: per octave band, dB of the mean of its top `quantile` of
    bins minus dB of the mean of its bottom one (librosa.feature.spectral_contrast on |STFT|,
    whose dB conversion is `power_to_db` with its 80 dB floor over the whole array)."""
    freq = fft_frequencies(sr, 2 * (mag.shape[0] - 1))
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * 2.0 ** np.arange(0, n_bands + 1)
    valley = np.zeros((n_bands + 1, mag.shape[1]))
    peak = np.zeros_like(valley)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:], strict=True)):
        band = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        lo, hi = band[0], band[-1] + 1
        if k > 0:
            lo -= 1  # one bin below the band, as librosa takes
        if k == n_bands:
            hi = freq.size
        count = hi - lo
        if k < n_bands:
            hi -= 1  # ... and one above is dropped
        take = max(int(np.rint(quantile * count)), 1)
        ranked = np.sort(mag[lo:hi], axis=0)
        valley[k] = ranked[:take].mean(axis=0)
        peak[k] = ranked[-take:].mean(axis=0)
    return power_to_db(peak) - power_to_db(valley)


def spectral_rolloff(mag: np.ndarray, sr: float, roll_percent: float = 0.85) -> np.ndarray:
    """[frames] frequency of the first bin at which the cumulative magnitude reaches `roll_percent`."""
    freq = fft_frequencies(sr, 2 * (mag.shape[0] - 1))
    total = np.cumsum(mag, axis=0)
    threshold = roll_percent * total[-1]
    return freq[np.argmax(total >= threshold, axis=0)]


def spectral_flatness(mag: np.ndarray, amin: float = 1e-10) -> np.ndarray:
    """[frames] geometric over arithmetic mean of the power spectrum (floored at `amin`)."""
    power = np.maximum(amin, mag**2)
    return np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)


def zero_crossing_rate(y: np.ndarray, frame_length: int, hop: int, threshold: float = 1e-10) -> np.ndarray:
    """[1 + len(y) // hop] share of sign changes per centred frame (edge-padded); samples within
    ±`threshold` count as positive zero (librosa.feature.zero_crossing_rate)."""
    padded = np.pad(np.asarray(y), frame_length // 2, mode="edge")
    negative = np.signbit(padded) & (np.abs(padded) > threshold)
    change = np.concatenate([[0], np.cumsum(negative[1:] != negative[:-1])])
    starts = np.arange(0, padded.size - frame_length + 1, hop)
    # A frame counts the changes between its own consecutive samples: its first sample has no predecessor.
    return (change[starts + frame_length - 1] - change[starts]) / frame_length


def _parabolic_shift(x: np.ndarray) -> np.ndarray:
    """Vertex offset of the parabola through each bin and its neighbours along axis 0 (0 where
    it would move by a bin or more), for the interior rows of `x`; float32."""
    a = (x[2:] + x[:-2]).astype(np.float64) - 2.0 * x[1:-1]
    b = (x[2:] - x[:-2]).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a)
    return shift.astype(np.float32)


def estimate_tuning(power: np.ndarray, sr: float, resolution: float = 0.01, bins_per_octave: int = 12) -> float:
    """Deviation from A440 in fractions of a bin, from the spectral peaks between 150 Hz and
    4 kHz that rise above a tenth of their frame's maximum (librosa.estimate_tuning's piptrack
    on the given spectrogram, then a histogram of the louder half of the peaks' pitches)."""
    n_fft = 2 * (power.shape[0] - 1)
    freqs = fft_frequencies(sr, n_fft)
    inside = np.flatnonzero((freqs >= 150.0) & (freqs < min(4000.0, sr / 2)))
    if inside.size == 0:
        return 0.0
    lo, hi = inside[0], inside[-1] + 1  # the rows that can hold a peak; their neighbours are read too
    x = power[lo - 1 : hi + 1]
    ref = 0.1 * power.max(axis=0)
    gated = x * (x > ref)
    centre = gated[1:-1]
    peaks = (centre > gated[:-2]) & (centre >= gated[2:])
    rows, cols = np.nonzero(peaks)
    shift = _parabolic_shift(x)[rows, cols]
    slope = (x[rows + 2, cols] - x[rows, cols]) / 2  # np.gradient's central difference
    pitch = ((lo + rows + shift) * float(sr) / n_fft).astype(np.float32)
    mag = x[rows + 1, cols] + 0.5 * slope * shift
    keep = pitch > 0
    if not keep.any():
        return 0.0
    threshold = np.median(mag[keep])
    pitch = pitch[(mag >= threshold) & keep]
    if pitch.size == 0:
        return 0.0
    residual = np.mod(bins_per_octave * np.log2(pitch / (440.0 / 16)), 1.0)
    residual[residual >= 0.5] -= 1.0
    bins = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / resolution)) + 1)
    counts, edges = np.histogram(residual, bins)
    return float(edges[np.argmax(counts)])


def _normalize(s: np.ndarray, norm: float) -> np.ndarray:
    """Columns of `s` scaled to unit `norm` (inf or 1); near-zero columns left as they are."""
    mag = np.abs(s).astype(np.float64)
    length = mag.max(axis=0, keepdims=True) if norm == np.inf else mag.sum(axis=0, keepdims=True)
    length[length < np.finfo(s.dtype).tiny] = 1.0
    return (s / length).astype(s.dtype)


@lru_cache(maxsize=32)
def chroma_filterbank(sr: float, n_fft: int, tuning: float = 0.0, n_chroma: int = 12) -> np.ndarray:
    """[n_chroma, 1 + n_fft // 2] float32 Gaussian pitch-class filters from C, centred on
    octave 5 with two octaves' spread (librosa.filters.chroma's defaults). Read-only: cached."""
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    frqbins = n_chroma * np.log2(frequencies / (a440 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    d = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * d / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    length = (wts**2).sum(axis=0, keepdims=True) ** 0.5
    length[length < np.finfo(np.float64).tiny] = 1.0
    wts = wts / length
    wts *= np.tile(np.exp(-0.5 * ((frqbins / n_chroma - 5.0) / 2.0) ** 2), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    out = np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)
    out.flags.writeable = False
    return out


def chroma_stft(power: np.ndarray, sr: float) -> np.ndarray:
    """[12, frames] float32 chromagram of a power spectrogram, tuned by `estimate_tuning`, each
    frame scaled to a maximum of 1."""
    n_fft = 2 * (power.shape[0] - 1)
    fb = chroma_filterbank(float(sr), n_fft, estimate_tuning(power, sr))
    return _normalize(fb @ power, np.inf)


def tonnetz(chroma: np.ndarray) -> np.ndarray:
    """[6, frames] tonal centroids (fifths, minor and major thirds) of an L1-normalised chromagram."""
    dim_map = np.linspace(0, 12, num=chroma.shape[0], endpoint=False)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    v = np.multiply.outer(scale, dim_map)
    v[::2] -= 0.5
    r = np.array([1, 1, 1, 1, 0.5, 0.5])
    phi = r[:, None] * np.cos(np.pi * v)
    return phi @ _normalize(chroma, 1)


def rms(power: np.ndarray) -> np.ndarray:
    """[frames] float32 RMS of each frame from its power spectrum (|STFT|²), by Parseval, with
    the DC and Nyquist bins counted once (librosa.feature.rms(S=...))."""
    frame_length = 2 * (power.shape[0] - 1)
    x = power.copy()
    x[0] *= 0.5
    x[-1] *= 0.5
    return np.sqrt(2 * x.sum(axis=0) / frame_length**2)


def onset_strength(log_spec: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """[frames] mean positive first difference over the bands of a dB spectrogram, delayed so
    that it lines up with centred frames (librosa.onset.onset_strength(S=...), lag 1)."""
    flux = np.maximum(0.0, log_spec[:, 1:] - log_spec[:, :-1]).mean(axis=0)
    pad = 1 + n_fft // (2 * hop)
    return np.concatenate([np.zeros(pad, dtype=flux.dtype), flux])[: log_spec.shape[1]]


def next_fast_len(n: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ n (an FFT length numpy's pocketfft handles quickly)."""
    best = 1 << max(int(n - 1).bit_length(), 0)
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def autocorrelate(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Autocorrelation along `axis` at lags 0 .. n-1 (by FFT, zero-padded so nothing wraps)."""
    n = x.shape[axis]
    n_pad = next_fast_len(2 * n - 1)
    spec = np.fft.rfft(x, n=n_pad, axis=axis)
    ac = np.fft.irfft(spec.real**2 + spec.imag**2, n=n_pad, axis=axis)
    return ac[(slice(None),) * (axis % x.ndim) + (slice(n),)]


def tempo(
    onset: np.ndarray,
    sr: float,
    hop: int,
    *,
    start_bpm: float = 120.0,
    std_bpm: float = 1.0,
    ac_size: float = 8.0,
    max_tempo: float = 320.0,
) -> float:
    """Global tempo (BPM) of an onset envelope: the lag of the highest peak of the mean local
    autocorrelation (Hann-windowed `ac_size` s windows, each scaled to a maximum of 1) under a
    log-normal prior around `start_bpm` (librosa.feature.tempo). Discrete: 60·sr/(hop·lag)."""
    win = int(int(ac_size * sr) // hop)
    n = onset.shape[0]
    padded = np.pad(onset, win // 2, mode="linear_ramp", end_values=0)
    # [frames, lags]: time-major, so the FFTs run along contiguous rows.
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[:n] * hann(win)
    ac = autocorrelate(frames, axis=1)
    length = np.abs(ac).max(axis=1, keepdims=True)
    length[length < np.finfo(ac.dtype).tiny] = 1.0
    tg = (ac / length).mean(axis=0)
    bpms = np.full(win, np.inf)
    bpms[1:] = 60.0 * sr / (hop * np.arange(1.0, win))
    logprior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / std_bpm) ** 2
    logprior[: int(np.argmax(bpms < max_tempo))] = -np.inf
    with np.errstate(invalid="ignore"):
        return float(bpms[np.argmax(np.log1p(1e6 * tg) + logprior)])


def peak_pick(
    x: np.ndarray, *, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float, wait: int
) -> np.ndarray:
    """Indices n where x[n] is the maximum of x[n-pre_max : n+post_max], at least `delta` above
    the mean of x[n-pre_avg : n+post_avg] (windows clipped at the ends), and more than `wait`
    samples after the previous pick (librosa.util.peak_pick)."""
    n = x.shape[0]
    idx = np.arange(n)
    padded = np.pad(x, (pre_max, post_max), constant_values=-np.inf)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, pre_max + post_max)[:n].max(axis=1)
    csum = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    lo_avg, hi_avg = np.maximum(0, idx - pre_avg), np.minimum(n, idx + post_avg)
    local_avg = (csum[hi_avg] - csum[lo_avg]) / (hi_avg - lo_avg)
    candidates = np.flatnonzero((x == local_max) & (x >= local_avg + np.float32(delta)))
    picked: list[int] = []
    next_allowed = 0
    for c in candidates:
        if c >= next_allowed:
            picked.append(int(c))
            next_allowed = c + wait + 1
    return np.array(picked, dtype=int)


def onset_detect(onset: np.ndarray, sr: float, hop: int) -> np.ndarray:
    """Frames of the onsets in an onset envelope: peaks of its normalised form with librosa's
    default windows (30 ms before, 100 ms mean on each side, 0.07 over it, 30 ms apart)."""
    o = onset - onset.min()
    o = o / (o.max() + np.finfo(o.dtype).tiny)
    if not o.any() or not np.all(np.isfinite(o)):
        return np.array([], dtype=int)

    def frames(seconds: float) -> int:
        return int(np.ceil(seconds * sr // hop))

    return peak_pick(
        o, pre_max=frames(0.03), post_max=frames(0.0) + 1, pre_avg=frames(0.1), post_avg=frames(0.1) + 1,
        delta=0.07, wait=frames(0.03),
    )  # fmt: skip


def median_filter(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Running median of odd `size` along `axis`, edges mirrored with the edge sample repeated
    (scipy.ndimage.median_filter's 'reflect')."""
    half = size // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (half, half)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="symmetric"), size, axis=axis)
    return np.partition(windows, half, axis=-1)[..., half]


def hpss(s: np.ndarray, kernel_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive parts of a magnitude/power spectrogram: median filtering across
    time and across frequency, then Wiener-like soft masks of power 2 (librosa.decompose.hpss,
    margin 1: a bin where both filters are zero is split evenly)."""
    harm = median_filter(s, kernel_size, axis=1)
    perc = median_filter(s, kernel_size, axis=0)
    z = np.maximum(harm, perc)
    bad = z < np.finfo(s.dtype).tiny
    z[bad] = 1
    mh, mp = (harm / z) ** 2, (perc / z) ** 2
    total = mh + mp
    total[bad] = 1
    mask_h, mask_p = mh / total, mp / total
    mask_h[bad] = 0.5
    mask_p[bad] = 0.5
    return s * mask_h, s * mask_p
