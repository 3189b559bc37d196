"""The listener's Mood page through Streamlit's AppTest: the manual mood path, strategies, the
now-playing bar's reports (simulated: AppTest runs no JavaScript), up next actions (like /
remove / play now), the mood source and lock, history and liked, resuming from the URL,
"forget this session", honest empty states and ten sessions at once.

The live camera (WebRTC) and the bar's real audio need a browser; they are covered by tests/e2e.
Here the page must still work without them, through its fallbacks.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.catalog.db import init_db, session_scope
from app.catalog.models import ListenerSessionState, ListeningEvent, MoodEvent
from app.listening import persistence, status
from app.listening.mood import reading_from_label
from app.recommend import PURPOSES
from app.ui import mood_page, state_keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, seed_catalog

_pages = itertools.count(1)


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch):
    _, media = configure_env(monkeypatch, tmp_path)
    tracks = seed_catalog(media, tmp_path)
    yield {t.title: t for t in tracks}
    cleanup_engines()


def open_app(session_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    if session_id is not None:
        at.query_params[mood_page.SESSION_PARAM] = session_id
    at.run()
    assert not at.exception, at.exception
    return at


def url_id(at: AppTest) -> str:
    """The anonymous session id in the page's URL."""
    value = at.query_params[mood_page.SESSION_PARAM]
    return value if isinstance(value, str) else value[-1]


def bar(at: AppTest) -> dict:
    """What the page handed the now-playing bar (its one audio player) in the last run."""
    (element,) = at.get("bidi_component")
    return json.loads(element.proto.json)


def playing_id(at: AppTest) -> int | None:
    current = bar(at)["current"]
    return current["id"] if current else None


def up_next_ids(at: AppTest) -> list[int]:
    prefix = "upnext_remove_"
    return [int(b.key[len(prefix) :]) for b in at.button if b.key and b.key.startswith(prefix)]


def queue_on_page(at: AppTest, catalog) -> list:
    """What plays now, then up next, as the catalog's track summaries."""
    by_id = {t.track_id: t for t in catalog.values()}
    ids = ([playing_id(at)] if playing_id(at) else []) + up_next_ids(at)
    return [by_id[i] for i in ids]


def reasons(at: AppTest, start: str) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith(start) or c.value.startswith(f"Playing because {start}")]


def report(at: AppTest, *events: dict) -> None:
    """Simulate the bar: its state value is its last reports, numbered per page load."""
    state = at.session_state
    log = state["_test_reports"] if "_test_reports" in state else {"page": f"test-{next(_pages)}", "events": []}
    seq = len(log["events"])
    for event in events:
        seq += 1
        log["events"].append({"seq": seq, "position_s": 0.0, **event})
    state["_test_reports"] = log
    state[mood_page.BAR_KEY] = {"reports": {"page": log["page"], "events": list(log["events"])}}
    at.run()
    assert not at.exception, at.exception


def source_switch(at: AppTest):
    """The "Music follows" switch (its key names the source it was drawn with)."""
    (switch,) = [c for c in at.segmented_control if str(c.key).startswith("mood_source_")]
    return switch


def pick_emotion(at: AppTest, label: str) -> None:
    at.pills(key="mood_pad_label").set_value(label).run()
    assert not at.exception, at.exception


def listening_rows(session_id: str | None = None) -> list[tuple]:
    with session_scope() as s:
        query = select(
            ListeningEvent.action, ListeningEvent.track_id, ListeningEvent.position_s, ListeningEvent.completed
        )
        if session_id:
            query = query.where(ListeningEvent.session_id == session_id)
        return [tuple(r) for r in s.execute(query.order_by(ListeningEvent.id))]


def test_page_works_without_webrtc_and_asks_for_a_mood(catalog):
    at = open_app()
    assert at.title[0].value.endswith("Moodtune")
    assert at.metric[0].value == "—"
    assert any("queue fills" in i.value for i in at.info)
    assert bar(at)["current"] is None and bar(at)["upcoming"] == []  # nothing plays
    # The privacy promise is on the page, and the URL holds only a random anonymous id.
    assert any("never stored" in m.value for m in at.sidebar.markdown)
    assert len(url_id(at)) == 32


def test_mood_pad_emotion_fills_a_playable_queue_that_matches_the_mood(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    assert at.metric[0].value == "sad"
    assert any(m.value.startswith("**Music follows you**: you picked sad") for m in at.markdown)
    queue = queue_on_page(at, catalog)
    assert len(queue) == 6  # one playing, five up next
    # One player: the bar gets the playing track and the next ones, each from the audio route.
    data = bar(at)
    assert data["current"]["id"] == queue[0].track_id and data["autoplay"]
    assert [t["id"] for t in data["upcoming"]] == [t.track_id for t in queue[1:4]]
    assert all(t["url"].startswith("audio/") for t in [data["current"], *data["upcoming"]])
    # "match" for a sad listener: sad (Q3) music, with reasons true to the source that vary.
    assert all(t.quadrant == "Q3" for t in queue)
    said = reasons(at, "you picked sad")
    assert len(said) == 6 and len({r.removeprefix("Playing because ") for r in said}) == 6


def test_lift_starts_near_a_sad_listener_and_steps_toward_brighter_tracks(catalog):
    match_at = open_app()
    pick_emotion(match_at, "sad")
    match_valence = [t.valence for t in queue_on_page(match_at, catalog)]

    lift_at = open_app()
    lift_at.segmented_control(key="strategy").set_value("lift").run()
    pick_emotion(lift_at, "sad")
    lift_valence = [t.valence for t in queue_on_page(lift_at, catalog)]

    assert len(lift_valence) == len(match_valence) == 6
    # The iso principle: meet the listener where they are, then move toward the goal.
    assert lift_valence[0] < 0
    assert sum(lift_valence[3:]) > sum(lift_valence[:3])
    assert min(lift_valence[3:]) > max(match_valence)
    assert sum(lift_valence) / 6 > sum(match_valence) / 6 + 0.5


def test_the_mood_chart_shows_the_path_toward_the_goal_and_where_up_next_sits(catalog):
    at = open_app()
    at.segmented_control(key="strategy").set_value("lift").run()
    pick_emotion(at, "sad")
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    traces = {t.get("name"): t for fig in figures for t in fig["data"]}
    path = traces["path"]
    assert path["x"][0] < 0 and path["x"][-1] > 0.3  # from the sad mood toward brighter
    assert len(traces["up next"]["x"]) == len(up_next_ids(at))
    at.segmented_control(key="strategy").set_value("match").run()
    names = {t.get("name") for chart in at.get("plotly_chart") for t in json.loads(chart.proto.spec)["data"]}
    assert "path" not in names  # match follows the mood: no path to draw


def test_calm_steps_an_angry_listener_down_to_low_arousal_and_keeps_the_playing_one(catalog):
    at = open_app()
    pick_emotion(at, "angry")
    assert all(t.arousal > 0 for t in queue_on_page(at, catalog))
    playing = playing_id(at)
    at.segmented_control(key="strategy").set_value("calm").run()
    assert playing_id(at) == playing  # the bar keeps its track; up next follows the strategy
    up_next = queue_on_page(at, catalog)[1:]
    assert len(up_next) == 5
    assert up_next[-1].arousal < up_next[0].arousal and all(t.arousal < 0 for t in up_next[-3:])
    assert all(any(p in r for p in PURPOSES["calm"]) for r in reasons(at, "you picked angry")[1:])


def test_point_on_the_pad_picks_music_from_that_region(catalog):
    at = open_app()
    at.slider(key="mood_pad_valence").set_value(0.8)
    at.slider(key="mood_pad_arousal").set_value(0.7)
    at.button(key="mood_pad_use_point").click().run()
    assert at.metric[0].value == "happy / energetic"
    assert all(t.valence > 0 and t.arousal > 0 for t in queue_on_page(at, catalog))


def test_remove_next_and_like_change_the_queue_and_are_remembered(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    head, *up_next = [t.track_id for t in queue_on_page(at, catalog)]
    second = up_next[1]

    at.button(key=f"upnext_remove_{second}").click().run()
    assert second not in up_next_ids(at) and len(up_next_ids(at)) == 5

    at.button(key="like_playing").click().run()
    assert at.button(key="like_playing").label == "Liked"

    # The bar's Next: it skips the playing track at 0.2 s and moves to the head of up next.
    new_head = up_next_ids(at)[0]
    report(at, {"kind": "started", "track_id": head})
    report(
        at,
        {"kind": "skipped", "track_id": head, "position_s": 0.2},
        {"kind": "advanced", "track_id": new_head, "from_track_id": head},
        {"kind": "started", "track_id": new_head},
    )
    assert playing_id(at) == new_head and head not in up_next_ids(at) and len(up_next_ids(at)) == 5
    # The same reports seen again by the next run change nothing.
    at.run()
    assert playing_id(at) == new_head

    # Switching strategies back and forth never brings played or removed tracks back.
    at.segmented_control(key="strategy").set_value("lift").run()
    at.segmented_control(key="strategy").set_value("match").run()
    assert head not in up_next_ids(at) and second not in up_next_ids(at)
    assert playing_id(at) == new_head

    rows = listening_rows()
    assert [(a, t) for a, t, _, _ in rows] == [
        ("skipped", second),
        ("liked", head),
        ("started", head),
        ("skipped", head),
        ("started", new_head),
    ]
    assert rows[0][2] is None and rows[3][2] == pytest.approx(0.2)


def test_a_track_that_ends_is_followed_by_the_next_and_a_like_is_logged_either_way(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    head, nxt = playing_id(at), up_next_ids(at)[0]
    report(
        at,
        {"kind": "started", "track_id": head},
        {"kind": "completed", "track_id": head, "position_s": 0.5},
        {"kind": "advanced", "track_id": nxt, "from_track_id": head},
        {"kind": "started", "track_id": nxt},
    )
    assert playing_id(at) == nxt and len(up_next_ids(at)) == 5
    # Liked though no Next started it: logged all the same.
    at.button(key="like_playing").click().run()
    rows = listening_rows()
    assert ("completed", head, 0.5, True) in rows and ("liked", nxt, None, False) in rows
    # History has it, with replay.
    assert any(c.value == "played to the end" for c in at.caption)
    replay = next(b for b in at.button if b.key.startswith(f"replay_{head}_"))
    replay.click().run()
    assert playing_id(at) == head
    assert ("skipped", nxt) in [(a, t) for a, t, _, _ in listening_rows()]
    # Liked lists the liked one.
    assert at.button(key=f"liked_replay_{nxt}").label == "Replay"


def test_the_last_track_ending_with_nothing_queued_moves_on_when_the_page_has_more(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    head = playing_id(at)
    # The bar had no next track in hand (e.g. files missing): it reports only the end.
    report(at, {"kind": "started", "track_id": head}, {"kind": "completed", "track_id": head, "position_s": 0.5})
    assert playing_id(at) not in (None, head)
    assert ("completed", head, 0.5, True) in listening_rows()


def test_play_now_moves_an_up_next_track_to_the_bar(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    head, third = playing_id(at), up_next_ids(at)[2]
    at.button(key=f"upnext_play_{third}").click().run()
    assert playing_id(at) == third and third not in up_next_ids(at)
    assert [(a, t) for a, t, _, _ in listening_rows()] == [("skipped", head)]


def test_locked_mood_keeps_the_music(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    before = [t.track_id for t in queue_on_page(at, catalog)]
    at.toggle(key="lock_mood").set_value(True).run()
    pick_emotion(at, "happy")
    assert at.metric[0].value == "sad"
    assert any("locked" in c.value for c in at.caption)
    assert [t.track_id for t in queue_on_page(at, catalog)] == before
    at.toggle(key="lock_mood").set_value(False).run()
    assert at.metric[0].value == "happy"
    assert all(t.quadrant == "Q1" for t in queue_on_page(at, catalog)[1:])
    with session_scope() as s:  # only applied moods are logged: sad, then happy on unlock
        assert list(s.scalars(select(MoodEvent.label).order_by(MoodEvent.id))) == ["sad", "happy"]


def test_a_pick_wins_visibly_over_the_camera_until_the_listener_hands_back(catalog):
    at = open_app()
    camera = reading_from_label("happy", source="camera")
    at.session_state[state_keys.LISTENING_TAB].session.apply_camera_reading(camera)  # what the live fragment does
    at.run()
    assert at.metric[0].value == "happy"
    # No live stream on this page (AppTest has no WebRTC): the panel says it follows the
    # camera's last reading and claims no reading the camera isn't making (issue 30, 6).
    assert any(m.value.startswith("**Music follows the camera's last reading** (happy)") for m in at.markdown)
    assert not any("% sure" in m.value for m in at.markdown)
    assert len(reasons(at, "the camera reads you as happy")) == 6

    pick_emotion(at, "sad")
    assert source_switch(at).value == "manual"
    assert at.metric[0].value == "sad"
    assert any(m.value.startswith("**Music follows you**: you picked sad") for m in at.markdown)
    assert not any("your own pick wins" in c.value for c in at.caption)  # the camera is off: no reading to beat
    assert reasons(at, "you picked sad")[1:] and not reasons(at, "the camera reads you as happy")[1:]

    source_switch(at).set_value("camera").run()
    assert at.metric[0].value == "happy"
    with session_scope() as s:
        assert list(s.scalars(select(MoodEvent.label).order_by(MoodEvent.id))) == ["sad", "happy"]


def test_a_reload_resumes_the_session_from_the_url(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    at.segmented_control(key="strategy").set_value("lift").run()
    head = playing_id(at)
    report(at, {"kind": "started", "track_id": head}, {"kind": "paused", "track_id": head, "position_s": 0.3})
    session_id = url_id(at)
    up_next = up_next_ids(at)

    again = open_app(session_id)  # a reload: a new browser session, the same URL
    assert url_id(again) == session_id
    assert playing_id(again) == head and bar(again)["start_at_s"] == pytest.approx(0.3)
    assert up_next_ids(again) == up_next
    assert again.metric[0].value == "sad"
    assert source_switch(again).value == "manual"
    assert again.segmented_control(key="strategy").value == "lift"

    stranger = open_app("not-an-id")  # anything else gets a fresh session
    assert url_id(stranger) != session_id
    assert stranger.metric[0].value == "—"


def test_forget_this_session_deletes_its_events_snapshot_and_picture(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    at.button(key="like_playing").click().run()
    old_id = url_id(at)
    at.file_uploader[0].set_value(("me.png", b"not a png", "image/png")).run()
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(MoodEvent)) == 1
        assert s.scalar(select(func.count()).select_from(ListeningEvent)) == 1
        assert s.get(ListenerSessionState, old_id) is not None

    at.sidebar.button(key="forget_session").click().run()
    assert any("Forgotten: 2 stored events deleted" in m.value for m in at.sidebar.success)
    assert at.metric[0].value == "—" and playing_id(at) is None
    new_id = url_id(at)
    assert new_id != old_id and len(new_id) == 32
    # The photo widget is a new one: the bytes the old one held are gone with it.
    assert at.file_uploader[0].value is None
    assert at.file_uploader[0].key != "photo_0" and "photo_0" not in at.session_state
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(MoodEvent)) == 0
        assert s.scalar(select(func.count()).select_from(ListeningEvent)) == 0
        assert s.get(ListenerSessionState, old_id).state == persistence.FORGOTTEN_STATE  # no history, no mood
    assert open_app(old_id).metric[0].value == "—"  # a forgotten id is not revived


def test_an_empty_catalog_says_so_and_points_curators_to_curate(tmp_path, monkeypatch):
    configure_env(monkeypatch, tmp_path)
    init_db()
    try:
        at = open_app()
        pick_emotion(at, "sad")
        assert [i.value for i in at.info] == [status.EMPTY_CATALOG]
        assert playing_id(at) is None
    finally:
        cleanup_engines()


def test_having_heard_everything_up_next_refills_with_what_was_heard_longest_ago(tmp_path, monkeypatch):
    """Never silent (issue 30): every other track taken out of up next, the music still has
    somewhere to go: up next fills again with tracks heard earlier, and nothing says the music
    ran out."""
    _, media = configure_env(monkeypatch, tmp_path)
    seed_catalog(media, tmp_path, per_quadrant=1)
    try:
        at = open_app()
        pick_emotion(at, "sad")
        removed = up_next_ids(at)
        for track_id in removed:
            at.button(key=f"upnext_remove_{track_id}").click().run()
        assert playing_id(at) is not None
        assert up_next_ids(at) and set(up_next_ids(at)) <= set(removed)
        assert status.HEARD_EVERYTHING not in [i.value for i in at.info]
    finally:
        cleanup_engines()


def test_ten_listener_sessions_side_by_side_stay_separate(catalog):
    """Ten open sessions, their actions interleaved: each keeps its own mood, queue and
    anonymous id. (AppTest drives one script run at a time; truly parallel sessions are in
    test_ten_listeners_in_parallel_threads below and in tests/e2e.)"""
    emotions = ["sad", "happy", "angry", "neutral", "fear", "surprise", "disgust", "sad", "happy", "angry"]
    alone = {}
    for label in set(emotions):
        solo = open_app()
        pick_emotion(solo, label)
        alone[label] = [t.track_id for t in queue_on_page(solo, catalog)]

    apps = [open_app() for _ in emotions]
    for at, label in zip(apps, emotions, strict=True):
        pick_emotion(at, label)
    for at, label in zip(apps, emotions, strict=True):
        assert at.metric[0].value == label
        assert [t.track_id for t in queue_on_page(at, catalog)] == alone[label]
    # A removal in one session changes only that session's queue.
    first = apps[0]
    removed = up_next_ids(first)[1]
    first.button(key=f"upnext_remove_{removed}").click().run()
    assert removed not in up_next_ids(first)
    twin = apps[7]  # also sad
    twin.run()
    assert [t.track_id for t in queue_on_page(twin, catalog)] == alone["sad"]
    with session_scope() as s:
        ids = set(s.scalars(select(MoodEvent.session_id)))
    assert len(ids) == len(set(emotions)) + 10
    assert len({url_id(at) for at in apps}) == 10


def test_ten_listeners_in_parallel_threads(catalog):
    """What each page run does (recommend, remove, next, log), for ten listeners in ten threads
    at once against one database: no errors, and the same queues as one listener alone."""
    from app.listening import service
    from app.listening.session import ListenerSession

    emotions = ["sad", "happy", "angry", "neutral", "fear", "surprise", "disgust", "sad", "happy", "angry"]

    def listen(label: str, all_ranked: threading.Barrier | None = None) -> list[int]:
        session = ListenerSession()
        assert session.apply_manual_reading(reading_from_label(label))
        service.log_mood(session.session_id, session.effective_mood())
        session.refill(service.recommend)
        first = [item.track_id for item in session.queue]
        if all_ranked is not None:
            # Skips feed the ranking of everyone (a track's skip record), so compare the first
            # queues before anyone has skipped; the writes below still run concurrently.
            all_ranked.wait()
        removed = session.remove(first[1])
        mood = session.effective_mood()
        service.log_listening(session.session_id, removed.track_id, "skipped", session.strategy, mood)
        played = session.play_next()
        service.log_listening(session.session_id, played.track_id, "started", session.strategy, mood)
        session.refill(service.recommend)
        assert first[0] not in [i.track_id for i in session.queue] and first[1] not in [
            i.track_id for i in session.queue
        ]
        service.save_session(session)
        return first

    def clear_feedback() -> None:
        with session_scope() as s:
            s.execute(ListeningEvent.__table__.delete())

    alone = {}
    for label in set(emotions):
        alone[label] = listen(label)
        clear_feedback()

    results: list[tuple[str, list[int] | BaseException]] = []
    lock = threading.Lock()
    start, ranked = threading.Barrier(len(emotions)), threading.Barrier(len(emotions), timeout=60)

    def worker(label: str) -> None:
        start.wait()
        try:
            outcome: list[int] | BaseException = listen(label, ranked)
        except BaseException as exc:  # collected and reported below
            outcome = exc
        with lock:
            results.append((label, outcome))

    threads = [threading.Thread(target=worker, args=(label,)) for label in emotions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10
    for label, outcome in results:
        assert not isinstance(outcome, BaseException), repr(outcome)
        assert outcome == alone[label]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ListeningEvent)) == 20
        assert s.scalar(select(func.count(ListeningEvent.session_id.distinct()))) == 10


# ----------------------------------------------------------------------------- still pictures


def _png(image_bgr) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image_bgr)
    assert ok
    return buf.tobytes()


def test_a_file_that_is_not_an_image_is_refused_with_a_reason(catalog):
    at = open_app()
    at.file_uploader[0].set_value(("me.png", b"definitely not a png", "image/png")).run()
    assert not at.exception, at.exception
    assert any("not an image" in e.value for e in at.error)
    assert at.metric[0].value == "—"


FACE_MODEL = Path(__file__).resolve().parents[1] / "models" / "face_expression.tflite"


@pytest.mark.skipif(not FACE_MODEL.is_file(), reason="face model not trained yet")
def test_photo_of_a_smiling_face_gives_happy_music(catalog):
    from skimage import data

    at = open_app()
    astronaut_bgr = data.astronaut()[:, :, ::-1].copy()
    at.file_uploader[0].set_value(("astronaut.png", _png(astronaut_bgr), "image/png")).run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "happy"
    assert at.image, "the analysed picture with its overlay is shown"
    assert source_switch(at).value == "manual"  # a photo is the listener's own
    queue = queue_on_page(at, catalog)
    assert len(queue) == 6 and all(t.valence > 0 for t in queue)
    assert len(reasons(at, "your photo reads you as happy")) == 6


@pytest.mark.skipif(not FACE_MODEL.is_file(), reason="face model not trained yet")
def test_photo_without_a_face_says_so_and_keeps_the_mood(catalog):
    import numpy as np

    at = open_app()
    pick_emotion(at, "sad")
    blank = np.full((240, 320, 3), 200, np.uint8)
    at.file_uploader[0].set_value(("wall.png", _png(blank), "image/png")).run()
    assert any("No face found" in w.value for w in at.warning)
    assert at.metric[0].value == "sad"


def test_unreachable_database_shows_a_message_without_secrets_and_retry_recovers(catalog, monkeypatch, tmp_path):
    working_url = f"sqlite:///{tmp_path / 'moodtune.db'}"
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://moodtune:hunter2secret@127.0.0.1:1/moodtune")
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    message = " ".join(w.value for w in at.warning)
    assert "catalog is unreachable right now, retrying" in message
    # A listener sees no connection details: no URL, host, user or password.
    assert not any(secret in message for secret in ("127.0.0.1", "moodtune:", "hunter2secret", "mysql"))
    assert not at.pills  # the page itself doesn't run half-connected

    monkeypatch.setenv("DATABASE_URL", working_url)  # the database is back
    at.button(key=state_keys.DB_RETRY).click().run()
    assert not at.error
    pick_emotion(at, "happy")
    assert len(queue_on_page(at, catalog)) == 6


def test_ice_servers_default_to_none_for_localhost_and_configured_ones_win(monkeypatch):
    from app.ui.live import TURN_PROVIDER_KEYS, resolve_ice_servers, rtc_configuration

    for key in TURN_PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    assert rtc_configuration(resolve_ice_servers(())) == {"iceServers": []}
    turn = {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "set")  # configured servers still win
    assert rtc_configuration(resolve_ice_servers((turn,))) == {"iceServers": [turn]}


def test_a_pick_whose_callback_was_cut_off_still_takes_effect(catalog):
    """Issue 30 (3): Streamlit can stop a run between two widget callbacks (the camera's
    fragment reruns every second), leaving a pick stored in the widget but never applied. The
    next run (or the camera's next refresh) applies it: the pick wins over the camera."""
    at = open_app()
    at.session_state[state_keys.LISTENING_TAB].session.apply_camera_reading(
        reading_from_label("happy", source="camera")
    )
    at.run()
    assert at.metric[0].value == "happy"
    at.session_state["mood_pad_label"] = "sad"  # the widget's value, without its callback
    at.run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "sad"
    assert source_switch(at).value == "manual"
    at.run()  # applied once: a later run changes nothing
    assert at.metric[0].value == "sad"


def test_not_for_me_moves_on_and_is_stored_as_a_verdict_apart_from_a_skip(catalog):
    """Issue 30 (10): "Not for me" plays the next track, and the track left is stored both as
    skipped (the listener moved on) and as disliked, which counts against it more than a skip."""
    from app.listening.preferences import event_weight, skip_weight

    at = open_app()
    pick_emotion(at, "sad")
    doomed = playing_id(at)
    at.button(key="not_for_me").click().run()
    assert not at.exception, at.exception
    assert playing_id(at) not in (None, doomed)
    actions = [action for action, track_id, *_ in listening_rows(url_id(at)) if track_id == doomed]
    assert sorted(actions) == ["disliked", "skipped"], actions
    assert event_weight("disliked") < min(skip_weight(0.0), skip_weight(None))
