"""The listener's session without Streamlit: current mood, lock, strategy and the play queue.

The page keeps one ``ListenerSession`` in ``st.session_state``; everything it decides (when to
refill the queue, what is excluded, what "next"/"skip" do) lives here so it can be tested as
plain Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.emotions import FACE_LABELS, QUADRANT_NAMES, STRATEGIES, MoodPoint

QUEUE_LENGTH = 5

# Where a mood reading came from; shown on the page so the listener knows what drives the music.
MOOD_SOURCES = ("camera", "snapshot", "photo", "manual")


@dataclass(frozen=True)
class MoodReading:
    """One reading of the listener's mood (a face analysis or a manual pick)."""

    point: MoodPoint
    label: str | None = None  # a FER label, or None for a manually picked point
    confidence: float | None = None
    source: str = "manual"
    probabilities: dict[str, float] | None = None

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


@dataclass(frozen=True)
class QueueItem:
    """A recommended track as the page shows it."""

    track_id: int
    title: str
    artist: str
    quadrant: str
    valence: float
    arousal: float
    reason: str
    score: float = 0.0
    media_path: str = ""  # relative to the media store


RecommendFn = Callable[["MoodReading", str, set[int], int], Sequence[QueueItem]]
"""(listener mood, strategy, excluded track ids, n) -> ranked items."""


def new_session_id() -> str:
    """Anonymous id: random, not derived from anything about the listener."""
    return uuid.uuid4().hex


@dataclass
class ListenerSession:
    session_id: str = field(default_factory=new_session_id)
    strategy: str = "match"
    mood: MoodReading | None = None
    locked_mood: MoodReading | None = None
    queue: list[QueueItem] = field(default_factory=list)
    played: set[int] = field(default_factory=set)
    skipped: set[int] = field(default_factory=set)
    liked: set[int] = field(default_factory=set)
    queue_basis: tuple | None = None

    # ---- mood -------------------------------------------------------------------------------
    def effective_mood(self) -> MoodReading | None:
        """The mood the music follows: the locked one if the listener locked it."""
        return self.locked_mood or self.mood

    def set_mood(self, reading: MoodReading | None) -> bool:
        """Record a new reading. Returns True when the music should change because of it."""
        self.mood = reading
        return self.queue_needs_refill()

    def lock(self) -> None:
        if self.mood is not None:
            self.locked_mood = self.mood

    def unlock(self) -> None:
        self.locked_mood = None

    @property
    def is_locked(self) -> bool:
        return self.locked_mood is not None

    def set_strategy(self, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        self.strategy = strategy

    # ---- queue ------------------------------------------------------------------------------
    def _basis(self) -> tuple | None:
        mood = self.effective_mood()
        return None if mood is None else (self.strategy, *mood.basis())

    def queue_needs_refill(self) -> bool:
        basis = self._basis()
        if basis is None:
            return False
        return basis != self.queue_basis or len(self.queue) < QUEUE_LENGTH

    def basis_changed(self) -> bool:
        """True when the mood or strategy the queue was built for is no longer the current one."""
        basis = self._basis()
        return basis is not None and basis != self.queue_basis

    def excluded_ids(self) -> set[int]:
        """Tracks that must not be suggested again this session."""
        return set(self.played) | set(self.skipped)

    def refill(self, recommend: RecommendFn, n: int = QUEUE_LENGTH) -> None:
        """Bring the queue to ``n`` tracks for the current mood and strategy.

        When the mood or strategy changed, the track at the head (the one playing) stays so the
        music isn't cut off mid-song; everything after it is chosen afresh.
        """
        mood = self.effective_mood()
        if mood is None:
            return
        basis = self._basis()
        keep = self.queue[:1] if basis != self.queue_basis else list(self.queue)
        keep_ids = {item.track_id for item in keep}
        wanted = n - len(keep)
        if wanted > 0:
            fresh = recommend(mood, self.strategy, self.excluded_ids() | keep_ids, wanted)
            keep += [item for item in fresh if item.track_id not in keep_ids][:wanted]
        self.queue = keep
        self.queue_basis = basis

    def next(self) -> QueueItem | None:
        """The head counts as played; returns it (or None for an empty queue)."""
        if not self.queue:
            return None
        head = self.queue.pop(0)
        self.played.add(head.track_id)
        return head

    def skip(self, track_id: int) -> QueueItem | None:
        """Drop a track from the queue; it won't be suggested again this session."""
        for i, item in enumerate(self.queue):
            if item.track_id == track_id:
                self.skipped.add(track_id)
                return self.queue.pop(i)
        return None

    def like(self, track_id: int) -> None:
        self.liked.add(track_id)

    def forget(self) -> None:
        """Start over as a new anonymous listener (after the stored events were deleted)."""
        fresh = ListenerSession()
        self.__dict__.update(fresh.__dict__)


def reading_from_label(label: str, source: str = "manual") -> MoodReading:
    from app.emotions import label_to_point

    if label not in FACE_LABELS:
        raise ValueError(f"unknown emotion {label!r}")
    return MoodReading(point=label_to_point(label), label=label, confidence=None, source=source)


def reading_from_point(valence: float, arousal: float) -> MoodReading:
    clip = lambda x: max(-1.0, min(1.0, float(x)))  # noqa: E731 - tiny local helper
    return MoodReading(point=MoodPoint(clip(valence), clip(arousal)), label=None, source="manual")


def reading_from_distribution(
    probabilities: dict[str, float], source: str, confidence: float | None = None
) -> MoodReading:
    from app.emotions import emotion_to_point

    label = max(probabilities, key=probabilities.get)
    return MoodReading(
        point=emotion_to_point(probabilities),
        label=label,
        confidence=probabilities[label] if confidence is None else confidence,
        source=source,
        probabilities=dict(probabilities),
    )


def quadrant_chip(quadrant: str) -> str:
    """Plain-text chip for a track's mood (no HTML: titles and tags are user data)."""
    icons = {"Q1": "☀️", "Q2": "⚡", "Q3": "🌧️", "Q4": "🌿"}
    return f"{icons.get(quadrant, '🎵')} {QUADRANT_NAMES.get(quadrant, quadrant)}"


__all__ = [
    "ListenerSession",
    "MoodReading",
    "QueueItem",
    "QUEUE_LENGTH",
    "quadrant_chip",
    "reading_from_distribution",
    "reading_from_label",
    "reading_from_point",
]


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
