"""What the Mood page decides, without Streamlit, a camera or a database: the camera's status
line in each state, which mood the panel says the music follows (and when a pick beats the
camera), what up next says when it has no rows, the tab's actions (a pick whose callback never
ran, the lock, mood logging, a failed like, not for me, a snapshot or photo, forgetting) and
the words for a failed recommendation. The catalog calls are replaced where a test needs them
to answer or fail; the page's own tests (test_pages_mood.py) run the same code through
Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from app.catalog.summary import TrackSummary
from app.emotions import label_to_point
from app.listening import service, status
from app.listening.live import LiveSnapshot
from app.listening.mood import reading_from_label, reading_from_smoothed
from app.listening.session import HistoryEntry, ListenerSession
from app.listening.tab import ListeningTab, open_session
from app.recommend import Recommendation
from app.vision import Face
from app.vision.smoothing import SmoothedMood


def _face_mood(label: str = "happy", confidence: float = 0.92, faces: int = 1) -> SmoothedMood:
    probabilities = {label: confidence, "neutral": 1 - confidence}
    return SmoothedMood(label, probabilities, confidence, label_to_point(label), (10, 10, 50, 50), faces)


def _live(label: str | None = "happy", faces: int = 1, frames: int = 30, error: str | None = None) -> LiveSnapshot:
    """The camera running: `frames` analysed, the last with `faces` faces (None: no face in view)."""
    mood = _face_mood(label, faces=faces) if label else None
    return LiveSnapshot(frames, mood, 1.0 if frames else None, error, faces if label else 0)


def _camera_reads(session: ListenerSession, label: str) -> None:
    reading = reading_from_smoothed(_face_mood(label))
    assert reading is not None
    session.apply_camera_reading(reading)


def _rec(track_id: int) -> Recommendation:
    track = TrackSummary(
        track_id, f"T{track_id}", "A", None, "Q3", -0.5, -0.5, 30.0, f"aa/{track_id}.wav", "wav", "model:test", {}
    )
    return Recommendation(track=track, score=0.5, reason="because")


def _recommend(mood, strategy, exclude, n, *, variant_start=0):
    return [_rec(t) for t in range(1, 20) if t not in exclude][:n]


@pytest.fixture
def stored(monkeypatch) -> dict[str, list]:
    """The catalog calls a tab makes, recorded instead of stored."""
    calls: dict[str, list] = {"listening": [], "moods": []}
    monkeypatch.setattr(
        service, "log_listening", lambda sid, tid, action, *a, **k: calls["listening"].append((tid, action))
    )
    monkeypatch.setattr(service, "log_mood", lambda sid, mood: calls["moods"].append(mood.label))
    monkeypatch.setattr(service, "recommender_for", lambda session: _recommend)
    return calls


def _down(*_args, **_kwargs):
    raise ConnectionError("database unreachable")


# ----------------------------------------------------------------------------- status


def test_the_status_line_says_what_the_camera_is_doing_and_nothing_while_it_is_off():
    picked = reading_from_label("sad")
    assert status.camera_status(None, picked) is None  # off: no claim about the camera at all
    assert status.camera_status(_live(error="face analysis failed: boom"), None) == status.Notice(
        "error", "face analysis failed: boom"
    )
    assert status.camera_status(_live(frames=0, label=None), None) == status.Notice("info", status.WAITING_FOR_CAMERA)
    # No face: look at the camera, and pick a mood only when there is none to follow.
    assert status.camera_status(_live(label=None), None).text.endswith("look at the camera, or pick a mood.")
    no_face = status.camera_status(_live(label=None), picked)
    assert no_face.tone == "warning" and no_face.text.endswith("look at the camera.")
    two = status.camera_status(_live(faces=2), picked)
    assert two.tone == "caption" and "2 faces in view: the music follows the biggest face" in two.text
    assert status.camera_status(_live(), picked) is None  # one face: the panel itself says it


def test_a_pick_wins_over_a_camera_that_reads_a_face_and_the_panel_says_so():
    session = ListenerSession()
    _camera_reads(session, "happy")
    session.apply_manual_reading(reading_from_label("sad"))
    panel = status.mood_panel(session, _live("happy"))
    assert panel.mood == "sad"
    assert panel.follows == "**Music follows you**: you picked sad"
    assert panel.pick_wins is not None
    assert panel.pick_wins.startswith("The camera reads you as ") and "but your own pick wins" in panel.pick_wins
    # Nothing to beat: the camera is off, or sees no face.
    assert status.mood_panel(session, None).pick_wins is None
    assert status.mood_panel(session, _live(label=None)).pick_wins is None
    # Handed back to the camera: it is followed, and no pick claims to win.
    session.use_camera()
    assert status.pick_wins_note(session, _live("happy")) is None


def test_with_the_camera_off_its_last_reading_is_not_claimed_as_current():
    session = ListenerSession()
    _camera_reads(session, "happy")
    off = status.mood_panel(session, None)
    assert off.follows.startswith("**Music follows the camera's last reading** (happy)")
    assert "press **START**" in off.follows and "% sure" not in off.follows
    on = status.mood_panel(session, _live("happy"))
    assert on.follows.startswith("**Music follows the camera**: the camera reads you as") and "92% sure" in on.follows
    session.lock()
    assert status.follows_line(session, _live("happy")).endswith(":material/lock: locked")


def test_without_a_mood_the_panel_asks_for_one_unless_the_running_camera_says_what_to_do():
    session = ListenerSession()
    idle = status.mood_panel(session, None)
    assert (idle.mood, idle.start_hint, idle.follows, idle.point) == ("—", status.START_OR_PICK, None, None)
    running = status.mood_panel(session, _live(label=None))
    assert running.start_hint is None and running.status is not None and running.status.tone == "warning"


def test_lift_and_calm_draw_the_steps_toward_the_goal_and_match_draws_none():
    session = ListenerSession()
    session.apply_manual_reading(reading_from_label("sad"))
    session.refill(_recommend)
    match = status.mood_panel(session, None)
    assert match.path == () and match.legend is None and match.target == match.point
    session.set_strategy("lift")
    lift = status.mood_panel(session, None)
    assert len(lift.path) > 1 and lift.legend == status.CHART_LEGEND
    assert lift.target is not None and lift.target.valence > lift.point.valence


def test_up_next_says_why_it_has_no_rows_and_only_asks_the_catalog_when_empty():
    asked: list[bool] = []

    def catalog_is_empty(answer: bool):
        return lambda: asked.append(answer) or answer

    session = ListenerSession()
    assert status.up_next_notice(session, None, _down) == status.Notice("info", status.QUEUE_WAITS)
    session.apply_manual_reading(reading_from_label("sad"))
    assert status.up_next_rows(ListenerSession()) == []  # no mood: no rows, whatever is queued
    failed = "Couldn't get recommendations (ConnectionError). Try again in a moment."
    assert status.up_next_notice(session, failed, _down) == status.Notice("error", failed)  # with Retry
    assert status.up_next_notice(session, None, catalog_is_empty(True)).text == status.EMPTY_CATALOG
    assert status.up_next_notice(session, None, catalog_is_empty(False)).text == status.HEARD_EVERYTHING
    assert status.up_next_notice(session, None, _down).text == status.HEARD_EVERYTHING  # unknown: not "empty"
    session.refill(_recommend)
    assert status.up_next_notice(session, failed, _down) == status.Notice("caption", failed)  # what is queued plays
    assert status.up_next_notice(session, None, catalog_is_empty(True)) is None
    assert asked == [True, False]
    assert [item.track_id for item in status.up_next_rows(session)] == [item.track_id for item in session.queue]


def test_history_says_how_each_track_ended():
    def entry(outcome, position_s):
        return HistoryEntry(_rec(1).track, outcome, position_s, datetime.now(UTC))

    assert status.history_words(entry("completed", 200.0)) == "played to the end"
    assert status.history_words(entry("skipped", 75.4)) == "skipped at 1:15"
    assert status.history_words(entry("skipped", None)) == "removed from up next"
    assert status.history_words(entry("played", 3.0)) == "played to 0:03"


# ----------------------------------------------------------------------------- the tab's actions


def test_a_pick_whose_callback_never_ran_is_pending_until_it_is_applied(stored):
    tab = ListeningTab(ListenerSession())
    _camera_reads(tab.session, "happy")
    assert tab.pick_pending("sad") == "sad"  # the pills hold it, the callback never ran
    assert tab.pick_pending(None) is None and tab.pick_pending("elated") is None
    tab.pick(tab.pick_pending("sad"))
    assert tab.session.effective_mood().label == "sad" and tab.session.mood_source == "manual"
    assert tab.pick_pending("sad") is None  # applied once
    # The camera keeps reading happy: the pick still wins, and up next needn't change for it.
    assert tab.apply_live(_live("happy")) is False
    assert tab.session.effective_mood().label == "sad"
    # Handed back to the camera, the same pick applies again when made again.
    assert tab.follow("camera") is True and tab.session.effective_mood().label == "happy"
    assert tab.pick_pending("sad") == "sad"
    tab.pick_changed(None)
    assert tab.applied_pick is None


def test_a_locked_mood_refuses_a_pick_and_a_switch_and_says_why(stored):
    tab = ListeningTab(ListenerSession())
    tab.pick("sad")
    tab.set_lock(True)
    tab.pick("happy")
    assert tab.session.effective_mood().label == "sad"
    assert tab.take_source_hint() == "The mood is locked: unlock it to use your pick."
    assert tab.take_source_hint() is None  # said once
    assert tab.follow("camera") is False and tab.take_source_hint().startswith("The mood is locked")
    tab.set_lock(False)
    assert tab.session.effective_mood().label == "happy"
    assert stored["moods"] == ["sad", "happy"]  # only applied moods are logged


def test_following_me_before_any_pick_is_refused_with_a_hint(stored):
    tab = ListeningTab(ListenerSession())
    assert tab.follow("manual") is False and tab.session.mood_source == "camera"
    assert tab.take_source_hint() == "Pick a mood below (or take a snapshot) to choose it yourself."


def test_a_steady_camera_mood_is_logged_on_change_and_then_at_most_every_interval(stored):
    now = [0.0]
    tab = ListeningTab(ListenerSession(), clock=lambda: now[0])
    for second in range(10):
        now[0] = float(second)
        tab.apply_live(_live("happy"))
    assert stored["moods"] == ["happy"]
    now[0] = tab.throttle.interval_s + 1
    tab.apply_live(_live("happy"))
    assert stored["moods"] == ["happy", "happy"]


def test_a_failed_like_keeps_the_like_and_is_said_beside_its_track_once(stored, monkeypatch):
    tab = ListeningTab(ListenerSession())
    tab.pick("sad")
    assert tab.refresh_queue() is None
    monkeypatch.setattr(service, "log_listening", _down)
    monkeypatch.setattr(service, "save_session", lambda session, last: "saved")
    track_id = tab.session.queue[0].track_id
    tab.like(track_id)
    assert track_id in tab.session.liked and tab.like_failed == track_id
    assert tab.end_run() is True  # a toast says it once
    assert (tab.like_failed, tab.store_failed, tab.saved_state) == (None, False, "saved")
    assert tab.end_run() is False


def test_not_for_me_moves_on_storing_a_verdict_and_a_skip(stored):
    tab = ListeningTab(ListenerSession())
    tab.pick("sad")
    tab.refresh_queue()
    doomed = tab.session.now_playing.track_id
    tab.not_for_me(doomed + 100)  # not the playing track: nothing happens
    assert tab.session.now_playing.track_id == doomed and stored["listening"] == []
    tab.not_for_me(doomed)
    assert tab.session.now_playing.track_id != doomed
    assert stored["listening"] == [(doomed, "disliked"), (doomed, "skipped")]


def test_recommendations_that_fail_say_so_in_words_and_none_are_asked_before_a_mood(stored, monkeypatch):
    tab = ListeningTab(ListenerSession())
    monkeypatch.setattr(service, "recommender_for", lambda session: _down)
    assert tab.refresh_queue() is None  # no mood yet: nothing to ask
    tab.pick("sad")
    assert tab.refresh_queue() == "Couldn't get recommendations (ConnectionError). Try again in a moment."
    assert tab.session.now_playing is None


def _png(height: int = 60, width: int = 80) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), 120, np.uint8))
    assert ok
    return data.tobytes()


class _Analyzer:
    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces

    def analyze(self, image):
        return self.faces


def test_a_photo_adopts_the_biggest_face_and_anything_else_changes_nothing_and_says_why(stored):
    tab = ListeningTab(ListenerSession())
    refused = tab.read_picture(b"not an image", "photo", lambda: _Analyzer([]))
    assert refused.notice.tone == "error" and "JPEG or PNG" in refused.notice.text
    unavailable = tab.read_picture(_png(), "photo", _down)
    assert unavailable.notice.text == "Face analysis is unavailable: ConnectionError. Pick your mood instead."
    nobody = tab.read_picture(_png(), "photo", lambda: _Analyzer([]))
    assert nobody.notice.tone == "warning" and "No face found" in nobody.notice.text
    assert tab.session.effective_mood() is None
    small = Face((0, 0, 10, 10), "happy", {"happy": 0.9, "sad": 0.1})
    big = Face((20, 10, 40, 40), "sad", {"happy": 0.2, "sad": 0.8})
    seen = tab.read_picture(_png(), "photo", lambda: _Analyzer([small, big]))
    assert seen.notice is None and seen.overlay_rgb is not None and seen.overlay_rgb.shape == (60, 80, 3)
    mood = tab.session.effective_mood()
    assert (mood.label, mood.source, tab.session.mood_source) == ("sad", "photo", "manual")


def test_a_picture_is_read_once_however_many_runs_show_it():
    tab = ListeningTab(ListenerSession())
    assert tab.is_new_picture(("photo", "file-1", 100)) is True
    assert tab.is_new_picture(("photo", "file-1", 100)) is False
    assert tab.is_new_picture(("snapshot", "file-2", 100)) is True


def test_forgetting_starts_a_new_anonymous_listener_and_a_failure_changes_nothing(stored, monkeypatch):
    tab = ListeningTab(ListenerSession(strategy="calm"))
    tab.pick("sad")
    tab.is_new_picture(("photo", "f", 1))
    old_id, nonce = tab.session.session_id, tab.still_nonce
    monkeypatch.setattr(service, "forget_session", _down)
    assert tab.forget() is False and tab.session.session_id == old_id
    assert tab.take_forget_notice() == status.Notice("error", status.FORGET_FAILED)
    monkeypatch.setattr(service, "forget_session", lambda session_id: 7)
    assert tab.forget() is True
    assert tab.session.session_id != old_id and tab.session.effective_mood() is None
    assert tab.session.strategy == "calm"  # a preference, not personal data
    assert (tab.applied_pick, tab.last_picture, tab.still_nonce) == (None, None, nonce + 1)
    notice = tab.take_forget_notice()
    assert notice.tone == "success" and notice.text.startswith("Forgotten: 7 stored events deleted.")
    assert tab.take_forget_notice() is None


def test_a_signed_in_listener_who_forgets_starts_over_under_their_account(stored, monkeypatch):
    account = "acct" * 8
    tab = ListeningTab(ListenerSession(session_id=account))
    tab.pick("sad")
    deleted: list[str] = []
    monkeypatch.setattr(service, "forget_session", lambda session_id: deleted.append(session_id) or 3)
    assert tab.forget(signed_in=True) is True
    assert deleted == [account]  # everything stored under the account went
    # Emptied, but still the account's: what they do next follows them to their other devices.
    assert tab.session.session_id == account and tab.session.effective_mood() is None


def test_a_session_is_resumed_from_the_account_before_the_url_and_a_broken_one_starts_fresh(monkeypatch):
    asked: list[str | None] = []
    monkeypatch.setattr(service, "resume_session", lambda sid: asked.append(sid) or ListenerSession())
    assert open_session("acct" * 8, "url" * 10).session_id == "acct" * 8  # the account's, on every device
    assert asked == ["acct" * 8]
    monkeypatch.setattr(service, "resume_session", _down)
    assert len(open_session(None, "a" * 32).session_id) == 32  # unreadable: a new anonymous one
