"""What the Mood page tells the listener, decided without Streamlit: the camera's status line,
the mood panel (which mood the music follows, from where, and when a pick beats the camera),
what up next says when it has no rows, and how a history entry reads. The page draws these
(`app.ui.mood_page`); each decision here takes the session and the live camera's state.

A live snapshot (`app.listening.live.LiveSnapshot`) is passed only while the camera streams;
None means the camera is off, and then no camera reading is claimed as current (issue 30, 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from app.emotions import MoodPoint, target_for_strategy
from app.listening.live import LiveSnapshot
from app.listening.mood import MoodReading
from app.listening.service import steering
from app.listening.session import HistoryEntry, ListenerSession
from app.recommend import Recommendation, describe_listener

PRIVACY_TEXT = (
    "Camera frames are analysed in memory and never stored or sent anywhere else. "
    "Moodtune keeps only mood numbers (emotion probabilities, valence, arousal) and what you "
    "played, liked or skipped, under a random session id that is not linked to you. "
    "**Forget this session** deletes all of it."
)
FORGET_FAILED = "The database is unreachable; nothing was deleted. Try again."
STORE_FAILED = "Couldn't save that; the music goes on."
EMPTY_CATALOG = "The catalog is empty — curators can add music on the Curate page."
HEARD_EVERYTHING = (
    "You've heard everything for this mood — try another strategy or mood, or replay something from History."
)
QUEUE_WAITS = "Your queue fills as soon as Moodtune knows your mood: start the camera or pick one."
LIKE_FAILED = "Couldn't save this like; it's kept on this page only."
START_OR_PICK = "Start the camera or pick a mood to get music."
WAITING_FOR_CAMERA = "Waiting for the camera… (blocked? allow camera access in the browser's address bar)"
LOCKED_PICK = "The mood is locked: unlock it to use your pick."
LOCKED_SOURCE = "The mood is locked: unlock it to change where it comes from."
PICK_FIRST = "Pick a mood below (or take a snapshot) to choose it yourself."
NO_FACE_IN_PICTURE = "No face found in this picture. Face the camera in good light, or pick your mood."
CHART_LEGEND = "Dotted: the steps from your mood toward the goal ★; diamonds: where each track up next sits."

Tone = Literal["error", "warning", "info", "success", "caption"]


@dataclass(frozen=True)
class Notice:
    """One line for the listener, and how loudly it is said (the page's element for it)."""

    tone: Tone
    text: str


def forget_notice(failed: bool, forgot: int | None) -> Notice | None:
    """What "Forget this session" did: nothing (the database was unreachable), or how many
    stored events it deleted; None when it wasn't asked."""
    if failed:
        return Notice("error", FORGET_FAILED)
    if forgot is not None:
        return Notice("success", f"Forgotten: {forgot} stored events deleted. You are a new anonymous listener.")
    return None


def camera_status(snap: LiveSnapshot | None, mood: MoodReading | None) -> Notice | None:
    """What the camera is doing now, in one line; None while it is off or reads one face."""
    if snap is None:
        return None
    if snap.error:
        return Notice("error", snap.error)
    if snap.frames_seen == 0:
        return Notice("info", WAITING_FOR_CAMERA)
    if snap.mood is None:
        return Notice(
            "warning", "No face in view — look at the camera" + (", or pick a mood." if mood is None else ".")
        )
    if snap.faces > 1:
        return Notice("caption", f"{snap.faces} faces in view: the music follows the biggest face nearest the middle.")
    return None


def follows_line(session: ListenerSession, snap: LiveSnapshot | None) -> str | None:
    """Markdown: what the music follows and where that mood comes from; None without a mood."""
    mood = session.effective_mood()
    if mood is None:
        return None
    lock = " · :material/lock: locked" if session.is_locked else ""
    if mood.drives == "camera" and snap is None:
        # The camera is off: its last reading still steers the music, but nothing reads you now.
        return (
            f"**Music follows the camera's last reading** ({mood.label}){lock}. "
            "The camera is off: press **START** to read you again, or pick a mood."
        )
    who = describe_listener(mood.label, mood.point, mood.source)
    confidence = f", {mood.confidence:.0%} sure" if mood.confidence is not None else ""
    source = "you" if mood.drives == "manual" else "the camera"
    return f"**Music follows {source}**: {who}{confidence}{lock}"


def pick_wins_note(session: ListenerSession, snap: LiveSnapshot | None) -> str | None:
    """Said when the listener's own pick drives the music while the running camera reads a
    face: the camera's reading, and that the pick wins. None otherwise (a camera that is off or
    sees no face has no reading to beat)."""
    mood, camera = session.effective_mood(), session.camera_mood
    if mood is None or mood.drives != "manual" or camera is None or snap is None or snap.mood is None:
        return None
    return (
        f"{describe_listener(camera.label, camera.point, camera.source).capitalize()}, "
        "but your own pick wins. Choose **Camera** under *Music follows* to follow it."
    )


@dataclass(frozen=True)
class MoodPanel:
    """Everything the mood panel shows, in order: the camera's status, the mood (or "—"), what
    the music follows, the pick-wins note, and the chart's points (with mood only)."""

    status: Notice | None
    mood: str  # the metric's value: the mood's words, or "—" before there is one
    start_hint: str | None = None  # what to do when there is no mood and no camera to say it
    follows: str | None = None
    pick_wins: str | None = None
    point: MoodPoint | None = None  # the applied mood, the strategy's goal, and for lift/calm
    target: MoodPoint | None = None  # the steps toward it and the tracks up next on the way
    path: tuple[MoodPoint, ...] = ()
    queued: tuple[MoodPoint, ...] = ()
    legend: str | None = None


def mood_panel(session: ListenerSession, snap: LiveSnapshot | None) -> MoodPanel:
    """The mood panel for this session, with the live camera's state (None while it is off)."""
    mood = session.effective_mood()
    status = camera_status(snap, mood)
    if mood is None:
        # With the camera running, its own line says what to do.
        return MoodPanel(status, "—", start_hint=START_OR_PICK if snap is None else None)
    path, places = steering(session)
    shown = tuple(path) if session.strategy != "match" else ()  # match aims at the mood itself
    return MoodPanel(
        status,
        mood.describe(),
        follows=follows_line(session, snap),
        pick_wins=pick_wins_note(session, snap),
        point=mood.point,
        target=target_for_strategy(mood.point, session.strategy),
        path=shown,
        queued=tuple(place.track for place in places),
        legend=CHART_LEGEND if shown else None,
    )


def up_next_notice(session: ListenerSession, error: str | None, catalog_is_empty: Callable[[], bool]) -> Notice | None:
    """What up next says above its rows, or instead of them: that it waits for a mood, that
    recommendations failed (an "error" gets a Retry; a "caption" sits above what still plays),
    or why it is empty. ``catalog_is_empty`` is asked only for an empty queue; when it fails the
    catalog is taken to have music."""
    if session.effective_mood() is None:
        return Notice("info", QUEUE_WAITS)
    if error:
        return Notice("caption" if session.queue else "error", error)
    if session.queue:
        return None
    try:
        empty = catalog_is_empty()
    except Exception:
        empty = False
    return Notice("info", EMPTY_CATALOG if empty else HEARD_EVERYTHING)


def up_next_rows(session: ListenerSession) -> list[Recommendation]:
    """The rows up next lists: none until there is a mood to choose for."""
    return list(session.queue) if session.effective_mood() is not None else []


def recommendations_failed(exc: BaseException) -> str:
    """What up next says when recommendations couldn't be had (what is queued still plays)."""
    return f"Couldn't get recommendations ({type(exc).__name__}). Try again in a moment."


def clock(seconds: float | None) -> str:
    """m:ss, as the bar shows a position."""
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def history_words(entry: HistoryEntry) -> str:
    """How a history entry ended, in words."""
    if entry.outcome == "completed":
        return "played to the end"
    if entry.outcome == "skipped":
        return "removed from up next" if entry.position_s is None else f"skipped at {clock(entry.position_s)}"
    return f"played to {clock(entry.position_s)}"
