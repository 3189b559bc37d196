"""`python -m app.music.parity --data DIR [--limit N] [--json] [--out FILE]`: do the NumPy features
(`app.music.dsp`) match librosa's on real music?

The analysis worker computes the hand-made features (`app.music.handcrafted.extract`) and
musicnn's log-mel input (`app.music.embedding.log_mel`) without librosa. This tool keeps the
librosa implementations they replaced, as the reference, runs both on training clips (4Q and
Emotify under DIR, cut into segments exactly as `app.music.features.analyse` cuts them) and
reports per feature group how far apart they are: the max and median absolute deviation, and
the same relative to the feature's spread (its standard deviation over all the segments, the
unit the mood model's standardisation puts it in). It also compares musicnn's outputs on the
two log-mels. The figures go to models/dsp_parity.json.

librosa is imported here only: this is a checking tool, not part of tagging.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR
from app.music import embedding, handcrafted
from app.music.audio import SAMPLE_RATE, resample
from app.music.handcrafted import FEATURE_GROUPS, FEATURE_NAMES, HOP, N_FFT, N_MELS, N_MFCC

PARITY_FILE = "dsp_parity.json"

# Features that take discrete values: a tiny difference upstream can move them by a whole step
# (a tempo lattice point, one more onset), so they are judged by how often they differ.
DISCRETE = ("tempo", "onset_rate")
# The stated tolerance for every other feature: |ours - librosa| <= ABS_TOL + REL_TOL * |librosa|.
# Both implementations round the STFT to complex64; what is left is float32 summation order and
# the FFT library's last bits, which matter most where a spectrum is near silence (flatness).
ABS_TOL = 1e-4
REL_TOL = 1e-4


def within_tolerance(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """[features] whether each feature of `ours` ([..., FEATURE_NAMES]) is within the stated
    tolerance of librosa's everywhere; discrete features must be equal."""
    ours, ref = np.atleast_2d(ours).astype(np.float64), np.atleast_2d(ref).astype(np.float64)
    ok = np.abs(ours - ref) <= ABS_TOL + REL_TOL * np.abs(ref)
    for name in DISCRETE:
        i = FEATURE_NAMES.index(name)
        ok[:, i] = ours[:, i] == ref[:, i]
    return ok.all(axis=0)


def reference_extract(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """`handcrafted.extract` as librosa computes it: the implementation the NumPy one replaced."""
    import librosa

    peak = handcrafted.check_audio(y, sr)
    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = stft**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS, fmax=sr / 2)
    logmel = librosa.power_to_db(mel, ref=1.0, top_db=90)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=N_MFCC)
    contrast = librosa.feature.spectral_contrast(S=stft, sr=sr)
    centroid, bandwidth = handcrafted.centroid_bandwidth(stft, sr)
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
    ac = librosa.autocorrelate(onset - onset.mean())
    harm, perc = librosa.decompose.hpss(mel, kernel_size=17)
    shape = np.vstack([centroid / sr, rolloff[0] / sr, flatness[0], bandwidth / sr, zcr[0]])
    return handcrafted.assemble(
        logmel=logmel, mfcc=mfcc, contrast=contrast, shape=shape, chroma=chroma, tonnetz=tonnetz, rms_db=rms_db,
        onset=onset, n_onsets=len(onsets), tempo=tempo, onset_ac=ac, harm=harm, perc=perc, power=power,
        peak=peak, duration=y.size / sr, sr=sr,
    )  # fmt: skip


def reference_log_mel(y16k: np.ndarray) -> np.ndarray:
    """`embedding.log_mel` as librosa computes it."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.ascontiguousarray(y16k, dtype=np.float32),
        sr=embedding.SR, hop_length=embedding.FFT_HOP, n_fft=embedding.FFT_SIZE, n_mels=embedding.N_MELS,
    ).T  # fmt: skip
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def training_clips(data: Path, limit: int) -> list[Path]:
    """Up to `limit` clips, half from 4Q and half from Emotify, spread evenly over each list."""
    import pandas as pd

    ann = pd.read_csv(data / "4q" / "annotations.csv")
    fourq = [data / "4q" / "audio" / q / f"{s}.opus" for s, q in zip(ann.Song, ann.Quadrant, strict=True)]
    emotify = [data / "emotify" / f for f in sorted(set(pd.read_csv(data / "emotify" / "annotations.csv").file))]
    picked = []
    for listed, n in ((fourq, (limit + 1) // 2), (emotify, limit // 2)):
        present = [p for p in listed if p.is_file()]
        if present and n:
            picked += [present[i] for i in np.unique(np.linspace(0, len(present) - 1, n).round().astype(int))]
    return picked


def _deviation(ours: np.ndarray, ref: np.ndarray, spread: np.ndarray) -> dict:
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    rel = diff / np.maximum(spread, 1e-12)
    return {
        "max_abs": float(diff.max()), "median_abs": float(np.median(diff)),
        "max_rel": float(rel.max()), "median_rel": float(np.median(rel)),
    }  # fmt: skip


def compare(paths: list[Path], musicnn: bool = True) -> dict:
    """Both implementations on every segment of `paths`; the report `models/dsp_parity.json` holds."""
    from app.music.features import segment_bounds, song_samples

    ours, ref, mel_dev, nn_dev = [], [], [], []
    embedder = embedding.MusicnnEmbedder.load() if musicnn else None
    for path in paths:
        y = song_samples(path)
        for a, b in segment_bounds(y.size / SAMPLE_RATE):
            seg = y[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)]
            ours.append(handcrafted.extract(seg, SAMPLE_RATE))
            ref.append(reference_extract(seg, SAMPLE_RATE))
            y16 = resample(seg, SAMPLE_RATE, embedding.SR)
            mel_ours, mel_ref = embedding.log_mel(y16), reference_log_mel(y16)
            mel_dev.append(np.abs(mel_ours - mel_ref).ravel())
            if embedder is not None:
                out_ours, out_ref = (embedder.run_patches(embedding.patches(m, 1)) for m in (mel_ours, mel_ref))
                nn_dev.append(np.concatenate([np.abs(out_ours[k] - out_ref[k]).ravel() for k in out_ref]))
    ours_a, ref_a = np.stack(ours), np.stack(ref)
    spread = ref_a.std(axis=0)
    groups = {}
    for group, names in FEATURE_GROUPS.items():
        idx = [FEATURE_NAMES.index(n) for n in names]
        groups[group] = _deviation(ours_a[:, idx], ref_a[:, idx], spread[idx])
    per_feature = {name: _deviation(ours_a[:, i], ref_a[:, i], spread[i]) for i, name in enumerate(FEATURE_NAMES)}
    worst = sorted(per_feature, key=lambda n: per_feature[n]["max_rel"], reverse=True)[:10]
    discrete = {}
    for name in DISCRETE:
        i = FEATURE_NAMES.index(name)
        discrete[name] = {"share_differing": float(np.mean(ours_a[:, i] != ref_a[:, i])), **per_feature[name]}
    continuous = [n for n in FEATURE_NAMES if n not in DISCRETE]
    mel_all = np.concatenate(mel_dev)
    ok = within_tolerance(ours_a, ref_a)
    report = {
        "clips": len(paths),
        "segments": len(ours),
        "tolerance": f"|numpy - librosa| <= {ABS_TOL:g} + {REL_TOL:g} * |librosa|; {', '.join(DISCRETE)} equal",
        "features_outside_tolerance": [name for name, good in zip(FEATURE_NAMES, ok, strict=True) if not good],
        "rel_unit": "the feature's standard deviation over these segments (librosa's values)",
        "groups": groups,
        "max_rel_continuous": max(per_feature[n]["max_rel"] for n in continuous),
        "worst_features": {n: per_feature[n] for n in worst},
        "discrete": discrete,
        "log_mel": {"max_abs": float(mel_all.max()), "share_differing": float(np.mean(mel_all > 0))},
    }
    if nn_dev:
        nn_all = np.concatenate(nn_dev)
        report["musicnn_outputs"] = {"max_abs": float(nn_all.max()), "median_abs": float(np.median(nn_all))}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.music.parity", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with 4q/ and emotify/ (annotations + audio)")
    parser.add_argument("--limit", type=int, default=80, help="clips to compare, half from each data set")
    parser.add_argument("--out", type=Path, default=MODELS_DIR / PARITY_FILE, help="where the JSON report goes")
    parser.add_argument("--no-musicnn", action="store_true", help="skip comparing musicnn's outputs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    paths = training_clips(args.data, args.limit)
    if not paths:
        raise SystemExit(f"no clips under {args.data}/4q or {args.data}/emotify")
    t0 = time.perf_counter()
    report = compare(paths, musicnn=not args.no_musicnn)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['clips']} clips, {report['segments']} segments (relative: {report['rel_unit']})")
    columns = ("max_abs", "median_abs", "max_rel", "median_rel")
    print(f"{'group':16s}" + "".join(f" {c:>10s}" for c in columns))
    for group, dev in report["groups"].items():
        print(f"{group:16s}" + "".join(f" {dev[c]:10.3g}" for c in columns))
    for name, dev in report["discrete"].items():
        print(f"{name}: differs on {dev['share_differing']:.1%} of segments, max abs {dev['max_abs']:.3g}")
    print(f"log-mel: max abs {report['log_mel']['max_abs']:.3g}; musicnn outputs: {report.get('musicnn_outputs')}")
    print(f"tolerance {report['tolerance']}: outside it {report['features_outside_tolerance'] or 'none'}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
