"""MoodTagger: audio → Russell quadrant probabilities and valence/arousal."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.config import MODELS_DIR, MUSIC_MODEL_FILE
from app.emotions import QUADRANTS, quadrant_of
from app.model_loading import load_once
from app.music.audio import AudioSource
from app.music.errors import ModelError
from app.music.features import features_for


@dataclass(frozen=True)
class MoodTag:
    quadrant: str
    probabilities: dict[str, float]
    valence: float
    arousal: float
    model_version: str = field(default="")

    @property
    def confidence(self) -> float:
        return float(max(self.probabilities.values()))


def probabilities_to_tag(proba: np.ndarray, version: str) -> MoodTag:
    """Quadrant probabilities → a tag whose valence/arousal agree with its quadrant.

    valence = P(positive valence) − P(negative), arousal likewise, both from the four
    probabilities; the quadrant is then the one holding that point, so the two never disagree.
    """
    p = {q: float(v) for q, v in zip(QUADRANTS, proba, strict=True)}
    valence = (p["Q1"] + p["Q4"]) - (p["Q2"] + p["Q3"])
    arousal = (p["Q1"] + p["Q2"]) - (p["Q3"] + p["Q4"])
    valence, arousal = float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))
    return MoodTag(quadrant_of(valence, arousal), p, valence, arousal, version)


class MoodTagger:
    """The fitted pipeline; `tag()` is thread-safe (scikit-learn predict is read-only).

    `MoodTagger.load()` is the process-wide one; tests stand in for it with
    `MoodTagger.load.override(stub)` (see app.model_loading)."""

    def __init__(self, pipeline, version: str, classes: list[str]):
        if list(classes) != list(QUADRANTS):
            raise ModelError(f"music model classes {classes} do not match {list(QUADRANTS)}")
        self.pipeline = pipeline
        self.version = version

    @load_once
    def load(cls) -> MoodTagger:
        """The process-wide tagger, loaded from the project's own models/ folder on first use."""
        return cls.from_models_dir(MUSIC_MODEL_FILE)

    @classmethod
    def from_models_dir(cls, name: str) -> MoodTagger:
        """A tagger from the file `name` in models/ (nowhere else: the file is a pickle)."""
        import joblib

        path = (MODELS_DIR / name).resolve()
        # joblib files are pickles: only ever load the project's own, never a user-given path.
        if path.parent != MODELS_DIR.resolve():
            raise ModelError(f"music model must live in {MODELS_DIR}")
        if not path.is_file():
            raise ModelError(f"music model file {path} is missing; train it with `python -m app.music.train`")
        try:
            blob = joblib.load(path)
            return cls(blob["pipeline"], blob["version"], blob["classes"])
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"music model file {path} is corrupt or incompatible ({type(exc).__name__}); "
                "retrain it with `python -m app.music.train`"
            ) from None

    def tag_features(self, features: np.ndarray) -> MoodTag:
        proba = self.pipeline.predict_proba(features.reshape(1, -1))[0]
        return probabilities_to_tag(proba, self.version)

    def tag(self, path_or_array: AudioSource, sr: int | None = None) -> MoodTag:
        """Tag a file path, raw bytes, or mono/stereo samples (then `sr` is required).

        Raises app.music.audio.AudioError for input that isn't usable audio."""
        return self.tag_features(features_for(path_or_array, sr))
