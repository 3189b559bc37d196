"""The listener's session: where the mood comes from, what plays now, what is up next, what was
heard and liked. Plain Python; it never touches the database (``service`` and ``persistence``
do).

Mood: the live camera's latest reading (``camera_mood``) and the listener's own (``manual_mood``:
a picked label or pad point, or a snapshot/photo they asked to be read) are kept apart;
``mood_source`` says which one drives the music. A manual reading switches the source to
"manual" (the listener's choice wins over the camera); ``use_camera()`` switches back. ``lock()``
freezes the applied mood: readings from either source are still kept, but none is applied (and
the source doesn't switch) until ``unlock()``. Every method that changes the mood returns True
when a mood was *applied* — log ``effective_mood()`` then, and only then.

Playing: ``now_playing`` (with ``position_s``, the player's last reported position) is separate
from ``queue`` (up next). ``play_next``, ``advance_to``, ``replay`` move tracks between them and
``history``; nothing but those three ever changes ``now_playing``.

The page, in each run: hands the session what happened (the methods above), then calls
``refill(service.recommend)`` once — it tops up to QUEUE_LENGTH, or rebuilds the whole of up
next (with fresh reasons) when the mood or strategy changed — then renders.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from app.catalog.models import OUTCOMES
from app.catalog.summary import TrackSummary
from app.emotions import STRATEGIES
from app.listening.mood import MoodReading, MoodSource
from app.listening.response import MoodTrace, Response
from app.recommend import Recommendation

QUEUE_LENGTH = 5
# History kept per session (and in its snapshot); older entries drop off, and those tracks may
# then be suggested again.
HISTORY_LIMIT = 200
# Tracks that left up next by a rebuild are remembered this long, so a player that already moved
# on to one of them (before the page's rerun) can still be followed.
RECENTLY_OFFERED = 2 * QUEUE_LENGTH
REPLAY_REASON = "played again from your history"
# A camera reading this recent when a track starts is the mood at its start.
START_READING_S = 5.0
# A new mood from the camera must hold this long before up next is rebuilt for it: a smile that
# flickers to neutral for a moment is no change of mood, and a row the listener is aiming at
# must not be replaced between two clicks (issue 30, 11).
CAMERA_SETTLE_S = 3.0
# Measured responses waiting to be stored; a database outage longer than this loses the oldest.
PENDING_RESPONSES = 20

# What happened to a track the listener moved on from (the listening event's action, too), or
# "failed": its audio didn't load, which says nothing of the listener's taste (no history, no
# event, not offered again this session).
Outcome = Literal["played", "completed", "skipped", "failed"]
FAILED: Outcome = "failed"


class RecommendFn(Protocol):
    """(mood, strategy, excluded track ids, n, variant_start) → ranked recommendations;
    ``app.listening.service.recommend`` is one."""

    def __call__(
        self, mood: MoodReading, strategy: str, exclude: set[int], n: int, *, variant_start: int = 0
    ) -> Sequence[Recommendation]: ...


def new_session_id() -> str:
    """Anonymous id (32 lowercase hex): random, not derived from anything about the listener."""
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


def _check_position(position_s: float | None) -> float | None:
    if position_s is None:
        return None
    if isinstance(position_s, bool) or not math.isfinite(position_s) or position_s < 0:
        raise ValueError(f"position_s must be a number of seconds >= 0, not {position_s!r}")
    return float(position_s)


@dataclass(frozen=True)
class HistoryEntry:
    """A track the listener moved on from: played / completed / skipped (a queued track removed
    before it played is "skipped" with no position), where it was then, and when (UTC)."""

    track: TrackSummary
    outcome: Outcome
    position_s: float | None
    at: datetime

    @property
    def track_id(self) -> int:
        return self.track.track_id


@dataclass
class ListenerSession:
    session_id: str = field(default_factory=new_session_id)
    strategy: str = "match"
    mood_source: MoodSource = "camera"
    camera_mood: MoodReading | None = None
    manual_mood: MoodReading | None = None
    locked_mood: MoodReading | None = None
    now_playing: Recommendation | None = None
    position_s: float = 0.0
    queue: list[Recommendation] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    liked: set[int] = field(default_factory=set)
    queue_basis: tuple | None = None
    reason_seq: int = 0  # wording variants handed out so far (see recommend's variant_start)
    # A like since up next was last ranked: the next refill re-ranks the tracks not liked, so
    # the next tracks reflect it at once (a snapshot needn't keep it: a resume refills anyway).
    rerank: bool = field(default=False, compare=False)
    # Not part of a snapshot: only bridges one rebuild and the player's next report.
    recently_offered: list[Recommendation] = field(default_factory=list, compare=False)
    # Mood response (``app.listening.response``), not part of a snapshot either: the camera's
    # readings while now_playing plays, and responses measured but not yet stored.
    trace: MoodTrace | None = field(default=None, compare=False)
    camera_at: float | None = field(default=None, compare=False)
    # The camera mood's basis up next follows (see CAMERA_SETTLE_S), and a different one waiting
    # to hold long enough, with when it was first seen.
    camera_basis: tuple | None = field(default=None, compare=False)
    camera_next: tuple[tuple, float] | None = field(default=None, compare=False)
    pending_responses: list[Response] = field(default_factory=list, compare=False)
    # Tracks whose audio failed to load in this page's player: not offered again this session.
    unplayable: set[int] = field(default_factory=set, compare=False)

    # ---- mood -------------------------------------------------------------------------------
    def effective_mood(self) -> MoodReading | None:
        """The mood the music follows: the locked one while locked, else the active source's
        latest reading (the other source's while the active one has none yet, so switching to
        a camera that hasn't seen a face doesn't stop the music)."""
        if self.locked_mood is not None:
            return self.locked_mood
        camera, manual = self.camera_mood, self.manual_mood
        return (camera or manual) if self.mood_source == "camera" else (manual or camera)

    @property
    def is_locked(self) -> bool:
        return self.locked_mood is not None

    def apply_camera_reading(self, reading: MoodReading) -> bool:
        """A live camera reading. Kept as ``camera_mood``; applied (True) only while the camera
        is the source and the mood isn't locked."""
        if reading.source != "camera":
            raise ValueError(f"a {reading.source} reading is not the camera's; use apply_manual_reading")
        now = time.monotonic()
        # The page may hand the same smoothed reading twice (its fragment and a rerun): one reading.
        if reading != self.camera_mood or self.camera_at is None:
            self.camera_at = now
            if self.trace is not None and self.now_playing is not None:
                self.trace.add(reading.point, now)
        self.camera_mood = reading
        self._settle_camera_basis(reading.basis(), now)
        return self.mood_source == "camera" and not self.is_locked

    def _settle_camera_basis(self, basis: tuple, now: float) -> None:
        # Only a camera that drives the music waits: otherwise nothing follows it yet.
        drives = self.mood_source == "camera" and not self.is_locked
        if not drives or self.camera_basis is None or basis == self.camera_basis:
            self.camera_basis, self.camera_next = basis, None
        elif self.camera_next is None or self.camera_next[0] != basis:
            self.camera_next = (basis, now)
        elif now - self.camera_next[1] >= CAMERA_SETTLE_S:
            self.camera_basis, self.camera_next = basis, None

    def apply_manual_reading(self, reading: MoodReading) -> bool:
        """The listener's own mood: a picked label or point, or a snapshot/photo. Kept as
        ``manual_mood``; unless locked, the source becomes "manual" and it applies (True)."""
        if reading.source == "camera":
            raise ValueError("a live camera reading goes through apply_camera_reading")
        self.manual_mood = reading
        if self.is_locked:
            return False
        self.mood_source = "manual"
        return True

    def use_camera(self) -> bool:
        """Let the camera drive the music again. Refused while locked. True when that applied a
        different mood (the camera's latest)."""
        return self._switch("camera")

    def use_manual(self) -> bool:
        """Back to the listener's last own reading, if there is one. Refused while locked. True
        when that applied a different mood."""
        if self.manual_mood is None:
            return False
        return self._switch("manual")

    def _switch(self, source: MoodSource) -> bool:
        if self.is_locked or self.mood_source == source:
            return False
        before = self.effective_mood()
        self.mood_source = source
        if source == "camera" and self.camera_mood is not None:  # the listener asked: at once
            self.camera_basis, self.camera_next = self.camera_mood.basis(), None
        after = self.effective_mood()
        return after is not None and after != before

    def lock(self) -> bool:
        """Freeze the applied mood (False when there is none yet)."""
        mood = self.effective_mood()
        if mood is None:
            return False
        self.locked_mood = mood
        return True

    def unlock(self) -> bool:
        """Unfreeze. True when the active source's latest reading differs from the locked mood
        and so now applies."""
        locked, self.locked_mood = self.locked_mood, None
        after = self.effective_mood()
        return locked is not None and after is not None and after != locked

    def set_strategy(self, strategy: str) -> bool:
        """True when the strategy changed (up next is rebuilt on the next refill)."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        changed, self.strategy = strategy != self.strategy, strategy
        return changed

    # ---- up next ----------------------------------------------------------------------------
    def basis(self) -> tuple | None:
        """What up next is chosen for: the strategy and the applied mood's coarse basis (for the
        camera's mood, the one that has held for CAMERA_SETTLE_S)."""
        mood = self.effective_mood()
        if mood is None:
            return None
        if self.locked_mood is None and mood is self.camera_mood and self.camera_basis is not None:
            return (self.strategy, *self.camera_basis)
        return (self.strategy, *mood.basis())

    def basis_changed(self) -> bool:
        """True when the mood or strategy up next was built for is no longer the current one."""
        basis = self.basis()
        return basis is not None and basis != self.queue_basis

    def needs_refill(self) -> bool:
        return self.basis() is not None and (self.basis_changed() or self.rerank or len(self.queue) < QUEUE_LENGTH)

    def kept_by_refill(self) -> list[Recommendation]:
        """What the next refill keeps of up next, in order: nothing when the mood or strategy
        changed, the liked tracks after a like, else all of it (the fresh ones go after)."""
        if self.basis_changed():
            return []
        if self.rerank:
            return [item for item in self.queue if item.track_id in self.liked]
        return list(self.queue)

    def excluded_ids(self) -> set[int]:
        """Tracks not to suggest again this session: playing, played, completed or skipped
        (removed from up next counts as skipped)."""
        ids = {entry.track_id for entry in self.history} | self.unplayable
        if self.now_playing is not None:
            ids.add(self.now_playing.track_id)
        return ids

    def refill(self, recommend: RecommendFn, n: int = QUEUE_LENGTH) -> bool:
        """Bring up next to ``n`` tracks for the applied mood and strategy. When either changed,
        all of up next is chosen afresh (so every reason speaks of the new mood and strategy);
        after a like, all but the liked tracks (so the next ones reflect it);
        ``now_playing`` is never touched. Returns True when up next changed. Asks ``recommend``
        nothing when there's no mood yet or up next is full and current."""
        mood, basis = self.effective_mood(), self.basis()
        if mood is None or not self.needs_refill():
            return False
        rebuild = basis != self.queue_basis
        keep = self.kept_by_refill()
        exclude = self.excluded_ids() | {item.track_id for item in keep}
        wanted = n - len(keep)
        fresh = list(recommend(mood, self.strategy, exclude, wanted, variant_start=self.reason_seq))
        # A heard track comes back only as a replay (nothing new left); never what plays or stays.
        staying = {item.track_id for item in keep}
        if self.now_playing is not None:
            staying.add(self.now_playing.track_id)
        fresh = [r for r in fresh if r.track_id not in staying and (r.replay or r.track_id not in exclude)]
        fresh = list({r.track_id: r for r in fresh}.values())[:wanted]
        self.reason_seq += len(fresh)
        if rebuild or self.rerank:
            staying = {r.track_id for r in (*keep, *fresh)}
            self._remember_offered(item for item in self.queue if item.track_id not in staying)
        new_queue = keep + fresh
        changed = new_queue != self.queue
        self.queue, self.queue_basis, self.rerank = new_queue, basis, False
        return changed

    def _remember_offered(self, items: Iterable[Recommendation]) -> None:
        self.recently_offered = [*items, *self.recently_offered][:RECENTLY_OFFERED]

    def remove(self, track_id: int) -> Recommendation | None:
        """Take a track out of up next: a skip of an unplayed track (history, no position), so
        it isn't suggested again. Returns it, or None when it isn't up next."""
        for i, item in enumerate(self.queue):
            if item.track_id == track_id:
                self._add_history(item.track, "skipped", None)
                return self.queue.pop(i)
        return None

    # ---- now playing ------------------------------------------------------------------------
    def play_next(self, *, outcome: Outcome = "skipped", position_s: float | None = None) -> Recommendation | None:
        """The head of up next becomes ``now_playing`` (at 0:00). The previous one goes to
        history with ``outcome`` at ``position_s`` (default: the last reported position).
        Also cues the first track when nothing plays yet. Returns the new now_playing, or None
        when up next was empty (then nothing plays)."""
        self._finish_current(outcome, position_s)
        head = self.queue.pop(0) if self.queue else None
        self._start(head)
        return head

    def advance_to(
        self, track_id: int, *, outcome: Outcome = "completed", position_s: float | None = None
    ) -> Recommendation | None:
        """The player moved on by itself to ``track_id`` (normally the head of up next, after a
        track ended): it becomes now_playing, the previous one goes to history with ``outcome``.
        Tracks queued before it stay up next. Also follows a track that a rebuild just took out
        of up next (the player had it already). Idempotent: advancing to what already plays
        changes nothing. Returns the new now_playing, or None for a track the session never
        offered (nothing changes then)."""
        if self.now_playing is not None and self.now_playing.track_id == track_id:
            return self.now_playing
        item = next((r for r in self.queue if r.track_id == track_id), None)
        if item is not None:
            self.queue.remove(item)
        else:
            item = next((r for r in self.recently_offered if r.track_id == track_id), None)
            if item is None:
                return None
            self.recently_offered.remove(item)
        self._finish_current(outcome, position_s)
        self._start(item)
        return item

    def replay(
        self, track_id: int, *, outcome: Outcome = "skipped", position_s: float | None = None
    ) -> Recommendation | None:
        """Play a track from this session's history again, now: it becomes now_playing (the
        one playing goes to history with ``outcome``, by default skipped at its last position);
        up next stays as it is. Returns it, or None when it isn't in history."""
        if self.now_playing is not None and self.now_playing.track_id == track_id:
            return self.now_playing
        entry = next((e for e in reversed(self.history) if e.track_id == track_id), None)
        if entry is None:
            return None
        self._finish_current(outcome, position_s)
        item = Recommendation(track=entry.track, score=0.0, reason=REPLAY_REASON)
        self._start(item)
        return item

    def previous(self, position_s: float | None = None) -> Recommendation | None:
        """The player's Previous: the last track heard before this one plays again; the one
        playing goes to history as played (going back is no verdict on it). None when nothing
        was heard before."""
        current = self.now_playing.track_id if self.now_playing is not None else None
        entry = next((e for e in reversed(self.history) if e.track_id != current), None)
        if entry is None:
            return None
        return self.replay(entry.track_id, outcome="played", position_s=position_s)

    def set_position(self, track_id: int, position_s: float) -> bool:
        """The player's report of where the current track is (started, paused, …). Ignored
        (False) for any other track."""
        if self.now_playing is None or self.now_playing.track_id != track_id:
            return False
        self.position_s = _check_position(position_s) or 0.0
        return True

    def _finish_current(self, outcome: Outcome, position_s: float | None) -> None:
        if outcome == FAILED:
            if self.now_playing is not None:
                self.unplayable.add(self.now_playing.track_id)
            self.trace = None
            return
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        position = _check_position(position_s)
        if self.now_playing is not None:
            left_at = self.position_s if position is None else position
            self._add_history(self.now_playing.track, outcome, left_at)
            measured = self.trace.response(left_at or None) if self.trace is not None else None
            if measured is not None:
                self.pending_responses = [*self.pending_responses, measured][-PENDING_RESPONSES:]
        self.trace = None

    def _start(self, item: Recommendation | None) -> None:
        self.now_playing, self.position_s = item, 0.0
        if item is None:
            return
        # Every track is measured; only one the camera saw enough of gives a response. The
        # camera's latest reading, if fresh, is the mood at its start.
        self.trace = MoodTrace(item.track_id, self.strategy)
        now = time.monotonic()
        if self.camera_mood is not None and self.camera_at is not None and now - self.camera_at <= START_READING_S:
            self.trace.add(self.camera_mood.point, now)

    def take_responses(self) -> list[Response]:
        """The mood responses measured since the last call (``service.store_responses`` writes
        them), oldest first."""
        taken, self.pending_responses = self.pending_responses, []
        return taken

    def _add_history(self, track: TrackSummary, outcome: Outcome, position_s: float | None) -> None:
        self.history.append(HistoryEntry(track, outcome, position_s, _now()))
        del self.history[:-HISTORY_LIMIT]

    # ---- liked and lookups ------------------------------------------------------------------
    def find(self, track_id: int) -> TrackSummary | None:
        """A track this session knows: playing, up next, in history, or just taken out of up
        next by a rebuild."""
        items = [self.now_playing, *self.queue, *self.recently_offered]
        for item in items:
            if item is not None and item.track_id == track_id:
                return item.track
        entry = next((e for e in reversed(self.history) if e.track_id == track_id), None)
        return entry.track if entry else None

    def known_track_ids(self) -> set[int]:
        """What a player report may name, the tracks the bar could be playing: the one it just
        left (its end may arrive after the page moved on), now playing, up next, and what a
        rebuild just took out of up next."""
        ids = {self.history[-1].track_id} if self.history else set()
        ids.update(item.track_id for item in (self.now_playing, *self.queue, *self.recently_offered) if item)
        return ids

    def like(self, track_id: int) -> bool:
        """Like a track that is playing, up next or in history. True when it is newly liked
        (log it then, before the next refill re-ranks up next by it); False when already liked
        or unknown to this session."""
        if track_id in self.liked or self.find(track_id) is None:
            return False
        self.liked.add(track_id)
        self.rerank = True
        return True

    def liked_tracks(self) -> list[TrackSummary]:
        """The liked tracks this session still knows, most recently heard first (playing, then
        history newest first, then up next)."""
        seen: dict[int, TrackSummary] = {}
        ordered = [self.now_playing.track] if self.now_playing else []
        ordered += [e.track for e in reversed(self.history)] + [r.track for r in self.queue]
        for track in ordered:
            if track.track_id in self.liked:
                seen.setdefault(track.track_id, track)
        return list(seen.values())

    def forget(self, keep_id: bool = False) -> None:
        """Start over as a new listener (after the stored events and snapshot were deleted):
        anonymous, or under the same id with `keep_id` (a signed-in listener's id is their
        account's, so what they do next still follows them). The strategy stays: a preference,
        not personal data."""
        strategy, session_id = self.strategy, self.session_id
        self.__dict__.update(ListenerSession().__dict__)
        self.strategy = strategy
        if keep_id:
            self.session_id = session_id
