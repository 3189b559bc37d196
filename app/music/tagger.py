"""MoodTagger: a whole track → Russell quadrant, valence/arousal, confidence and mood timeline.

The model is two linear heads over the same segment rows (`app.music.features.segment_input`):
a quadrant classifier (multinomial logistic regression) and a valence/arousal regressor (ridge),
both behind one standardisation, trained by `app.music.train`. They are served as plain numpy
weights from an `.npz` (no pickle to trust, and no scikit-learn import in the analysis worker).

Every segment is predicted (the timeline); the track's tag is a trimmed mean over segments, so a
few odd seconds (an intro, a break) do not decide a five-minute song.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.config import MODELS_DIR, MUSIC_MODEL_FILE
from app.emotions import QUADRANTS, quadrant_of
from app.model_loading import load_once
from app.music.audio import AudioSource
from app.music.errors import ModelError
from app.music.features import SongAnalysis, analyse_source

# Tags below this confidence are listed under "needs review" on Curate: the model is unsure
# (its quadrant probabilities are flat, or its regressed valence/arousal point lies in another
# quadrant than its classifier picked).
REVIEW_BELOW = 0.4


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

    def __init__(self, model: LinearMoodModel, version: str, classes: list[str]):
        if list(classes) != list(QUADRANTS):
            raise ModelError(f"music model classes {classes} do not match {list(QUADRANTS)}")
        self.model = model
        self.version = version

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
        try:
            with np.load(path, allow_pickle=False) as blob:
                weights = {k: blob[k] for k in blob.files}
            version = str(weights.pop("version"))
            classes = [str(c) for c in weights.pop("classes")]
            return cls(LinearMoodModel(weights), version, classes)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"music model file {path} is corrupt or incompatible ({type(exc).__name__}); "
                "retrain it with `python -m app.music.train`"
            ) from None

    def tag_analysis(self, analysis: SongAnalysis) -> MoodTag:
        """The tag of an analysed track: per-segment predictions (the timeline, each segment the
        mean of its patch rows) aggregated by a trimmed mean over segments."""
        n_seg, n_patch = analysis.per_patch.shape[:2]
        proba, va = self.model.predict(analysis.inputs)
        seg_proba = proba.reshape(n_seg, n_patch, -1).mean(axis=1)
        seg_va = va.reshape(n_seg, n_patch, 2).mean(axis=1)
        song_proba = trimmed_mean(seg_proba)
        song_proba = song_proba / song_proba.sum()
        valence, arousal = (float(v) for v in np.clip(trimmed_mean(seg_va), -1.0, 1.0))
        best = int(song_proba.argmax())
        timeline = tuple(
            MoodPoint(round(a, 2), round(b, 2), round(float(v), 3), round(float(r), 3))
            for (a, b), (v, r) in zip(analysis.bounds, seg_va, strict=True)
        )
        return MoodTag(
            quadrant=QUADRANTS[best],
            probabilities={q: float(x) for q, x in zip(QUADRANTS, song_proba, strict=True)},
            valence=valence,
            arousal=arousal,
            model_version=self.version,
            confidence_score=tag_confidence(song_proba, best, valence, arousal),
            timeline=timeline,
        )

    def tag(self, path_or_array: AudioSource, sr: int | None = None) -> MoodTag:
        """Tag a file path, raw bytes, or mono/stereo samples (then `sr` is required), from all of it.

        Raises app.music.audio.AudioError for input that isn't usable audio."""
        return self.tag_analysis(analyse_source(path_or_array, sr))
