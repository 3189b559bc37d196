"""The listener's Mood page: one now-playing bar on top, up next / history / liked under it, and
the mood (camera or the listener's own pick) beside or, on a phone, below. A thin view: what
to do and what to say is decided in `app.listening` (the tab's actions in `tab`, the words and
the panel in `status`, the catalog through `service`); this module draws it, section by section.

Each run: resume the session named in the URL (``?s=<anonymous id>``) if this browser session
has none yet, take the bar's new reports (also taken in the bar's callback, before the rerun
they cause), read the camera, refill up next, render, save the snapshot if it changed.

Threads: the webrtc frame callback runs in its own thread and only writes into the tab's
MoodHolder; the live-mood fragment reads it every second in the script thread and reruns the
whole page only when the mood the music follows changed enough to rebuild up next (the bar
survives a rerun).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app.emotions import QUADRANT_COLOURS, STRATEGIES, STRATEGY_NAMES
from app.listening import service
from app.listening.mood import MAX_PICTURE_MB, MoodReading
from app.listening.session import ListenerSession
from app.listening.status import (
    LIKE_FAILED,
    PRIVACY_TEXT,
    STORE_FAILED,
    MoodPanel,
    Notice,
    history_words,
    mood_panel,
    up_next_notice,
    up_next_rows,
)
from app.listening.tab import ListeningTab, open_session
from app.ui import sign_in
from app.ui import state_keys as keys
from app.ui.live import camera_stream
from app.ui.mood_gauge import mood_gauge_figure, mood_pad
from app.ui.now_playing import now_playing_bar, reports_of
from app.ui.track_list import DISLIKE, PLAY, REMOVE, REPLAY, icon_button, like_icon, track_button, track_row

LIVE_REFRESH_S = 1.0
SESSION_PARAM = "s"  # the URL's query parameter holding the anonymous session id
BAR_KEY = "now_playing"
PICK_KEY = "mood_pad_label"  # the pills' key: the listener's picked emotion
HISTORY_SHOWN = 30
SOURCE_NAMES = {"camera": ":material/videocam: Camera", "manual": ":material/person: Me"}
_SAY = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success, "caption": st.caption}


# ----------------------------------------------------------------------------- session glue


def tab() -> ListeningTab:
    """This browser session's listening, resumed on its first run from the signed-in account's
    id or else the URL's, else new."""
    obj = st.session_state.get(keys.LISTENING_TAB)
    if not isinstance(obj, ListeningTab):
        session = open_session(sign_in.listener_session_id(), st.query_params.get(SESSION_PARAM))
        obj = st.session_state[keys.LISTENING_TAB] = ListeningTab(session)
    return obj


def face_analyzer() -> Any:
    """The process's one analyzer (FaceAnalyzer.load is load-once and thread-safe)."""
    from app.vision import FaceAnalyzer

    with st.spinner("Loading the face model…"):
        return FaceAnalyzer.load()


def _say(notice: Notice | None) -> None:
    if notice is not None:
        _SAY[notice.tone](notice.text)


# ----------------------------------------------------------------------------- callbacks
# Widget callbacks only read their widget's value and hand it to the tab.


def _on_report() -> None:
    """The bar's callback (before the rerun a report causes); its state is read before `take`."""
    tab().take_reports(reports_of(BAR_KEY))


def _hand_value(action: Callable[[ListeningTab, Any], object], key: str) -> Callable[[], None]:
    """A widget's callback: hand its value (under `key`) to one of the tab's actions."""
    return lambda: action(tab(), st.session_state.get(key))


def _on_pad_reading(reading: MoodReading) -> None:
    tab().adopt_manual(reading)


def source_key(source: str) -> str:
    """The "Music follows" switch's key, which names the source the session had when it was
    drawn. A rerun request already on its way carries the switch's old value under the old
    key, and so can't read as the listener switching back (it undid a pick made with the
    camera on: issue 30, 3)."""
    return f"mood_source_{source}"


def _on_source(key: str) -> None:
    if tab().follow(st.session_state.get(key)):
        st.session_state[PICK_KEY] = None  # so picking the same mood again applies it


def _on_forget() -> None:
    # The tab's new picture nonce gives the snapshot and photo widgets new keys: the old ones,
    # and the picture bytes they hold, are dropped at the end of this run.
    if tab().forget(signed_in=sign_in.listener_session_id() is not None):
        st.session_state[PICK_KEY] = None


# ----------------------------------------------------------------------------- mood inputs


def _render_still_input(widget: Any, source: str) -> None:
    """A snapshot or photo: read once (the tab knows which it has read), then its result."""
    if widget is None:
        return
    listening = tab()
    if not listening.is_new_picture((source, getattr(widget, "file_id", None) or widget.name, widget.size)):
        return
    result = listening.read_picture(widget.getvalue(), source, face_analyzer)
    _say(result.notice)
    if result.overlay_rgb is not None:
        st.image(result.overlay_rgb, width=320, caption="What Moodtune saw")


def _render_mood_inputs(listening: ListeningTab, live_camera: bool) -> bool:
    """Camera, snapshot, photo and the pick; True while the live camera streams."""
    playing, nonce = False, listening.still_nonce
    tabs = [":material/videocam: Camera", ":material/photo_camera: Snapshot", ":material/image: Photo"]
    live_tab, snap_tab, photo_tab, pad_tab = st.tabs([*tabs, ":material/tune: Pick"])
    with live_tab:
        if live_camera:
            try:
                playing = camera_stream(listening.holder)
            except Exception as exc:  # the page must work without WebRTC (tests, old browsers)
                st.warning(f"The live camera is unavailable here ({type(exc).__name__}). Use Snapshot, Photo or Pick.")
    with snap_tab:
        _render_still_input(st.camera_input("Take a snapshot", key=f"snapshot_{nonce}"), "snapshot")
    with photo_tab:
        kinds = ["jpg", "jpeg", "png"]
        photo = st.file_uploader(
            "Upload a photo of your face", type=kinds, key=f"photo_{nonce}", max_upload_size=MAX_PICTURE_MB
        )
        _render_still_input(photo, "photo")
    with pad_tab:
        mood = listening.session.effective_mood()
        on_pick = _hand_value(ListeningTab.pick_changed, PICK_KEY)
        mood_pad(mood.point if mood else None, PICK_KEY, on_pick, _on_pad_reading)
    return playing


# ----------------------------------------------------------------------------- mood panel


def _render_mood_panel(panel: MoodPanel) -> None:
    """The mood the music follows and where it comes from, as `status.mood_panel` decided."""
    _say(panel.status)
    if panel.point is None:
        st.metric("Your mood", panel.mood)
        if panel.start_hint:
            st.caption(panel.start_hint)
        return
    st.metric("Your mood", panel.mood, help="What the music follows right now.")
    st.markdown(panel.follows)
    if panel.pick_wins:
        st.caption(panel.pick_wins)
    figure = mood_gauge_figure(panel.point, panel.mood, panel.target, path=panel.path, queued=panel.queued)
    st.plotly_chart(figure, config={"displayModeBar": False})
    if panel.legend:
        st.caption(panel.legend)


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_mood_fragment() -> None:
    """Refreshes only the mood panel every second while the camera runs; reruns the whole page
    (to rebuild up next) only when the applied mood's basis changed."""
    listening = tab()
    if listening.pick_pending(st.session_state.get(PICK_KEY)):
        st.rerun(scope="app")  # the full run applies it (and rebuilds up next for it)
    snap = listening.live_snapshot()
    if listening.apply_live(snap):
        st.rerun(scope="app")
    _render_mood_panel(mood_panel(listening.session, snap))


# ----------------------------------------------------------------------------- the music


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
        on_report=_on_report,
    )


def _render_playing_line(listening: ListeningTab) -> None:
    """Why this track plays, with its Like and Not for me: atop up next's column, so on a phone
    the camera's control stays on the first screen under the bar (issue 30, 7)."""
    current = listening.session.now_playing
    if current is None:
        return
    track_id, liked = current.track_id, current.track_id in listening.session.liked
    like, like_tip = ("Liked" if liked else "Like"), "Like the track that is playing"
    not_for_me_tip = "Not my kind of music: play the next track, and suggest fewer like this one"
    # Wraps: in a narrow column the reason takes the row and the buttons go under it.
    with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=True, key="playing_line"):
        st.caption(f"Playing because {current.reason}", width="stretch")
        track_button(
            like, "like_playing", listening.like, track_id, icon=like_icon(liked), disabled=liked, help=like_tip
        )
        track_button("Not for me", "not_for_me", listening.not_for_me, track_id, icon=DISLIKE, help=not_for_me_tip)
    if listening.like_failed == track_id:
        st.caption(f":red[{LIKE_FAILED}]", width="stretch")


def _render_up_next(listening: ListeningTab, error: str | None) -> None:
    """Up next's notice (`status.up_next_notice`), then each track with Play now, Like, Remove."""
    notice = up_next_notice(listening.session, error, service.catalog_is_empty)
    _say(notice)
    if notice is not None and notice.tone == "error":
        st.button("Retry", key="retry_recommend")
    for item in up_next_rows(listening.session):
        track_id, liked = item.track_id, item.track_id in listening.session.liked
        failed = [f":red[{LIKE_FAILED}]"] if listening.like_failed == track_id else []
        with track_row(f"row_{track_id}", item.track, item.reason, *failed):
            icon_button(f"upnext_play_{track_id}", PLAY, "Play now", listening.play_now, track_id)
            like = "Liked" if liked else "Like"
            icon_button(f"upnext_like_{track_id}", like_icon(liked), like, listening.like, track_id, disabled=liked)
            icon_button(f"upnext_remove_{track_id}", REMOVE, "Remove from up next", listening.remove, track_id)


def _render_history(listening: ListeningTab) -> None:
    if not listening.session.history:
        st.caption("Nothing heard yet in this session.")
    for entry in list(reversed(listening.session.history))[:HISTORY_SHOWN]:
        track_id, stamp = entry.track_id, int(entry.at.timestamp() * 1000)
        with track_row(f"hist_{track_id}_{stamp}", entry.track, history_words(entry)):
            tip = "Play it again now"
            track_button("Replay", f"replay_{track_id}_{stamp}", listening.replay, track_id, icon=REPLAY, help=tip)


def _render_liked(listening: ListeningTab) -> None:
    session, liked = listening.session, listening.session.liked_tracks()
    if not liked:
        st.caption("Tracks you like in this session show up here.")
    heard = {entry.track_id for entry in session.history}
    playing = session.now_playing.track_id if session.now_playing else None
    for track in liked:
        with track_row(f"liked_{track.track_id}", track):
            if track.track_id == playing:
                st.caption("playing now")
            elif track.track_id in heard:
                track_button("Replay", f"liked_replay_{track.track_id}", listening.replay, track.track_id, icon=REPLAY)
            else:
                st.caption("up next")


# ----------------------------------------------------------------------------- page


def render_privacy_sidebar() -> None:
    with st.sidebar:
        st.subheader("Privacy")
        st.markdown(PRIVACY_TEXT)
        st.button("Forget this session", key="forget_session", icon=":material/delete:", on_click=_on_forget)
        _say(tab().take_forget_notice())


def _render_source_and_lock(session: ListenerSession) -> None:
    """Where the mood comes from, and the lock, in one wrapping row."""
    # The widgets show the session, which callbacks, a resume or the domain may have changed.
    source = source_key(session.mood_source)
    st.session_state[source] = session.mood_source
    st.session_state["lock_mood"] = session.is_locked
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="mood_controls"):
        st.segmented_control(
            "Music follows",
            ("camera", "manual"),
            format_func=SOURCE_NAMES.get,
            key=source,
            on_change=_on_source,
            args=(source,),
            required=True,
        )
        # A plain label: a label's markup would be read out as its accessible name.
        st.toggle(
            "Lock",
            key="lock_mood",
            on_change=_hand_value(ListeningTab.set_lock, "lock_mood"),
            disabled=session.effective_mood() is None,
            help="Keep the music on this mood, whatever the camera or a pick says.",
        )


def _render_strategy(session: ListenerSession) -> None:
    """The strategy, in a row of its own (on a phone it is a row wide)."""
    st.session_state["strategy"] = session.strategy
    with st.container(key="strategy_row"):
        # Collapsed: "match my mood | lift my mood | calm me down" says it.
        st.segmented_control(
            "Music should…",
            STRATEGIES,
            format_func=STRATEGY_NAMES.get,
            key="strategy",
            on_change=_hand_value(ListeningTab.set_strategy, "strategy"),
            required=True,
            label_visibility="collapsed",
        )


def _render_listening_column(listening: ListeningTab, queue_error: str | None) -> None:
    """What plays and why, the controls, then up next, history and liked as tabs."""
    _render_playing_line(listening)
    _render_source_and_lock(listening.session)
    _render_strategy(listening.session)
    hint = listening.take_source_hint()  # why a change of source, a pick or the lock was refused
    if hint:
        st.caption(hint)
    up_next, history, liked = st.tabs(["Up next", "History", "Liked"])
    with up_next:
        _render_up_next(listening, queue_error)
    with history:
        _render_history(listening)
    with liked:
        _render_liked(listening)


def _start_run(listening: ListeningTab) -> None:
    """Before drawing: the URL names the session, and what a stopped run left undone is done
    (the bar's reports, a pick whose callback never ran)."""
    if st.query_params.get(SESSION_PARAM) != listening.session.session_id:
        st.query_params[SESSION_PARAM] = listening.session.session_id  # the anonymous id a reload resumes
    listening.take_reports(reports_of(BAR_KEY))
    pending = listening.pick_pending(st.session_state.get(PICK_KEY))
    if pending:
        listening.pick(pending)


def render(live_camera: bool = True) -> None:
    listening = tab()
    _start_run(listening)
    st.title(":material/headphones: Moodtune")
    st.caption("Music for the mood on your face.")
    render_privacy_sidebar()

    bar_slot = st.container()
    # The mood column first: on a phone the columns stack, and the camera's START must be on
    # the first screen under the bar (issue 30, 7), not below up next.
    right, left = st.columns([2, 3], gap="large")
    with right:
        playing = _render_mood_inputs(listening, live_camera)
        panel_slot = st.container()
    if playing:  # the latest live reading now, so up next follows it in this same run
        listening.apply_live(listening.live_snapshot())
    listening.store_responses()
    queue_error = listening.refresh_queue()

    with bar_slot:
        _render_now_playing(listening.session)
    with left:
        _render_listening_column(listening, queue_error)
    with panel_slot:
        if playing:
            _live_mood_fragment()
        else:
            _render_mood_panel(mood_panel(listening.session, None))
    if listening.end_run():  # (a failed like was said beside its button)
        st.toast(STORE_FAILED)
