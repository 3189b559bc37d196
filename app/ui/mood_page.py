"""The listener's Mood page: one now-playing bar on top, up next / history / liked under it, and
the mood (camera or the listener's own pick) beside or, on a phone, below. A thin view over
`app.listening.service`; the session's rules live in `app.listening.session`.

Each run: resume the session named in the URL (``?s=<anonymous id>``) if this browser session
has none yet, take the bar's new reports (also taken in the bar's callback, before the rerun
they cause), read the camera, refill up next, render, save the snapshot if it changed.

Threads: the webrtc frame callback runs in its own thread and only writes into the MoodHolder;
the live-mood fragment reads it every second in the script thread and reruns the whole page only
when the mood the music follows changed enough to rebuild up next (the bar survives a rerun).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import streamlit as st

from app.emotions import FACE_LABELS, QUADRANT_COLOURS, QUADRANT_NAMES, STRATEGIES, STRATEGY_NAMES, target_for_strategy
from app.escaping import markdown_literal
from app.listening import playback, service
from app.listening.live import LiveSnapshot, MoodHolder, live_frame_processor
from app.listening.mood import (
    MAX_PICTURE_MB,
    MoodLogThrottle,
    MoodReading,
    NotAnImage,
    decode_image,
    reading_from_faces,
    reading_from_label,
    reading_from_point,
    reading_from_smoothed,
)
from app.listening.session import HistoryEntry, ListenerSession
from app.recommend import Recommendation, describe_listener
from app.ui import sign_in
from app.ui import state_keys as keys
from app.ui.mood_gauge import mood_gauge_figure, mood_pad_figure
from app.ui.now_playing import now_playing_bar, reports_of

LIVE_REFRESH_S = 1.0
SESSION_PARAM = "s"  # the URL's query parameter holding the anonymous session id
BAR_KEY = "now_playing"
HISTORY_SHOWN = 30
# Material icons rather than emoji, which need a colour-emoji font a listener's machine may lack.
EMOTION_ICONS = {
    "angry": ":material/sentiment_extremely_dissatisfied:",
    "disgust": ":material/sick:",
    "fear": ":material/sentiment_worried:",
    "happy": ":material/sentiment_very_satisfied:",
    "neutral": ":material/sentiment_neutral:",
    "sad": ":material/sentiment_sad:",
    "surprise": ":material/sentiment_excited:",
}
SOURCE_NAMES = {"camera": ":material/videocam: Camera", "manual": ":material/person: Me"}
# A track's mood chip: Streamlit's badge colour closest to the bar's and the charts' quadrant
# colour, and an icon from Streamlit's bundled Material font (no emoji font needed).
MOOD_BADGES = {
    "Q1": ("orange", ":material/wb_sunny:"),
    "Q2": ("red", ":material/bolt:"),
    "Q3": ("blue", ":material/rainy:"),
    "Q4": ("green", ":material/spa:"),
}
PRIVACY_TEXT = (
    "Camera frames are analysed in memory and never stored or sent anywhere else. "
    "Moodtune keeps only mood numbers (emotion probabilities, valence, arousal) and what you "
    "played, liked or skipped, under a random session id that is not linked to you. "
    "**Forget this session** deletes all of it."
)
EMPTY_CATALOG = "The catalog is empty — curators can add music on the Curate page."
HEARD_EVERYTHING = (
    "You've heard everything for this mood — try another strategy or mood, or replay something from History."
)
LIKE_FAILED = "Couldn't save this like; it's kept on this page only."
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- session objects


def listener() -> ListenerSession:
    """This browser session's listener: resumed on the first run from the signed-in account's id
    or else the URL's, else new."""
    obj = st.session_state.get(keys.LISTENER)
    if not isinstance(obj, ListenerSession):
        account_id = sign_in.listener_session_id()  # a signed-in listener's, the same on every device
        try:
            obj = service.resume_session(account_id or st.query_params.get(SESSION_PARAM))
        except Exception:  # a snapshot that can't be read must not keep the page from working
            obj = ListenerSession()
        if account_id is not None and obj.session_id != account_id:
            obj = ListenerSession(session_id=account_id)
        st.session_state[keys.LISTENER] = obj
        st.session_state[keys.SAVED_STATE] = None
    return obj


def _player_log() -> playback.PlayerLog:
    obj = st.session_state.get(keys.PLAYER_LOG)
    if not isinstance(obj, playback.PlayerLog):
        obj = st.session_state[keys.PLAYER_LOG] = playback.PlayerLog()
    return obj


def _holder() -> MoodHolder:
    obj = st.session_state.get(keys.LIVE_HOLDER)
    if not isinstance(obj, MoodHolder):
        obj = st.session_state[keys.LIVE_HOLDER] = MoodHolder()
    return obj


def _throttle() -> MoodLogThrottle:
    obj = st.session_state.get(keys.MOOD_THROTTLE)
    if not isinstance(obj, MoodLogThrottle):
        obj = st.session_state[keys.MOOD_THROTTLE] = MoodLogThrottle()
    return obj


def face_analyzer() -> Any:
    """The process's one analyzer (FaceAnalyzer.load is load-once and thread-safe)."""
    from app.vision import FaceAnalyzer

    with st.spinner("Loading the face model…"):
        return FaceAnalyzer.load()


# ----------------------------------------------------------------------------- the bar's reports


def _take_reports() -> None:
    """Store and follow the bar's new reports. Runs as the bar's callback (before the rerun a
    report causes) and at the top of every run (reports a stopped run left behind).
    Everything read from session state is read before `take` (see PlayerLog)."""
    raw, session, player_log = reports_of(BAR_KEY), listener(), _player_log()
    failed: list[Exception] = []

    def store(events: list[playback.PlayerEvent]) -> None:
        try:
            service.log_player_writes(
                session.session_id, playback.writes_for(events), session.strategy, session.effective_mood()
            )
        except Exception as exc:  # logging must never take the music away
            failed.append(exc)
        playback.follow_player(session, events)

    player_log.take(raw, known_ids=session.known_track_ids(), store=store)
    if failed:
        log.warning("storing the player's reports failed", exc_info=failed[0])
        st.session_state[keys.STORE_ERROR] = True


# ----------------------------------------------------------------------------- actions


def _log_applied_mood(session: ListenerSession) -> None:
    """Log the mood the music now follows (call only when the domain said one was applied)."""
    mood = session.effective_mood()
    if mood is None or not _throttle().should_log(mood, time.monotonic()):
        return
    try:
        service.log_mood(session.session_id, mood)
    except Exception:
        log.warning("storing a mood reading failed", exc_info=True)
        st.session_state[keys.STORE_ERROR] = True


def _log(track_id: int, action: str, position_s: float | None = None) -> bool:
    """Store one listening event; False (logged on the server, and a toast) when it couldn't."""
    session = listener()
    try:
        service.log_listening(
            session.session_id, track_id, action, session.strategy, session.effective_mood(), position_s=position_s
        )
    except Exception:
        log.warning("storing a %r event for track %d failed", action, track_id, exc_info=True)
        st.session_state[keys.STORE_ERROR] = True
        return False
    return True


def _adopt_manual(reading: MoodReading) -> None:
    session = listener()
    if session.apply_manual_reading(reading):
        _log_applied_mood(session)
    elif session.is_locked:
        st.session_state[keys.SOURCE_HINT] = "The mood is locked: unlock it to use your pick."


def _leave_current(change) -> None:
    """Run a page action that replaces the playing track (play now, replay) and log the track it
    replaced as skipped where the bar last said it was."""
    session = listener()
    before, position = session.now_playing, session.position_s
    item = change(session)
    if before is not None and item is not None and item.track_id != before.track_id:
        _log(before.track_id, "skipped", position)


def _on_like(track_id: int) -> None:
    st.session_state.pop(keys.LIKE_ERROR, None)
    if listener().like(track_id) and not _log(track_id, "liked"):
        st.session_state[keys.LIKE_ERROR] = track_id  # said beside its button, not only in a toast


def _on_not_for_me(track_id: int) -> None:
    """ "Not for me": a verdict on the playing track (stored as such, stronger than a skip for
    the recommender), and the music moves on to the next track."""
    session = listener()
    if session.now_playing is None or session.now_playing.track_id != track_id:
        return
    _log(track_id, "disliked")
    _leave_current(lambda s: s.play_next(outcome="skipped"))


def _on_remove(track_id: int) -> None:
    if listener().remove(track_id) is not None:
        _log(track_id, "skipped")


def _on_play_now(track_id: int) -> None:
    _leave_current(lambda session: session.advance_to(track_id, outcome="skipped"))


def _on_replay(track_id: int) -> None:
    _leave_current(lambda session: session.replay(track_id))


def _on_pad_label() -> None:
    label = st.session_state.get("mood_pad_label")
    if label in FACE_LABELS:
        _apply_pick(label)
    else:
        st.session_state[keys.APPLIED_PICK] = None


def _apply_pick(label: str) -> None:
    _adopt_manual(reading_from_label(label))
    st.session_state[keys.APPLIED_PICK] = label  # after: a run stopped before it leaves it pending


def _pick_pending() -> str | None:
    """A picked emotion whose callback never ran. Streamlit stops a run at any session-state
    access, its widget callbacks included: with the camera on, the fragment's rerun every
    second can stop a run after the bar's callback and before the pick's, and the widget, its
    value already stored, never calls back (issue 30, 3: a pick ignored with the camera on)."""
    label = st.session_state.get("mood_pad_label")
    return label if label in FACE_LABELS and label != st.session_state.get(keys.APPLIED_PICK) else None


def _on_pad_point() -> None:
    _adopt_manual(reading_from_point(st.session_state["mood_pad_valence"], st.session_state["mood_pad_arousal"]))


def _on_pad_click() -> None:
    event = st.session_state.get("mood_pad_click")
    points = getattr(getattr(event, "selection", None), "points", None) or (
        event.get("selection", {}).get("points", []) if isinstance(event, dict) else []
    )
    if points:
        point = points[-1]
        _adopt_manual(reading_from_point(float(point["x"]), float(point["y"])))


def source_key(source: str) -> str:
    """The "Music follows" switch's key, which names the source the session had when it was
    drawn. A rerun request already on its way carries the switch's old value under the old
    key, and so can't read as the listener switching back (it undid a pick made with the
    camera on: issue 30, 3)."""
    return f"mood_source_{source}"


def _on_source(key: str) -> None:
    session, choice = listener(), st.session_state.get(key)
    if session.is_locked:
        st.session_state[keys.SOURCE_HINT] = "The mood is locked: unlock it to change where it comes from."
        return
    if choice == "camera":
        applied = session.use_camera()
        st.session_state["mood_pad_label"] = None  # so picking the same mood again applies it
        st.session_state[keys.APPLIED_PICK] = None
    elif choice == "manual":
        if session.manual_mood is None:
            st.session_state[keys.SOURCE_HINT] = "Pick a mood below (or take a snapshot) to choose it yourself."
            return
        applied = session.use_manual()
    else:
        return
    if applied:
        _log_applied_mood(session)


def _on_strategy() -> None:
    choice = st.session_state.get("strategy")
    if choice in STRATEGIES:
        listener().set_strategy(choice)


def _on_lock() -> None:
    session = listener()
    if st.session_state.get("lock_mood"):
        session.lock()
    elif session.unlock():
        _log_applied_mood(session)


def _on_forget() -> None:
    session = listener()
    try:
        removed = service.forget_session(session.session_id)
    except Exception:
        st.session_state[keys.FORGET_ERROR] = True
        return
    session.forget()  # a new anonymous id; the strategy stays (a preference, not personal data)
    _holder().clear()
    st.session_state[keys.MOOD_THROTTLE] = MoodLogThrottle()
    st.session_state[keys.SAVED_STATE] = None
    # New keys for the snapshot and photo widgets: the old ones, and the picture bytes they
    # hold, are dropped at the end of this run.
    st.session_state[keys.STILL_NONCE] = st.session_state.get(keys.STILL_NONCE, 0) + 1
    st.session_state.pop(keys.LAST_IMAGE, None)
    st.session_state["mood_pad_label"] = None
    st.session_state[keys.APPLIED_PICK] = None
    st.session_state[keys.FORGOT] = removed


# ----------------------------------------------------------------------------- mood inputs


def _live_callback():
    """The frame callback for this browser session, built once so its smoother keeps state."""
    cb = st.session_state.get(keys.LIVE_CALLBACK)
    if cb is None:
        from app.ui.live import make_video_frame_callback

        cb = st.session_state[keys.LIVE_CALLBACK] = make_video_frame_callback(live_frame_processor(_holder()))
    return cb


def _render_live_camera() -> bool:
    """The webrtc widget. Returns True while the stream is playing."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from app.config import get_settings
    from app.ui.live import resolve_ice_servers, rtc_configuration

    ctx = webrtc_streamer(
        key="moodtune-live",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc_configuration(resolve_ice_servers(get_settings().ice_servers)),
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=_live_callback(),
        async_processing=True,
    )
    playing = bool(ctx.state.playing)
    if not playing:
        _holder().clear()
        st.caption(
            "Press **START** and allow the camera. If the browser blocks the camera or the "
            "connection doesn't come up, use *Snapshot*, *Photo* or *Pick* instead."
        )
    return playing


def _reading_from_image(data: bytes, source: str) -> None:
    """Analyse one still image (snapshot or upload) and adopt the biggest face's mood."""
    import cv2

    try:
        image = decode_image(data)
    except NotAnImage as exc:  # not a JPEG/PNG, or over the size limits: the message says which
        st.error(str(exc))
        return
    try:
        faces = face_analyzer().analyze(image)
    except Exception as exc:
        st.error(f"Face analysis is unavailable: {type(exc).__name__}. Pick your mood instead.")
        return
    reading = reading_from_faces(faces, source)
    if reading is None:
        st.warning("No face found in this picture. Face the camera in good light, or pick your mood.")
        return
    from app.vision import draw_overlay

    _adopt_manual(reading)
    st.image(cv2.cvtColor(draw_overlay(image.copy(), faces), cv2.COLOR_BGR2RGB), width=320, caption="What Moodtune saw")


def _render_still_input(widget: Any, source: str) -> None:
    if widget is None:
        return
    # Only a new picture changes the mood; reruns with the same picture must not undo a
    # later pick.
    ident = (source, getattr(widget, "file_id", None) or widget.name, widget.size)
    if st.session_state.get(keys.LAST_IMAGE) == ident:
        return
    st.session_state[keys.LAST_IMAGE] = ident
    _reading_from_image(widget.getvalue(), source)


def _render_mood_pad(session: ListenerSession) -> None:
    st.pills(
        "How do you feel?",
        FACE_LABELS,
        format_func=lambda label: f"{EMOTION_ICONS[label]} {label}",
        key="mood_pad_label",
        on_change=_on_pad_label,
    )
    with st.expander("…or pick a point on the circle"):
        mood = session.effective_mood()
        st.plotly_chart(
            mood_pad_figure(mood.point if mood else None),
            key="mood_pad_click",
            on_select=_on_pad_click,
            selection_mode="points",
            config={"displayModeBar": False},
        )
        st.caption("Click the circle, or set the point with the sliders:")
        st.slider("Valence: unpleasant → pleasant", -1.0, 1.0, 0.0, 0.05, key="mood_pad_valence")
        st.slider("Arousal: calm → excited", -1.0, 1.0, 0.0, 0.05, key="mood_pad_arousal")
        st.button("Use this point", key="mood_pad_use_point", on_click=_on_pad_point)


def _render_mood_inputs(session: ListenerSession, live_camera: bool) -> bool:
    """Camera, snapshot, photo and the pick; True while the live camera streams."""
    playing = False
    nonce = st.session_state.get(keys.STILL_NONCE, 0)
    live_tab, snap_tab, photo_tab, pad_tab = st.tabs(
        [
            ":material/videocam: Camera",
            ":material/photo_camera: Snapshot",
            ":material/image: Photo",
            ":material/tune: Pick",
        ]
    )
    with live_tab:
        if live_camera:
            try:
                playing = _render_live_camera()
            except Exception as exc:  # the page must work without WebRTC (tests, old browsers)
                st.warning(f"The live camera is unavailable here ({type(exc).__name__}). Use Snapshot, Photo or Pick.")
    with snap_tab:
        _render_still_input(st.camera_input("Take a snapshot", key=f"snapshot_{nonce}"), "snapshot")
    with photo_tab:
        _render_still_input(
            st.file_uploader(
                "Upload a photo of your face",
                type=["jpg", "jpeg", "png"],
                key=f"photo_{nonce}",
                max_upload_size=MAX_PICTURE_MB,
            ),
            "photo",
        )
    with pad_tab:
        _render_mood_pad(session)
    return playing


# ----------------------------------------------------------------------------- mood panel


def _camera_status(snap: LiveSnapshot | None, mood: MoodReading | None) -> None:
    """One line on what the camera is doing now; nothing when it is off."""
    if snap is None:
        return
    if snap.error:
        st.error(snap.error)
    elif snap.frames_seen == 0:
        st.info("Waiting for the camera… (blocked? allow camera access in the browser's address bar)")
    elif snap.mood is None:
        st.warning("No face in view — look at the camera" + (", or pick a mood." if mood is None else "."))
    elif snap.faces > 1:
        st.caption(f"{snap.faces} faces in view: the music follows the biggest face nearest the middle.")


def _render_mood_panel(session: ListenerSession, snap: LiveSnapshot | None) -> None:
    """The mood the music follows, and where it comes from. `snap` is the live camera's state
    while it runs, None while it is off: then no camera reading is claimed as current."""
    mood = session.effective_mood()
    _camera_status(snap, mood)
    if mood is None:
        st.metric("Your mood", "—")
        if snap is None:  # with the camera running, its own line above says what to do
            st.caption("Start the camera or pick a mood to get music.")
        return
    st.metric("Your mood", mood.describe(), help="What the music follows right now.")
    lock = " · :material/lock: locked" if session.is_locked else ""
    if mood.drives == "camera" and snap is None:
        # The camera is off: its last reading still steers the music, but nothing reads you now.
        st.markdown(
            f"**Music follows the camera's last reading** ({mood.label}){lock}. "
            "The camera is off: press **START** to read you again, or pick a mood."
        )
    else:
        who = describe_listener(mood.label, mood.point, mood.source)
        confidence = f", {mood.confidence:.0%} sure" if mood.confidence is not None else ""
        source = "you" if mood.drives == "manual" else "the camera"
        st.markdown(f"**Music follows {source}**: {who}{confidence}{lock}")
    camera = session.camera_mood
    if mood.drives == "manual" and camera is not None and snap is not None and snap.mood is not None:
        st.caption(
            f"{describe_listener(camera.label, camera.point, camera.source).capitalize()}, "
            "but your own pick wins. Choose **Camera** under *Music follows* to follow it."
        )
    target = target_for_strategy(mood.point, session.strategy)
    path, places = service.steering(session)
    st.plotly_chart(
        mood_gauge_figure(
            mood.point,
            mood.describe(),
            target,
            path=path if session.strategy != "match" else (),
            queued=[place.track for place in places],
        ),
        config={"displayModeBar": False},
    )
    if session.strategy != "match" and path:
        st.caption("Dotted: the steps from your mood toward the goal ★; diamonds: where each track up next sits.")


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_mood_fragment() -> None:
    """Refreshes only the mood panel every second while the camera runs; reruns the whole page
    (to rebuild up next) only when the applied mood's basis changed."""
    if _pick_pending():
        st.rerun(scope="app")  # the full run applies it (and rebuilds up next for it)
    session = listener()
    snap = _holder().snapshot()
    reading = reading_from_smoothed(snap.mood)
    if reading is not None and session.apply_camera_reading(reading):
        _log_applied_mood(session)
        if session.basis_changed():
            st.rerun(scope="app")
    _render_mood_panel(session, snap)


# ----------------------------------------------------------------------------- up next


def _refresh_queue(session: ListenerSession) -> str | None:
    """Up next for the applied mood and strategy, and a first track when nothing plays yet;
    returns an error message or None."""
    try:
        # Learns from this session's likes and skips, and steers lift/calm step by step.
        recommend = service.recommender_for(session)
        session.refill(recommend)
        if session.now_playing is None and session.queue:
            session.play_next()
            session.refill(recommend)
    except Exception as exc:
        return f"Couldn't get recommendations ({type(exc).__name__}). Try again in a moment."
    return None


def _track_text(title: str, artist: str, quadrant: str) -> str:
    colour, icon = MOOD_BADGES.get(quadrant, ("gray", ":material/music_note:"))
    words = markdown_literal(QUADRANT_NAMES.get(quadrant, quadrant))
    return f"**{markdown_literal(title)}** · {markdown_literal(artist)} :{colour}-badge[{icon} {words}]"


def _render_now_playing(session: ListenerSession) -> None:
    """The bar: the page's one audio element."""
    current = session.now_playing
    now_playing_bar(
        current.track if current else None,
        [item.track for item in session.queue],
        key=BAR_KEY,
        colours=QUADRANT_COLOURS,
        autoplay=True,
        start_at_s=session.position_s,
        on_report=_take_reports,
    )


def _render_playing_line(session: ListenerSession) -> None:
    """Why this track plays, with its Like and Not for me: atop up next's column, so on a phone
    the camera's control stays on the first screen under the bar (issue 30, 7)."""
    current = session.now_playing
    if current is None:
        return
    # Wraps: in a narrow column the reason takes the row and the buttons go under it.
    with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=True, key="playing_line"):
        st.caption(f"Playing because {current.reason}", width="stretch")
        liked = current.track_id in session.liked
        st.button(
            "Liked" if liked else "Like",
            icon=":material/heart_check:" if liked else ":material/favorite_border:",
            key="like_playing",
            on_click=_on_like,
            args=(current.track_id,),
            disabled=liked,
            help="Like the track that is playing",
        )
        st.button(
            "Not for me",
            icon=":material/thumb_down:",
            key="not_for_me",
            on_click=_on_not_for_me,
            args=(current.track_id,),
            help="Not my kind of music: play the next track, and suggest fewer like this one",
        )
    if st.session_state.get(keys.LIKE_ERROR) == current.track_id:
        st.caption(f":red[{LIKE_FAILED}]", width="stretch")


def _row(item: Recommendation, session: ListenerSession) -> None:
    track_id, liked = item.track_id, item.track_id in session.liked
    with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False, key=f"row_{track_id}"):
        with st.container(gap=None, width="stretch"):
            st.markdown(_track_text(item.title, item.artist, item.quadrant))
            st.caption(item.reason)
            if st.session_state.get(keys.LIKE_ERROR) == track_id:
                st.caption(f":red[{LIKE_FAILED}]")
        # Icon buttons (Streamlit's bundled Material font): three fit beside the text on a phone.
        st.button(
            "",
            icon=":material/play_arrow:",
            key=f"upnext_play_{track_id}",
            on_click=_on_play_now,
            args=(track_id,),
            help="Play now",
            type="tertiary",
        )
        st.button(
            "",
            icon=":material/heart_check:" if liked else ":material/favorite_border:",
            key=f"upnext_like_{track_id}",
            on_click=_on_like,
            args=(track_id,),
            disabled=liked,
            help="Liked" if liked else "Like",
            type="tertiary",
        )
        st.button(
            "",
            icon=":material/close:",
            key=f"upnext_remove_{track_id}",
            on_click=_on_remove,
            args=(track_id,),
            help="Remove from up next",
            type="tertiary",
        )


def _render_up_next(session: ListenerSession, error: str | None) -> None:
    if session.effective_mood() is None:
        st.info("Your queue fills as soon as Moodtune knows your mood: start the camera or pick one.")
        return
    if error and not session.queue:
        st.error(error)
        st.button("Retry", key="retry_recommend")
        return
    if error:  # what is already queued still plays (e.g. through a database outage)
        st.caption(error)
    if not session.queue:
        try:
            empty = service.catalog_is_empty()
        except Exception:
            empty = False
        st.info(EMPTY_CATALOG if empty else HEARD_EVERYTHING)
        return
    for item in session.queue:
        _row(item, session)


def _clock(seconds: float | None) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _history_words(entry: HistoryEntry) -> str:
    if entry.outcome == "completed":
        return "played to the end"
    if entry.outcome == "skipped":
        return "removed from up next" if entry.position_s is None else f"skipped at {_clock(entry.position_s)}"
    return f"played to {_clock(entry.position_s)}"


def _render_history(session: ListenerSession) -> None:
    if not session.history:
        st.caption("Nothing heard yet in this session.")
        return
    for entry in list(reversed(session.history))[:HISTORY_SHOWN]:
        track = entry.track
        stamp = int(entry.at.timestamp() * 1000)
        with st.container(
            horizontal=True, vertical_alignment="center", gap="small", wrap=False, key=f"hist_{track.track_id}_{stamp}"
        ):
            with st.container(gap=None, width="stretch"):
                st.markdown(_track_text(track.title, track.artist, track.quadrant))
                st.caption(_history_words(entry))
            st.button(
                "Replay",
                icon=":material/replay:",
                key=f"replay_{track.track_id}_{stamp}",
                on_click=_on_replay,
                args=(track.track_id,),
                help="Play it again now",
            )


def _render_liked(session: ListenerSession) -> None:
    liked = session.liked_tracks()
    if not liked:
        st.caption("Tracks you like in this session show up here.")
        return
    heard = {entry.track_id for entry in session.history}
    playing = session.now_playing.track_id if session.now_playing else None
    for track in liked:
        with st.container(
            horizontal=True, vertical_alignment="center", gap="small", wrap=False, key=f"liked_{track.track_id}"
        ):
            st.markdown(_track_text(track.title, track.artist, track.quadrant), width="stretch")
            if track.track_id == playing:
                st.caption("playing now")
            elif track.track_id in heard:
                st.button(
                    "Replay",
                    icon=":material/replay:",
                    key=f"liked_replay_{track.track_id}",
                    on_click=_on_replay,
                    args=(track.track_id,),
                )
            else:
                st.caption("up next")


# ----------------------------------------------------------------------------- page


def render_privacy_sidebar() -> None:
    with st.sidebar:
        st.subheader("Privacy")
        st.markdown(PRIVACY_TEXT)
        st.button("Forget this session", key="forget_session", icon=":material/delete:", on_click=_on_forget)
        if st.session_state.pop(keys.FORGET_ERROR, False):
            st.error("The database is unreachable; nothing was deleted. Try again.")
        removed = st.session_state.pop(keys.FORGOT, None)
        if removed is not None:
            st.success(f"Forgotten: {removed} stored events deleted. You are a new anonymous listener.")


def _render_controls(session: ListenerSession) -> None:
    """Where the mood comes from, the lock and the strategy, in one wrapping row."""
    # The widgets show the session, which callbacks, a resume or the domain may have changed.
    source = source_key(session.mood_source)
    st.session_state[source] = session.mood_source
    st.session_state["lock_mood"] = session.is_locked
    st.session_state["strategy"] = session.strategy
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="mood_controls"):
        st.segmented_control(
            "Music follows",  # (the strategy gets a row of its own: on a phone it is a row wide)
            ("camera", "manual"),
            format_func=SOURCE_NAMES.get,
            key=source,
            on_change=_on_source,
            args=(source,),
            required=True,
        )
        st.toggle(
            "Lock",  # plain: a label's markup would be read out as its accessible name
            key="lock_mood",
            on_change=_on_lock,
            help="Keep the music on this mood, whatever the camera or a pick says.",
            disabled=session.effective_mood() is None,
        )
    with st.container(key="strategy_row"):
        st.segmented_control(
            "Music should…",
            STRATEGIES,
            format_func=STRATEGY_NAMES.get,
            key="strategy",
            on_change=_on_strategy,
            required=True,
            label_visibility="collapsed",  # "match my mood | lift my mood | calm me down" says it
        )
    hint = st.session_state.pop(keys.SOURCE_HINT, None)
    if hint:
        st.caption(hint)


def _save(session: ListenerSession) -> None:
    """Store the snapshot when it changed (and there is something to resume)."""
    if session.effective_mood() is None and session.now_playing is None and not session.history:
        return
    try:
        st.session_state[keys.SAVED_STATE] = service.save_session(session, st.session_state.get(keys.SAVED_STATE))
    except Exception:
        log.warning("saving the listener session's snapshot failed", exc_info=True)
        st.session_state[keys.STORE_ERROR] = True


def _store_responses(session: ListenerSession) -> None:
    """Store the mood responses of tracks the listener moved on from (before up next is
    refilled, so the next picks learn from them)."""
    try:
        service.store_session_responses(session)
    except Exception:
        log.warning("storing mood responses failed (kept for the next run)", exc_info=True)


def render(live_camera: bool = True) -> None:
    session = listener()
    if st.query_params.get(SESSION_PARAM) != session.session_id:
        st.query_params[SESSION_PARAM] = session.session_id  # the anonymous id a reload resumes
    _take_reports()
    pending = _pick_pending()
    if pending:
        _apply_pick(pending)

    st.title(":material/headphones: Moodtune")
    st.caption("Music for the mood on your face.")
    render_privacy_sidebar()

    bar_slot = st.container()
    # The mood column first: on a phone the columns stack, and the camera's START must be on
    # the first screen under the bar (issue 30, 7), not below up next.
    right, left = st.columns([2, 3], gap="large")
    with right:
        playing = _render_mood_inputs(session, live_camera)
        panel_slot = st.container()
    if playing:
        # Take the latest live reading now, so up next follows it in this same run.
        live = reading_from_smoothed(_holder().snapshot().mood)
        if live is not None and session.apply_camera_reading(live):
            _log_applied_mood(session)
    _store_responses(session)
    queue_error = _refresh_queue(session) if session.effective_mood() is not None else None

    with bar_slot:
        _render_now_playing(session)
    with left:
        _render_playing_line(session)
        _render_controls(session)
        up_next, history, liked = st.tabs(["Up next", "History", "Liked"])
        with up_next:
            _render_up_next(session, queue_error)
        with history:
            _render_history(session)
        with liked:
            _render_liked(session)
    with panel_slot:
        if playing:
            _live_mood_fragment()
        else:
            _render_mood_panel(session, None)
    if st.session_state.pop(keys.STORE_ERROR, False):
        st.toast("Couldn't save that; the music goes on.")
    st.session_state.pop(keys.LIKE_ERROR, None)  # said once, beside its button
    _save(session)
