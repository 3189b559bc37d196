"""The listener's session: current mood, lock, strategy and the play queue.

The Mood page keeps one ``ListenerSession`` per browser session; everything it decides (when
to refill the queue, what is excluded, what "next"/"skip" do) lives here as plain Python. The
queue holds the recommender's ``Recommendation``s as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.emotions import STRATEGIES
from app.listening.mood import MoodReading
from app.recommend import Recommendation

QUEUE_LENGTH = 5

RecommendFn = Callable[[MoodReading, str, set[int], int], Sequence[Recommendation]]
"""(listener mood, strategy, excluded track ids, n) -> ranked recommendations."""


def new_session_id() -> str:
    """Anonymous id: random, not derived from anything about the listener."""
    return uuid.uuid4().hex


@dataclass
class ListenerSession:
    session_id: str = field(default_factory=new_session_id)
    strategy: str = "match"
    mood: MoodReading | None = None
    locked_mood: MoodReading | None = None
    queue: list[Recommendation] = field(default_factory=list)
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

    def next(self) -> Recommendation | None:
        """The head counts as played; returns it (or None for an empty queue)."""
        if not self.queue:
            return None
        head = self.queue.pop(0)
        self.played.add(head.track_id)
        return head

    def skip(self, track_id: int) -> Recommendation | None:
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
