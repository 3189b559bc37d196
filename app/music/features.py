"""The whole song, segment by segment: what the mood model reads.

A track is cut into consecutive segments of about `SEGMENT_S` seconds that cover all of it
(`segment_bounds`). Each segment gets the hand-made cues of `app.music.handcrafted` (named in
`CUE_FEATURES`) and musicnn's outputs on 3 s patches inside it; `segment_input` joins them into
the model's input row. The tagger predicts every segment (the track's mood timeline) and
aggregates them into the track's tag, so every part of a long song counts.

Training (`app.music.train`) reads the same segments from its clips; at training time a segment
may contribute several patches (one row each) while tagging uses `SERVING_PATCHES`, so the
rows the model sees at both ends are alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from app.music.audio import SAMPLE_RATE, AudioSource, load_audio
from app.music.embedding import (
    N_TAGS,
    MusicnnEmbedder,
    VggLastBlock,
    base_net,
    net_output_dim,
    net_outputs,
    patch_batch,
)
from app.music.errors import AudioError
from app.music.handcrafted import FEATURE_GROUPS, FEATURE_NAMES, extract_segments

# Target segment length: a timeline point every ~10 s, and a 30 s research clip is three of them.
SEGMENT_S = 10.0
# musicnn 3 s patches per segment when tagging: the net is most of the cost of a long song.
SERVING_PATCHES = 1
# The nets a track is analysed with unless the model asks for others (its file names them).
DEFAULT_NETS: tuple[str, ...] = ("MSD_musicnn",)

# The hand-made cues the mood model keeps beside the musicnn outputs: spectral contrast and
# shape, key/mode, dynamics/rhythm and dissonance. Timbre summaries (log-mel, MFCC, chroma,
# tonnetz) are left to the embedding; the model card has the comparison.
CUE_GROUPS = ("contrast_mean", "contrast_std", "shape_mean", "shape_std", "key", "dynamics", "dissonance")
CUE_FEATURES: tuple[str, ...] = tuple(name for group in CUE_GROUPS for name in FEATURE_GROUPS[group])
_CUE_INDEX = np.array([FEATURE_NAMES.index(name) for name in CUE_FEATURES])


def segment_bounds(duration_s: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of consecutive, equal segments covering [0, duration_s], each as close
    to SEGMENT_S as whole numbers allow (a 14 s track is one segment, a 16 s one two)."""
    if duration_s < 1.0:
        raise AudioError("need at least one second of audio to tag a mood")
    n = max(1, round(duration_s / SEGMENT_S))
    edges = np.linspace(0.0, duration_s, n + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@dataclass(frozen=True)
class SongAnalysis:
    """A track's segments: their bounds, hand-made features [segments, FEATURE_NAMES] and
    the nets' outputs [segments, patches, per net in `nets` order: 50 tags + penultimate]."""

    bounds: list[tuple[float, float]]
    hand: np.ndarray
    per_patch: np.ndarray
    nets: tuple[str, ...] = DEFAULT_NETS

    @property
    def inputs(self) -> np.ndarray:
        """[segments × patches, features]: one model input row per (segment, patch)."""
        n_seg, n_patch = self.per_patch.shape[:2]
        return np.stack(
            [segment_input(self.hand[s], self.per_patch[s, p], self.nets) for s in range(n_seg) for p in range(n_patch)]
        )


def song_samples(source: AudioSource, sr: int | None = None) -> np.ndarray:
    """The whole track as mono SAMPLE_RATE samples (a path or bytes, or samples with rate `sr`)."""
    if isinstance(source, np.ndarray):
        return load_audio(source, SAMPLE_RATE, source_sr=sr)
    return load_audio(source, SAMPLE_RATE)


def analyse(
    y: np.ndarray,
    patches_per_segment: int = SERVING_PATCHES,
    nets: tuple[str, ...] = DEFAULT_NETS,
    tuned: Mapping[str, VggLastBlock] | None = None,
) -> SongAnalysis:
    """Segment analysis of mono SAMPLE_RATE samples: every segment's hand-made features and
    the outputs of each of `nets` on `patches_per_segment` 3 s patches spread over it (a tuned
    net, `embedding.tuned_net`, by its last block in `tuned`)."""
    bounds = segment_bounds(y.size / SAMPLE_RATE)
    spans = [(round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)) for a, b in bounds]
    hand = extract_segments(y, SAMPLE_RATE, spans)
    tuned = tuned or {}
    missing = [n for n in nets if n != base_net(n) and n not in tuned]
    if missing:
        raise ValueError(f"no tuned last block given for {missing}")
    # Each net of the wheel runs once per patch batch, also where a tuned copy reads it too.
    embedders = {net: MusicnnEmbedder.for_net(net) for net in dict.fromkeys(base_net(n) for n in nets)}
    segments = []
    for a, b in spans:
        batch = patch_batch(y[a:b], SAMPLE_RATE, max_patches=patches_per_segment)
        raw = {net: e.run_patches(batch) for net, e in embedders.items()}
        segments.append(np.concatenate([net_outputs(n, raw[base_net(n)], tuned) for n in nets], axis=1))
    return SongAnalysis(bounds, hand, np.stack(segments), tuple(nets))


def segment_input(hand: np.ndarray, patch: np.ndarray, nets: tuple[str, ...] = DEFAULT_NETS) -> np.ndarray:
    """The mood model's input row for one segment: each net's 50 tag probabilities and
    penultimate layer on one patch, then the segment's `CUE_FEATURES`. The one definition, used
    by tagging and by training (`app.music.train`)."""
    expected = sum(net_output_dim(n) for n in nets)
    if patch.shape[-1] != expected:
        raise ValueError(f"expected {expected} net outputs for {list(nets)}, got {patch.shape}")
    return np.concatenate([patch, hand[_CUE_INDEX]]).astype(np.float32)


def input_names(nets: tuple[str, ...]) -> tuple[str, ...]:
    """The names of a model input row's columns, in order (`segment_input`)."""
    names: list[str] = []
    for net in nets:
        names += [f"{net}:tag_{i}" for i in range(N_TAGS)]
        names += [f"{net}:pen_{i}" for i in range(net_output_dim(net) - N_TAGS)]
    return (*names, *CUE_FEATURES)


def analyse_source(
    source: AudioSource,
    sr: int | None = None,
    patches_per_segment: int = SERVING_PATCHES,
    nets: tuple[str, ...] = DEFAULT_NETS,
    tuned: Mapping[str, VggLastBlock] | None = None,
) -> SongAnalysis:
    """`analyse` of a file path/bytes, or of samples with their rate."""
    return analyse(song_samples(source, sr), patches_per_segment, nets, tuned)
