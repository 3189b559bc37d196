"""Readings of the listener's mood: from a picked label, a point on the pad, a face-label
distribution or the camera's smoothed mood; and when a reading is worth storing."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from app.emotions import FACE_LABELS, QUADRANT_NAMES, MoodPoint, emotion_to_point, label_to_point

if TYPE_CHECKING:
    from app.vision import Face, SmoothedMood

# Where one reading came from (MoodReading.source): the live camera, a snapshot or an uploaded
# photo analysed once, or a label or point the listener picked. The reasons name it.
READING_SOURCES: tuple[str, ...] = ("camera", "snapshot", "photo", "manual")

# Which input drives the music (ListenerSession.mood_source): the live camera, or the
# listener's own choice — a picked label or point, or a snapshot/photo they asked to be read.
MoodSource = Literal["camera", "manual"]
MOOD_SOURCES: tuple[MoodSource, ...] = ("camera", "manual")


@dataclass(frozen=True)
class MoodReading:
    """One reading of the listener's mood (a face analysis or a manual pick)."""

    point: MoodPoint
    label: str | None = None  # a FER label, or None for a manually picked point
    confidence: float | None = None
    source: str = "manual"  # one of READING_SOURCES
    probabilities: dict[str, float] | None = None

    @property
    def drives(self) -> MoodSource:
        """The mood source this reading belongs to: only the live camera's are "camera"."""
        return "camera" if self.source == "camera" else "manual"

    def as_dict(self) -> dict[str, Any]:
        """Numbers and labels only (what a mood event stores too), for a session snapshot.
        Unrounded, so `from_dict` gives back an equal reading (and the same queue basis)."""
        # float(): a face model's numbers may be NumPy scalars, which JSON can't hold.
        return {
            "valence": float(self.point.valence),
            "arousal": float(self.point.arousal),
            "label": self.label,
            "confidence": None if self.confidence is None else float(self.confidence),
            "source": self.source,
            "probabilities": None
            if self.probabilities is None
            else {k: float(v) for k, v in self.probabilities.items()},
        }

    @classmethod
    def from_dict(cls, data: object) -> MoodReading | None:
        """The reading `as_dict` wrote, or None for anything malformed (a stored snapshot is
        input like any other)."""
        if not isinstance(data, Mapping):
            return None
        valence, arousal, confidence = data.get("valence"), data.get("arousal"), data.get("confidence")
        label, source, probabilities = data.get("label"), data.get("source"), data.get("probabilities")
        if not (_unit(valence, -1.0) and _unit(arousal, -1.0)) or source not in READING_SOURCES:
            return None
        if label is not None and label not in FACE_LABELS:
            return None
        if confidence is not None and not _unit(confidence, 0.0):
            return None
        if probabilities is not None:
            if not isinstance(probabilities, Mapping) or not all(
                k in FACE_LABELS and _unit(v, 0.0) for k, v in probabilities.items()
            ):
                return None
            probabilities = {str(k): float(v) for k, v in probabilities.items()} or None
        return cls(
            point=MoodPoint(float(valence), float(arousal)),
            label=label,
            confidence=None if confidence is None else float(confidence),
            source=str(source),
            probabilities=probabilities,
        )

    def describe(self) -> str:
        """Short words for the mood: 'sad', or 'calm / tender' for a bare point."""
        if self.label:
            return self.label
        return QUADRANT_NAMES[self.point.quadrant]

    def basis(self) -> tuple:
        """What the queue depends on. Coarse on purpose: a jittery face reading or a slightly
        different click must not reshuffle the music; a new label or a clearly different point
        should."""
        if self.label:
            return ("label", self.label)
        return ("point", round(self.point.valence * 4) / 4, round(self.point.arousal * 4) / 4)


def _unit(value: object, low: float) -> bool:
    """A finite number in [low, 1] (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and low <= value <= 1


def reading_from_label(label: str, source: str = "manual") -> MoodReading:
    if label not in FACE_LABELS:
        raise ValueError(f"unknown emotion {label!r}")
    return MoodReading(point=label_to_point(label), label=label, confidence=None, source=source)


def reading_from_point(valence: float, arousal: float) -> MoodReading:
    def clip(x: float) -> float:
        return max(-1.0, min(1.0, float(x)))

    return MoodReading(point=MoodPoint(clip(valence), clip(arousal)), label=None, source="manual")


def reading_from_distribution(
    probabilities: Mapping[str, float], source: str, confidence: float | None = None
) -> MoodReading:
    label = max(probabilities, key=probabilities.__getitem__)
    return MoodReading(
        point=emotion_to_point(probabilities),
        label=label,
        confidence=probabilities[label] if confidence is None else confidence,
        source=source,
        probabilities=dict(probabilities),
    )


def reading_from_smoothed(mood: SmoothedMood | None) -> MoodReading | None:
    """The camera's smoothed mood as a reading (None while no face is in view)."""
    if mood is None:
        return None
    return MoodReading(
        point=mood.point,
        label=mood.label,
        confidence=float(mood.confidence),
        source="camera",
        probabilities={k: float(v) for k, v in mood.probabilities.items()},
    )


# ----------------------------------------------------------------------------- still pictures


# What the photo and snapshot widgets accept (the photo widget's max_upload_size; checked here
# too, since the server's upload limit is the larger one audio needs).
MAX_PICTURE_MB = 10
# Decoding costs width x height x 3 bytes whatever the file size (a 200 KB PNG can claim
# 15000 x 15000): refused from the header, before decoding. Face analysis needs far fewer.
MAX_PICTURE_PIXELS = 16_000_000
PICTURE_FORMATS = ("JPEG", "PNG")
# Decoding holds the whole picture at once: at most two at a time in the process, each shrunk to
# this longest side before it is kept (face analysis needs no more), so many visitors sending
# pictures at once stay within the app's memory.
MAX_ANALYSED_SIDE = 1600
_DECODING = threading.BoundedSemaphore(2)


class NotAnImage(ValueError):
    """A snapshot or photo that is refused: not a JPEG/PNG, or too big; the message says which,
    for the listener."""


def decode_image(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes → a BGR image (H, W, 3) uint8, at most MAX_ANALYSED_SIDE on its longest side.
    Raises NotAnImage, for a picture over MAX_PICTURE_MB or MAX_PICTURE_PIXELS before it is decoded."""
    import cv2

    if len(data) > MAX_PICTURE_MB * 1024 * 1024:
        raise NotAnImage(f"That picture is over {MAX_PICTURE_MB} MB. Use a smaller one, or pick your mood.")
    width, height = picture_size(data)
    if width * height > MAX_PICTURE_PIXELS:
        raise NotAnImage(
            f"That picture is {width} × {height} pixels, over the {MAX_PICTURE_PIXELS // 1_000_000} megapixel "
            "limit. Use a smaller one, or pick your mood."
        )
    with _DECODING:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.shape[0] * image.shape[1] > width * height:
            raise NotAnImage("That file is not an image I can read (JPEG or PNG, please).")
        longest = max(image.shape[:2])
        if longest > MAX_ANALYSED_SIDE:
            scale = MAX_ANALYSED_SIDE / longest
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


def picture_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's or PNG's header alone (Pillow opens lazily: no pixel is
    decoded). Raises NotAnImage for anything else."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own, lower limit
            with Image.open(io.BytesIO(data), formats=PICTURE_FORMATS) as picture:
                return int(picture.width), int(picture.height)
    except Image.DecompressionBombError:  # past Pillow's own limit, far past ours
        raise NotAnImage(
            f"That picture is over the {MAX_PICTURE_PIXELS // 1_000_000} megapixel limit. Use a smaller one, "
            "or pick your mood."
        ) from None
    except Exception:  # Pillow raises several types for what isn't a JPEG/PNG
        raise NotAnImage("That file is not an image I can read (JPEG or PNG, please).") from None


def reading_from_faces(faces: Sequence[Face], source: str) -> MoodReading | None:
    """The mood of the biggest face in a still picture (the one nearest the camera), or None."""
    if not faces:
        return None
    face = max(faces, key=lambda f: f.box[2] * f.box[3])
    return reading_from_distribution(dict(face.probabilities), source=source)


# ----------------------------------------------------------------------------- logging


class MoodLogThrottle:
    """Decides when a live reading is worth a mood event: on a change of mood, or at most every
    ``interval_s`` while it stays the same (the camera yields several readings a second)."""

    def __init__(self, interval_s: float = 15.0) -> None:
        self.interval_s = interval_s
        self._last_basis: tuple | None = None
        self._last_t: float | None = None

    def should_log(self, reading: MoodReading, now: float) -> bool:
        basis = reading.basis()
        if basis != self._last_basis or self._last_t is None or now - self._last_t >= self.interval_s:
            self._last_basis, self._last_t = basis, now
            return True
        return False
