"""MoodTagger: a whole track → Russell quadrant, valence/arousal, confidence and mood timeline.

The model is two linear heads over the same segment rows (`app.music.features.segment_input`):
a quadrant classifier (multinomial logistic regression) and a valence/arousal regressor (ridge),
both behind one standardisation, trained by `app.music.train`. They are served as plain numpy
weights from an `.npz` (no pickle to trust, and no scikit-learn import in the analysis worker).
Each head may read only some of the row's columns (zero weights elsewhere): a model fitted by
`app.music.finetune` classifies from its own fine-tuned copies of the vgg nets' last block
(`embedding.VggLastBlock`, stored in the same file) and regresses from the nets as they are.

Every segment is predicted (the timeline); the track's tag pools the segments, by the model's
attention (segments the classifier is sure of weigh more) or a trimmed mean, so a few odd seconds
(an intro, a break) do not decide a five-minute song.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR, MUSIC_MODEL_FILE, get_settings
from app.emotions import QUADRANTS, quadrant_of
from app.model_loading import load_once
from app.music import embedding, handcrafted
from app.music.audio import SAMPLE_RATE, AudioSource
from app.music.embedding import VggLastBlock
from app.music.errors import ModelError
from app.music.features import DEFAULT_NETS, SEGMENT_S, SERVING_PATCHES, SongAnalysis, analyse_source, input_names

# What the model file says about itself (`write_model`); a file of another format is refused.
MODEL_FORMAT = "moodtune-music-mood/2"
RETRAIN = "retrain it with `python -m app.music.train` and export it, or check out the model of this code's version"

# Tags below this confidence are listed under "needs review" on Curate: the model is unsure
# (its quadrant probabilities are flat, or its regressed valence/arousal point lies in another
# quadrant than its classifier picked).
REVIEW_BELOW = 0.4
# The most a fragment's tag (shorter than Settings.fragment_below_s) may claim: always under review.
FRAGMENT_CONFIDENCE = 0.2


@dataclass(frozen=True)
class MoodPoint:
    """One point of a track's mood timeline: the mood of the segment [start_s, end_s)."""

    start_s: float
    end_s: float
    valence: float
    arousal: float


@dataclass(frozen=True)
class MoodTag:
    quadrant: str
    probabilities: dict[str, float]
    valence: float
    arousal: float
    model_version: str = field(default="")
    # How sure the model is of this tag, 0..1; None means "as sure as its top probability".
    confidence_score: float | None = field(default=None)
    # The mood segment by segment over the whole track, in time order (empty for a tag that
    # wasn't computed from audio, e.g. a curator's).
    timeline: tuple[MoodPoint, ...] = field(default=())

    @property
    def confidence(self) -> float:
        if self.confidence_score is not None:
            return float(self.confidence_score)
        return float(max(self.probabilities.values()))

    @property
    def needs_review(self) -> bool:
        return needs_review(self.confidence)


def is_fragment(duration_s: float) -> bool:
    """Whether a track is a jingle or fragment (shorter than Settings.fragment_below_s)."""
    return duration_s < get_settings().fragment_below_s


def dsp_settings() -> dict[str, float | int]:
    """The signal processing a model's input rows depend on: a model trained under other
    settings reads other numbers, so its file records these and `MoodTagger` compares them."""
    return {
        "musicnn_sr": embedding.SR,
        "musicnn_fft_size": embedding.FFT_SIZE,
        "musicnn_fft_hop": embedding.FFT_HOP,
        "musicnn_n_mels": embedding.N_MELS,
        "musicnn_patch_frames": embedding.PATCH_FRAMES,
        "hand_sr": SAMPLE_RATE,
        "hand_n_fft": handcrafted.N_FFT,
        "hand_hop": handcrafted.HOP,
        "segment_s": SEGMENT_S,
    }


def needs_review(confidence: float | None) -> bool:
    """Whether a model tag of this confidence should be checked by a curator (None: not a model tag)."""
    return confidence is not None and confidence < REVIEW_BELOW


def trimmed_mean(values: np.ndarray, share: float = 0.1) -> np.ndarray:
    """Mean over axis 0 after dropping the lowest and highest `share` of rows, per column."""
    n = values.shape[0]
    cut = int(n * share)
    if cut == 0:
        return values.mean(axis=0)
    return np.sort(values, axis=0)[cut : n - cut].mean(axis=0)


def tag_confidence(probabilities: np.ndarray, quadrant_index: int, valence: float, arousal: float) -> float:
    """The classifier's probability for its quadrant, halved when the regressed valence/arousal
    point lies in another quadrant: the two heads disagree, so a curator should look."""
    p = float(probabilities[quadrant_index])
    return p if quadrant_of(valence, arousal) == QUADRANTS[quadrant_index] else 0.5 * p


def attention_features(seg_proba: np.ndarray) -> np.ndarray:
    """[segments, 2] what attention pooling weighs a segment by: how sure the classifier is of
    it (top probability, and the entropy of its probabilities)."""
    p = np.clip(seg_proba, 1e-9, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])
    return np.stack([p.max(axis=1), entropy], axis=1)


def attention_weights(seg_proba: np.ndarray, pool_weights: np.ndarray) -> np.ndarray:
    """[segments] softmax of the segments' `attention_features` · `pool_weights` (sums to 1)."""
    score = attention_features(seg_proba) @ pool_weights
    score = np.exp(score - score.max())
    return score / score.sum()


def write_model(
    path: Path,
    model: LinearMoodModel,
    *,
    version: str,
    nets: tuple[str, ...],
    patches_per_segment: int,
    pool_weights: np.ndarray | None = None,
    tuned: Mapping[str, VggLastBlock] | None = None,
    extra: dict | None = None,
) -> None:
    """Save a model as plain arrays with its description: format, version, nets, patches per
    segment, input feature names and DSP settings (`MoodTagger.from_file` checks them), and the
    tuned last blocks its tuned nets run (`tuned`, keyed by tuned net)."""
    tuned = dict(tuned or {})
    description = {
        "nets": list(nets),
        "net_files": [embedding.NET_FILES[embedding.base_net(n)] for n in nets],
        "tuned_nets": sorted(tuned),
        "patches_per_segment": int(patches_per_segment),
        "feature_names": list(input_names(tuple(nets))),
        "dsp": dsp_settings(),
        "pooling": "trimmed_mean" if pool_weights is None else "attention",
        **(extra or {}),
    }
    arrays = {k: getattr(model, k) for k in LinearMoodModel.FIELDS}
    if pool_weights is not None:
        arrays["pool_weights"] = np.asarray(pool_weights, dtype=np.float64)
    for net, block in tuned.items():
        arrays |= block.arrays(_tuned_prefix(net))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(
        tmp,
        format=np.array(MODEL_FORMAT),
        version=np.array(version),
        classes=np.array(list(QUADRANTS)),
        description=np.array(json.dumps(description)),
        **arrays,
    )
    tmp.replace(path)


def _tuned_prefix(net: str) -> str:
    return f"tuned:{net}:"


def _check_nets(nets: tuple[str, ...], tuned: Mapping[str, VggLastBlock] | None, where: str) -> None:
    """Refuse nets this code can't run: not of the wheel, or (`tuned` given) tuned without their
    tuned block."""
    unknown = [n for n in nets if embedding.base_net(n) not in embedding.NET_FILES]
    if unknown:
        raise ModelError(f"{where} uses nets this code doesn't have: {unknown}; {RETRAIN}")
    if tuned is None:
        return
    untuned = [n for n in nets if n != embedding.base_net(n) and n not in tuned]
    if untuned:
        raise ModelError(f"{where} reads the tuned nets {untuned} but holds no tuned last block for them; {RETRAIN}")


class LinearMoodModel:
    """The served weights: standardisation, then softmax(x·Wᵀ + b) for the quadrants and
    x·Vᵀ + c for (valence, arousal)."""

    FIELDS = ("mean", "scale", "class_coef", "class_intercept", "va_coef", "va_intercept")

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        missing = [k for k in self.FIELDS if k not in weights]
        if missing:
            raise ModelError(f"music model lacks {missing}")
        self.mean, self.scale = weights["mean"], weights["scale"]
        self.class_coef, self.class_intercept = weights["class_coef"], weights["class_intercept"]
        self.va_coef, self.va_intercept = weights["va_coef"], weights["va_intercept"]
        if self.class_coef.shape != (len(QUADRANTS), self.mean.size) or self.va_coef.shape != (2, self.mean.size):
            raise ModelError("music model weights have inconsistent shapes")

    @property
    def n_features(self) -> int:
        return int(self.mean.size)

    def predict(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """([rows, 4] quadrant probabilities, [rows, 2] valence/arousal clipped to [-1, 1])."""
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ModelError(f"music model expects {self.n_features} features, got {rows.shape}")
        z = (rows.astype(np.float64) - self.mean) / self.scale
        logits = z @ self.class_coef.T + self.class_intercept
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        va = np.clip(z @ self.va_coef.T + self.va_intercept, -1.0, 1.0)
        return proba, va


class MoodTagger:
    """The served model; `tag()` is thread-safe (prediction only reads the weights).

    `MoodTagger.load()` is the process-wide one; tests stand in for it with
    `MoodTagger.load.override(stub)` (see app.model_loading)."""

    def __init__(
        self,
        model: LinearMoodModel,
        version: str,
        classes: list[str],
        *,
        nets: tuple[str, ...] = DEFAULT_NETS,
        patches_per_segment: int = SERVING_PATCHES,
        pool_weights: np.ndarray | None = None,
        tuned: Mapping[str, VggLastBlock] | None = None,
    ):
        if list(classes) != list(QUADRANTS):
            raise ModelError(f"music model classes {classes} do not match {list(QUADRANTS)}")
        # A tuned net's last block: needed to analyse audio (`tag`), not to tag an analysis.
        self.tuned = dict(tuned or {})
        _check_nets(tuple(nets), None, "music model")
        n_inputs = len(input_names(tuple(nets)))
        if model.n_features != n_inputs:
            raise ModelError(f"music model expects {model.n_features} features, {list(nets)} give {n_inputs}")
        self.model = model
        self.version = version
        self.nets = tuple(nets)
        self.patches_per_segment = int(patches_per_segment)
        # Attention over segments (`attention_pool`); None: a trimmed mean.
        self.pool_weights = pool_weights

    @load_once
    def load(cls) -> MoodTagger:
        """The process-wide tagger, loaded from the project's own models/ folder on first use."""
        return cls.from_models_dir(MUSIC_MODEL_FILE)

    @classmethod
    def from_models_dir(cls, name: str) -> MoodTagger:
        """A tagger from the file `name` in models/."""
        path = (MODELS_DIR / name).resolve()
        if path.parent != MODELS_DIR.resolve():
            raise ModelError(f"music model must live in {MODELS_DIR}")
        if not path.is_file():
            raise ModelError(f"music model file {path} is missing; train it with `python -m app.music.train`")
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: Path) -> MoodTagger:
        """A tagger from a model file `write_model` wrote, refused with a ModelError saying
        what differs when the file was made for other features, settings or nets."""
        try:
            with np.load(path, allow_pickle=False) as blob:
                weights = {k: blob[k] for k in blob.files}
        except Exception as exc:
            raise ModelError(f"music model file {path} is corrupt ({type(exc).__name__}); {RETRAIN}") from None
        fmt = str(weights.pop("format", "none (an older model without a description)"))
        if fmt != MODEL_FORMAT:
            raise ModelError(f"music model file {path} has format {fmt}, this code reads {MODEL_FORMAT}; {RETRAIN}")
        try:
            description = json.loads(str(weights.pop("description")))
            version = str(weights.pop("version"))
            classes = [str(c) for c in weights.pop("classes")]
            pool = weights.pop("pool_weights", None)
        except Exception as exc:
            raise ModelError(f"music model file {path} is incomplete ({exc}); {RETRAIN}") from None
        nets = tuple(description.get("nets", ()))
        if description.get("dsp") != dsp_settings():
            diff = {
                k: (description.get("dsp", {}).get(k), v)
                for k, v in dsp_settings().items()
                if description.get("dsp", {}).get(k) != v
            }
            raise ModelError(
                f"music model {path.name} was trained with other signal settings (file, code): {diff}; {RETRAIN}"
            )
        try:
            tuned = {n: VggLastBlock.from_arrays(weights, _tuned_prefix(n)) for n in description.get("tuned_nets", [])}
        except KeyError as exc:
            raise ModelError(f"music model file {path} lacks the tuned block array {exc}; {RETRAIN}") from None
        _check_nets(nets, tuned, f"music model {path.name}")
        expected = list(input_names(nets))
        if description.get("feature_names") != expected:
            got = description.get("feature_names") or []
            changed = [n for n in got if n not in expected][:3] + [n for n in expected if n not in got][:3]
            raise ModelError(
                f"music model {path.name} was trained on other input features than this code computes "
                f"({len(got)} vs {len(expected)}; e.g. {changed}); {RETRAIN}"
            )
        return cls(
            LinearMoodModel(weights),
            version,
            classes,
            nets=nets,
            patches_per_segment=int(description.get("patches_per_segment", SERVING_PATCHES)),
            pool_weights=pool,
            tuned=tuned,
        )

    def segment_predictions(self, analysis: SongAnalysis) -> tuple[np.ndarray, np.ndarray]:
        """Per segment: quadrant probabilities [segments, 4] and valence/arousal [segments, 2],
        each the mean over the segment's patch rows."""
        if tuple(analysis.nets) != self.nets:
            raise ModelError(f"analysis has the outputs of {list(analysis.nets)}, the model reads {list(self.nets)}")
        n_seg, n_patch = analysis.per_patch.shape[:2]
        proba, va = self.model.predict(analysis.inputs)
        return proba.reshape(n_seg, n_patch, -1).mean(axis=1), va.reshape(n_seg, n_patch, 2).mean(axis=1)

    def tag_analysis(self, analysis: SongAnalysis) -> MoodTag:
        """The tag of an analysed track: per-segment predictions (the timeline, each segment the
        mean of its patch rows) aggregated over segments by the model's pooling."""
        seg_proba, seg_va = self.segment_predictions(analysis)
        if self.pool_weights is None:
            song_proba, song_va = trimmed_mean(seg_proba), trimmed_mean(seg_va)
        else:
            weights = attention_weights(seg_proba, self.pool_weights)
            song_proba, song_va = weights @ seg_proba, weights @ seg_va
        song_proba = song_proba / song_proba.sum()
        valence, arousal = (float(v) for v in np.clip(song_va, -1.0, 1.0))
        best = int(song_proba.argmax())
        timeline = tuple(
            MoodPoint(round(a, 2), round(b, 2), round(float(v), 3), round(float(r), 3))
            for (a, b), (v, r) in zip(analysis.bounds, seg_va, strict=True)
        )
        confidence = tag_confidence(song_proba, best, valence, arousal)
        if is_fragment(analysis.bounds[-1][1]):
            confidence = min(confidence, FRAGMENT_CONFIDENCE)
        return MoodTag(
            quadrant=QUADRANTS[best],
            probabilities={q: float(x) for q, x in zip(QUADRANTS, song_proba, strict=True)},
            valence=valence,
            arousal=arousal,
            model_version=self.version,
            confidence_score=confidence,
            timeline=timeline,
        )

    def tag(self, path_or_array: AudioSource, sr: int | None = None) -> MoodTag:
        """Tag a file path, raw bytes, or mono/stereo samples (then `sr` is required), from all of it.

        Raises app.music.audio.AudioError for input that isn't usable audio."""
        return self.tag_analysis(analyse_source(path_or_array, sr, self.patches_per_segment, self.nets, self.tuned))
