"""The listener's Mood page: live camera (or a fallback) → mood panel → queue of tracks."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from app.emotions import FACE_LABELS, STRATEGIES, STRATEGY_NAMES, target_for_strategy
from app.listening import service
from app.listening.live import LiveSnapshot, MoodHolder, live_frame_processor
from app.listening.mood import (
    MoodLogThrottle,
    MoodReading,
    NotAnImage,
    decode_image,
    reading_from_faces,
    reading_from_label,
    reading_from_point,
    reading_from_smoothed,
)
from app.listening.session import ListenerSession
from app.ui import state_keys as keys
from app.ui.mood_gauge import mood_gauge_figure, mood_pad_figure
from app.ui.player import render_player_card

LIVE_REFRESH_S = 1.0
EMOJI = {
    "angry": "😠",
    "disgust": "🤢",
    "fear": "😨",
    "happy": "😀",
    "neutral": "😐",
    "sad": "😢",
    "surprise": "😮",
}
PRIVACY_TEXT = (
    "Camera frames are analysed in memory and never stored or sent anywhere else. "
    "Moodtune keeps only mood numbers (emotion probabilities, valence, arousal) and what you "
    "played, liked or skipped, under a random session id that is not linked to you. "
    "**Forget this session** deletes all of it."
)


# ----------------------------------------------------------------------------- session objects


def listener() -> ListenerSession:
    obj = st.session_state.get(keys.LISTENER)
    if not isinstance(obj, ListenerSession):
        obj = st.session_state[keys.LISTENER] = ListenerSession()
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


@st.cache_resource(show_spinner="Loading the face model…")
def face_analyzer() -> Any:
    """One analyzer per process, shared by every session (FaceAnalyzer is thread-safe)."""
    from app.vision import FaceAnalyzer

    return FaceAnalyzer.load()


# ----------------------------------------------------------------------------- actions


def _adopt(reading: MoodReading) -> None:
    """A new mood from any source: store it and log it (throttled)."""
    session = listener()
    session.set_mood(reading)
    if _throttle().should_log(reading, time.monotonic()):
        try:
            service.log_mood(session.session_id, reading)
        except Exception:  # logging must never take the music away
            st.toast("Couldn't save the mood reading; the music goes on.")


def _log(track_id: int, action: str) -> None:
    session = listener()
    try:
        service.log_listening(session.session_id, track_id, action, session.strategy, session.effective_mood())
    except Exception:
        st.toast("Couldn't save that; the music goes on.")


def _on_like(track_id: int) -> None:
    listener().like(track_id)
    _log(track_id, "liked")


def _on_skip(track_id: int) -> None:
    if listener().skip(track_id) is not None:
        _log(track_id, "skipped")


def _on_next() -> None:
    head = listener().next()
    if head is not None:
        _log(head.track_id, "played")
        st.session_state[keys.AUTOPLAY] = True


def _on_pad_label() -> None:
    label = st.session_state.get("mood_pad_label")
    if label in FACE_LABELS:
        _adopt(reading_from_label(label))


def _on_pad_point() -> None:
    _adopt(reading_from_point(st.session_state["mood_pad_valence"], st.session_state["mood_pad_arousal"]))


def _on_pad_click() -> None:
    event = st.session_state.get("mood_pad_click")
    points = getattr(getattr(event, "selection", None), "points", None) or (
        event.get("selection", {}).get("points", []) if isinstance(event, dict) else []
    )
    if points:
        point = points[-1]
        _adopt(reading_from_point(float(point["x"]), float(point["y"])))


def _on_strategy() -> None:
    choice = st.session_state.get("strategy")
    if choice in STRATEGIES:
        listener().set_strategy(choice)


def _on_lock() -> None:
    session = listener()
    if st.session_state.get("lock_mood"):
        session.lock()
    else:
        session.unlock()


def _on_forget() -> None:
    session = listener()
    try:
        removed = service.forget_session(session.session_id)
    except Exception:
        st.session_state[keys.FORGET_ERROR] = True
        return
    strategy = session.strategy
    session.forget()
    session.strategy = strategy  # a preference, not personal data
    _holder().clear()
    st.session_state[keys.MOOD_THROTTLE] = MoodLogThrottle()
    st.session_state["lock_mood"] = False
    st.session_state[keys.FORGOT] = removed


# ----------------------------------------------------------------------------- mood sources


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
            "connection doesn't come up, use *Snapshot*, *Photo* or *Mood pad* instead."
        )
    return playing


def _reading_from_image(data: bytes, source: str) -> None:
    """Analyse one still image (snapshot or upload) and adopt the biggest face's mood."""
    import cv2

    try:
        image = decode_image(data)
    except NotAnImage:
        st.error("That file is not an image I can read (JPEG or PNG, please).")
        return
    try:
        faces = face_analyzer().analyze(image)
    except Exception as exc:
        st.error(f"Face analysis is unavailable: {type(exc).__name__}. Use the mood pad instead.")
        return
    reading = reading_from_faces(faces, source)
    if reading is None:
        st.warning("No face found in this picture. Face the camera in good light, or use the mood pad.")
        return
    from app.vision import draw_overlay

    _adopt(reading)
    st.image(cv2.cvtColor(draw_overlay(image.copy(), faces), cv2.COLOR_BGR2RGB), width=320, caption="What Moodtune saw")


def _render_still_input(widget: Any, source: str) -> None:
    if widget is None:
        return
    # Only a new picture changes the mood; reruns with the same picture must not undo a
    # later choice on the mood pad.
    ident = (source, getattr(widget, "file_id", None) or widget.name, widget.size)
    if st.session_state.get(keys.LAST_IMAGE) == ident:
        return
    st.session_state[keys.LAST_IMAGE] = ident
    _reading_from_image(widget.getvalue(), source)


def _render_mood_pad() -> None:
    st.pills(
        "How do you feel?",
        FACE_LABELS,
        format_func=lambda label: f"{EMOJI[label]} {label}",
        key="mood_pad_label",
        on_change=_on_pad_label,
    )
    with st.expander("…or pick a point on the circle"):
        mood = listener().mood
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


# ----------------------------------------------------------------------------- mood panel


def _render_mood_panel(snap: LiveSnapshot | None) -> None:
    session = listener()
    mood = session.effective_mood()
    if snap is not None:
        if snap.error:
            st.error(snap.error)
        elif snap.frames_seen == 0:
            st.info("Waiting for the camera… (blocked? allow camera access in the browser's address bar)")
        elif snap.mood is None:
            st.warning("No face in view — look at the camera.")
    if mood is None:
        st.metric("Your mood", "—")
        st.caption("Start the camera or pick a mood to get music.")
        return
    confidence = f"{mood.confidence:.0%} confident" if mood.confidence is not None else "picked by you"
    st.metric("Your mood", mood.describe(), help="What the music follows right now.")
    st.caption(
        f"{confidence} · from {mood.source} · valence {mood.point.valence:+.2f}, "
        f"arousal {mood.point.arousal:+.2f}" + (" · 🔒 locked" if session.is_locked else "")
    )
    target = target_for_strategy(mood.point, session.strategy)
    st.plotly_chart(
        mood_gauge_figure(mood.point, mood.describe(), target),
        config={"displayModeBar": False},
        key=None,
    )


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_mood_fragment() -> None:
    """Refreshes only the mood panel every second while the camera runs; reruns the whole page
    (to change the queue) only when the mood the music follows has really changed."""
    session = listener()
    snap = _holder().snapshot()
    reading = reading_from_smoothed(snap.mood)
    if reading is not None:
        _adopt(reading)
        if session.basis_changed():
            st.rerun(scope="app")
    _render_mood_panel(snap)


# ----------------------------------------------------------------------------- queue


def _refill_queue() -> str | None:
    """Bring the queue up to date with the mood and strategy; returns an error message or None.
    Runs before the mood panel, so the panel's fragment sees an up-to-date queue basis and
    doesn't ask for another full rerun."""
    session = listener()
    if session.effective_mood() is None or not session.queue_needs_refill():
        return None
    try:
        session.refill(service.recommend)
    except Exception as exc:
        return f"Couldn't get recommendations ({type(exc).__name__}). Try again in a moment."
    return None


def _render_queue(error: str | None) -> None:
    session = listener()
    if session.effective_mood() is None:
        st.info("Your queue fills as soon as Moodtune knows your mood.")
        return
    if error:
        st.error(error)
        st.button("Retry", key="retry_recommend")
        return
    if not session.queue:
        st.warning("Nothing left to suggest for this mood — you've heard it all. Try another strategy.")
        return
    autoplay = bool(st.session_state.pop(keys.AUTOPLAY, False))
    for i, item in enumerate(session.queue):
        render_player_card(
            item,
            service.media_file(item),
            now_playing=i == 0,
            liked=item.track_id in session.liked,
            on_like=_on_like,
            on_skip=_on_skip,
            on_next=_on_next if i == 0 else None,
            autoplay=autoplay,
        )


# ----------------------------------------------------------------------------- page


def render_privacy_sidebar() -> None:
    with st.sidebar:
        st.subheader("Privacy")
        st.markdown(PRIVACY_TEXT)
        st.button("🗑️ Forget this session", key="forget_session", on_click=_on_forget)
        if st.session_state.pop(keys.FORGET_ERROR, False):
            st.error("The database is unreachable; nothing was deleted. Try again.")
        removed = st.session_state.pop(keys.FORGOT, None)
        if removed is not None:
            st.success(f"Forgotten: {removed} stored events deleted. You are a new anonymous listener.")


def render(live_camera: bool = True) -> None:
    session = listener()
    st.title("🎧 Moodtune")
    st.caption("Music for the mood on your face. " + PRIVACY_TEXT.split(". ", maxsplit=1)[0] + ".")
    render_privacy_sidebar()

    left, right = st.columns([3, 2], gap="large")
    playing = False
    with left:
        live_tab, snap_tab, photo_tab, pad_tab = st.tabs(["📷 Live camera", "📸 Snapshot", "🖼️ Photo", "🎛️ Mood pad"])
        with live_tab:
            if live_camera:
                try:
                    playing = _render_live_camera()
                except Exception as exc:  # the page must work without WebRTC (tests, old browsers)
                    st.warning(
                        f"The live camera is unavailable here ({type(exc).__name__}). "
                        "Use Snapshot, Photo or the Mood pad."
                    )
        with snap_tab:
            _render_still_input(st.camera_input("Take a snapshot", key="snapshot"), "snapshot")
        with photo_tab:
            _render_still_input(
                st.file_uploader(
                    "Upload a photo of your face", type=["jpg", "jpeg", "png"], key="photo", max_upload_size=10
                ),
                "photo",
            )
        with pad_tab:
            _render_mood_pad()
    if playing:
        # Take the latest live reading now, so the queue below follows it in this same run.
        live = reading_from_smoothed(_holder().snapshot().mood)
        if live is not None:
            _adopt(live)
    queue_error = _refill_queue()
    with right:
        st.radio(
            "Music should…",
            STRATEGIES,
            format_func=STRATEGY_NAMES.get,
            key="strategy",
            on_change=_on_strategy,
            horizontal=True,
        )
        st.toggle(
            "🔒 Lock this mood",
            key="lock_mood",
            on_change=_on_lock,
            help="Keep the music on this mood even if your expression changes.",
            disabled=session.mood is None,
        )
        if playing:
            _live_mood_fragment()
        else:
            _render_mood_panel(None)

    st.subheader("Your queue")
    _render_queue(queue_error)
