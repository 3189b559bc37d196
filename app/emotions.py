"""The emotion vocabulary shared by the face model, the music model and the recommender.

Face labels are FER2013's seven classes. Music moods are Russell's four quadrants of the
valence–arousal plane plus continuous valence and arousal in [-1, 1].

Valence/arousal coordinates of the face labels come from the NRC VAD Lexicon
(S. M. Mohammad, "Obtaining Reliable Human Ratings of Valence, Arousal, and Dominance for
20,000 English Words", ACL 2018), whose scores in [0, 1] are rescaled here to [-1, 1]
(x -> 2x - 1) for the words anger, disgust, fear, happy, neutral, sad and surprise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FACE_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
QUADRANTS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")

QUADRANT_NAMES: dict[str, str] = {
    "Q1": "happy / energetic",
    "Q2": "tense / angry",
    "Q3": "sad / melancholic",
    "Q4": "calm / tender",
}

# NRC VAD Lexicon (Mohammad 2018): valence, arousal in [0, 1] for each word.
_NRC_VAD: dict[str, tuple[float, float]] = {
    "angry": (0.167, 0.865),  # "anger"
    "disgust": (0.052, 0.775),
    "fear": (0.073, 0.840),
    "happy": (1.000, 0.735),
    "neutral": (0.469, 0.184),
    "sad": (0.225, 0.333),
    "surprise": (0.875, 0.875),
}

FACE_VA: dict[str, tuple[float, float]] = {
    label: (round(2 * v - 1, 3), round(2 * a - 1, 3)) for label, (v, a) in _NRC_VAD.items()
}

# Centre of each quadrant, used where a quadrant has to become a point (e.g. curator override).
# One colour per quadrant for every chart, chip and the player bar.
QUADRANT_COLOURS: dict[str, str] = {"Q1": "#f4a261", "Q2": "#e63946", "Q3": "#457b9d", "Q4": "#2a9d8f"}

QUADRANT_VA: dict[str, tuple[float, float]] = {
    "Q1": (0.5, 0.5),
    "Q2": (-0.5, 0.5),
    "Q3": (-0.5, -0.5),
    "Q4": (0.5, -0.5),
}

STRATEGIES: tuple[str, ...] = ("match", "lift", "calm")
STRATEGY_NAMES: dict[str, str] = {
    "match": "match my mood",
    "lift": "lift my mood",
    "calm": "calm me down",
}


@dataclass(frozen=True)
class MoodPoint:
    """A point in the valence–arousal plane, both coordinates in [-1, 1]."""

    valence: float
    arousal: float

    @property
    def quadrant(self) -> str:
        return quadrant_of(self.valence, self.arousal)


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, float(x)))


def quadrant_of(valence: float, arousal: float) -> str:
    """Russell quadrant of a valence–arousal point (ties go to the positive side)."""
    if valence >= 0:
        return "Q1" if arousal >= 0 else "Q4"
    return "Q2" if arousal >= 0 else "Q3"


def emotion_to_point(distribution: Mapping[str, float]) -> MoodPoint:
    """Probability-weighted mean of the labels' circumplex coordinates.

    Labels outside FACE_LABELS are ignored; the weights are renormalised.
    Raises ValueError if no known label has positive weight.
    """
    total = sum(max(0.0, float(p)) for label, p in distribution.items() if label in FACE_VA)
    if total <= 0:
        raise ValueError("emotion distribution has no weight on a known face label")
    valence = sum(FACE_VA[k][0] * max(0.0, float(p)) for k, p in distribution.items() if k in FACE_VA)
    arousal = sum(FACE_VA[k][1] * max(0.0, float(p)) for k, p in distribution.items() if k in FACE_VA)
    return MoodPoint(_clip(valence / total), _clip(arousal / total))


def label_to_point(label: str) -> MoodPoint:
    if label not in FACE_VA:
        raise ValueError(f"unknown emotion {label!r}; expected one of {', '.join(FACE_LABELS)}")
    v, a = FACE_VA[label]
    return MoodPoint(v, a)


def target_for_strategy(point: MoodPoint, strategy: str) -> MoodPoint:
    """Turn the listener's mood into the mood the music should have.

    match: the same point.
    lift:  move valence well toward positive (iso-principle: keep arousal, raise valence),
           so a sad listener gets gentle but brighter music, not party tracks.
    calm:  toward low arousal and mildly positive valence (Q4).
    """
    if strategy == "match":
        return point
    if strategy == "lift":
        return MoodPoint(_clip(max(point.valence + 0.8, 0.45)), _clip(point.arousal * 0.8 + 0.1))
    if strategy == "calm":
        return MoodPoint(_clip(0.5 * point.valence + 0.3), _clip(min(point.arousal - 0.6, -0.45)))
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
