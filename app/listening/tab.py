"""One browser tab's listening, without Streamlit: the listener's session and what the Mood page
keeps beside it between runs (the bar's report log, the live camera's holder, the mood-log
throttle, the last saved snapshot, the pick and picture already applied), and every action the
page takes on them: the bar's reports, a pick, a snapshot or photo, the live camera's reading,
like / not for me / remove / play now / replay, the mood source, lock and strategy, refreshing
up next, saving and forgetting.

Nothing here raises for a failed write: the music goes on, the failure is logged on the
server (what failed, never the session id) and a one-shot notice says so (``store_failed``,
``like_failed``), for the page to show once and clear.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.emotions import FACE_LABELS, STRATEGIES
from app.listening import playback, service
from app.listening.live import LiveSnapshot, MoodHolder
from app.listening.mood import (
    MoodLogThrottle,
    MoodReading,
    NotAnImage,
    decode_image,
    reading_from_faces,
    reading_from_label,
    reading_from_smoothed,
)
from app.listening.session import ListenerSession
from app.listening.status import (
    LOCKED_PICK,
    LOCKED_SOURCE,
    NO_FACE_IN_PICTURE,
    PICK_FIRST,
    Notice,
    forget_notice,
    recommendations_failed,
)
from app.recommend import Recommendation

log = logging.getLogger(__name__)


@dataclass
class PictureResult:
    """What reading one snapshot or photo gave: a notice when it gave no mood, else the
    picture with the faces drawn on it (RGB, for the page to show)."""

    notice: Notice | None = None
    overlay_rgb: np.ndarray | None = None


def open_session(account_id: str | None, url_session_id: str | None) -> ListenerSession:
    """The listener's session on a tab's first run: a signed-in listener's (the same on every
    device), else the one named in the URL, else a new anonymous one."""
    try:
        session = service.resume_session(account_id or url_session_id)
    except Exception:  # a snapshot that can't be read must not keep the page from working
        session = ListenerSession()
    if account_id is not None and session.session_id != account_id:
        session = ListenerSession(session_id=account_id)
    return session


@dataclass
class ListeningTab:
    """One browser tab's listening (see the module's docstring)."""

    session: ListenerSession
    player_log: playback.PlayerLog = field(default_factory=playback.PlayerLog)
    holder: MoodHolder = field(default_factory=MoodHolder)
    throttle: MoodLogThrottle = field(default_factory=MoodLogThrottle)
    saved_state: str | None = None  # the snapshot last stored (an unchanged one isn't stored again)
    applied_pick: str | None = None  # the picked emotion last applied (see pick_pending)
    last_picture: tuple | None = None  # the snapshot/photo already read
    still_nonce: int = 0  # a new one gives the snapshot and photo widgets new, empty keys
    clock: Callable[[], float] = time.monotonic
    # Said once by the page, then cleared there.
    store_failed: bool = False  # a listening or mood event or the snapshot couldn't be stored
    like_failed: int | None = None  # the track whose Like couldn't be stored
    source_hint: str | None = None  # why a mood-source, lock or pick change was refused
    forget_failed: bool = False
    forgot: int | None = None  # how many events "Forget this session" deleted

    # ---- storing --------------------------------------------------------------------------
    def log_event(self, track_id: int, action: str, position_s: float | None = None) -> bool:
        """Store one listening event with the applied mood; False when it couldn't be."""
        session = self.session
        try:
            service.log_listening(
                session.session_id, track_id, action, session.strategy, session.effective_mood(), position_s=position_s
            )
        except Exception:
            log.warning("storing a %r event for track %d failed", action, track_id, exc_info=True)
            self.store_failed = True
            return False
        return True

    def log_applied_mood(self) -> None:
        """Log the mood the music now follows (call only when the session said one applied),
        at most as often as the throttle allows."""
        mood = self.session.effective_mood()
        if mood is None or not self.throttle.should_log(mood, self.clock()):
            return
        try:
            service.log_mood(self.session.session_id, mood)
        except Exception:
            log.warning("storing a mood reading failed", exc_info=True)
            self.store_failed = True

    def take_reports(self, raw: Mapping | None) -> None:
        """Store and follow the bar's new reports (its component state; see PlayerLog.take)."""
        session, failed = self.session, []

        def store(events: list[playback.PlayerEvent]) -> None:
            try:
                service.log_player_writes(
                    session.session_id, playback.writes_for(events), session.strategy, session.effective_mood()
                )
            except Exception as exc:  # logging must never take the music away
                failed.append(exc)
            playback.follow_player(session, events)

        self.player_log.take(raw, known_ids=session.known_track_ids(), store=store)
        if failed:
            log.warning("storing the player's reports failed", exc_info=failed[0])
            self.store_failed = True

    def store_responses(self) -> None:
        """Store the mood responses of tracks the listener moved on from (before up next is
        refilled, so the next picks learn from them); kept for the next run when that fails."""
        try:
            service.store_session_responses(self.session)
        except Exception:
            log.warning("storing mood responses failed (kept for the next run)", exc_info=True)

    def save(self) -> None:
        """Store the snapshot when it changed (and there is something to resume)."""
        session = self.session
        if session.effective_mood() is None and session.now_playing is None and not session.history:
            return
        try:
            self.saved_state = service.save_session(session, self.saved_state)
        except Exception:
            log.warning("saving the listener session's snapshot failed", exc_info=True)
            self.store_failed = True

    def forget(self, signed_in: bool = False) -> bool:
        """ "Forget this session": its stored events and snapshot are deleted, and the tab goes
        on as a new listener (the strategy stays: a preference, not personal data), its pick and
        pictures dropped: anonymous, or for a `signed_in` listener under their account's id,
        emptied, so what they do next still follows them to their other devices. False, with
        nothing changed, when the delete failed."""
        try:
            removed = service.forget_session(self.session.session_id)
        except Exception:
            self.forget_failed = True
            return False
        self.session.forget(keep_id=signed_in)
        self.holder.clear()
        self.throttle = MoodLogThrottle()
        self.saved_state = None
        self.still_nonce += 1
        self.last_picture = None
        self.applied_pick = None
        self.forgot = removed
        return True

    # ---- said once -----------------------------------------------------------------------
    def take_forget_notice(self) -> Notice | None:
        """What "Forget this session" did, once."""
        notice = forget_notice(self.forget_failed, self.forgot)
        self.forget_failed, self.forgot = False, None
        return notice

    def take_source_hint(self) -> str | None:
        """Why a change of the mood's source, a pick or the lock was refused, once."""
        hint, self.source_hint = self.source_hint, None
        return hint

    def end_run(self) -> bool:
        """After a run has drawn the page: the one-shot failures are cleared (a failed like is
        said beside its button in that run only) and the snapshot is saved when it changed.
        True when a write failed in this run (or in callbacks since the last), for a toast."""
        failed = self.store_failed
        self.store_failed, self.like_failed = False, None
        self.save()
        return failed

    # ---- the mood -------------------------------------------------------------------------
    def adopt_manual(self, reading: MoodReading) -> None:
        """The listener's own reading (a pick, a point, a snapshot or photo): it wins over the
        camera at once, unless the mood is locked (then the hint says so)."""
        if self.session.apply_manual_reading(reading):
            self.log_applied_mood()
        elif self.session.is_locked:
            self.source_hint = LOCKED_PICK

    def pick_changed(self, picked: object) -> None:
        """The pills changed: an emotion is picked, or the pick was cleared (then picking the
        same emotion again applies it)."""
        if isinstance(picked, str) and picked in FACE_LABELS:
            self.pick(picked)
        else:
            self.applied_pick = None

    def pick(self, label: str) -> None:
        """A picked emotion from the pills."""
        self.adopt_manual(reading_from_label(label))
        self.applied_pick = label  # after: a run stopped before this leaves it pending

    def pick_pending(self, picked: object) -> str | None:
        """The pills' value when it is an emotion whose pick was never applied. Streamlit stops
        a run at any session-state access, its widget callbacks included: with the camera on,
        the fragment's rerun every second can stop a run after the bar's callback and before the
        pick's, and the widget, its value already stored, never calls back (issue 30, 3: a pick
        ignored with the camera on). Apply it with ``pick``."""
        return picked if isinstance(picked, str) and picked in FACE_LABELS and picked != self.applied_pick else None

    def follow(self, choice: object) -> bool:
        """The "Music follows" switch: the camera or the listener's own mood. Refused while
        locked, and "manual" before there is a pick (the hint says why). True when the pick was
        handed back to the camera (the pills then show none, so the same pick applies again)."""
        session = self.session
        if session.is_locked:
            self.source_hint = LOCKED_SOURCE
            return False
        if choice == "camera":
            applied, self.applied_pick = session.use_camera(), None
        elif choice == "manual":
            if session.manual_mood is None:
                self.source_hint = PICK_FIRST
                return False
            applied = session.use_manual()
        else:
            return False
        if applied:
            self.log_applied_mood()
        return choice == "camera"

    def set_lock(self, on: object) -> None:
        """Lock keeps the music on the applied mood; unlocking applies the active source's."""
        if on:
            self.session.lock()
        elif self.session.unlock():
            self.log_applied_mood()

    def set_strategy(self, choice: object) -> None:
        if choice in STRATEGIES:
            self.session.set_strategy(str(choice))

    def live_snapshot(self) -> LiveSnapshot:
        return self.holder.snapshot()

    def apply_live(self, snap: LiveSnapshot) -> bool:
        """Take the live camera's latest reading; True when up next must be rebuilt for it
        (the applied mood's basis changed)."""
        reading = reading_from_smoothed(snap.mood)
        if reading is None or not self.session.apply_camera_reading(reading):
            return False
        self.log_applied_mood()
        return self.session.basis_changed()

    def is_new_picture(self, ident: tuple) -> bool:
        """True once per snapshot or photo: reruns with the same picture must not undo a later
        pick."""
        if ident == self.last_picture:
            return False
        self.last_picture = ident
        return True

    def read_picture(self, data: bytes, source: str, load_analyzer: Callable[[], Any]) -> PictureResult:
        """Read the mood of the biggest face in one snapshot or photo and adopt it as the
        listener's own; a refused picture, an unavailable analyzer or no face changes nothing
        and says so."""
        try:
            image = decode_image(data)
        except NotAnImage as exc:  # not a JPEG/PNG, or over the size limits: the message says which
            return PictureResult(Notice("error", str(exc)))
        try:
            faces = load_analyzer().analyze(image)
        except Exception as exc:
            return PictureResult(
                Notice("error", f"Face analysis is unavailable: {type(exc).__name__}. Pick your mood instead.")
            )
        reading = reading_from_faces(faces, source)
        if reading is None:
            return PictureResult(Notice("warning", NO_FACE_IN_PICTURE))
        self.adopt_manual(reading)
        return PictureResult(overlay_rgb=_overlay_rgb(image, faces))

    # ---- the music ------------------------------------------------------------------------
    def refresh_queue(self) -> str | None:
        """Up next for the applied mood and strategy, and a first track when nothing plays yet;
        returns what to tell the listener when recommendations failed. Nothing before a mood."""
        session = self.session
        if session.effective_mood() is None:
            return None
        try:
            # Learns from this session's likes and skips, and steers lift/calm step by step.
            recommend = service.recommender_for(session)
            session.refill(recommend)
            if session.now_playing is None and session.queue:
                session.play_next()
                session.refill(recommend)
        except Exception as exc:
            return recommendations_failed(exc)
        return None

    def like(self, track_id: int) -> None:
        self.like_failed = None
        if self.session.like(track_id) and not self.log_event(track_id, "liked"):
            self.like_failed = track_id  # said beside its button, not only in a toast

    def not_for_me(self, track_id: int) -> None:
        """A verdict on the playing track (stored as such, stronger than a skip for the
        recommender), and the music moves on to the next track."""
        playing = self.session.now_playing
        if playing is None or playing.track_id != track_id:
            return
        self.log_event(track_id, "disliked")
        self._leave_current(lambda s: s.play_next(outcome="skipped"))

    def remove(self, track_id: int) -> None:
        if self.session.remove(track_id) is not None:
            self.log_event(track_id, "skipped")

    def play_now(self, track_id: int) -> None:
        self._leave_current(lambda s: s.advance_to(track_id, outcome="skipped"))

    def replay(self, track_id: int) -> None:
        self._leave_current(lambda s: s.replay(track_id))

    def _leave_current(self, change: Callable[[ListenerSession], Recommendation | None]) -> None:
        """Replace the playing track and log the one replaced as skipped where the bar last
        said it was."""
        session = self.session
        before, position = session.now_playing, session.position_s
        item = change(session)
        if before is not None and item is not None and item.track_id != before.track_id:
            self.log_event(before.track_id, "skipped", position)


def _overlay_rgb(image_bgr: np.ndarray, faces: Sequence[Any]) -> np.ndarray:
    """The picture with the faces' boxes and labels, as RGB for showing."""
    import cv2

    from app.vision import draw_overlay

    return cv2.cvtColor(draw_overlay(image_bgr.copy(), faces), cv2.COLOR_BGR2RGB)
