"""The listener's Mood page through Streamlit's AppTest: the manual mood pad path, strategies,
queue actions (like / skip / next), mood lock, "forget this session" and ten sessions at once.

The live camera (WebRTC) needs a browser; it is covered by tests/e2e. Here the page must still
work without it, through its fallbacks.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.catalog.db import session_scope
from app.catalog.models import ListeningEvent, MoodEvent
from app.ui import state_keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, seed_catalog

CARD_CAPTION = re.compile(r"^\S+ (?P<mood>.+?) · valence (?P<v>[+-]\d\.\d\d) · arousal (?P<a>[+-]\d\.\d\d)$")


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch):
    _, media = configure_env(monkeypatch, tmp_path)
    tracks = seed_catalog(media, tmp_path)
    yield {t.title: t for t in tracks}
    cleanup_engines()


def open_app() -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def queue_on_page(at: AppTest) -> list[dict]:
    """The queue as a listener sees it: title line and mood caption of each card, in order."""
    titles = [t.value for t in at.text if " — " in t.value]
    moods = [m for m in (CARD_CAPTION.match(c.value) for c in at.caption) if m]
    assert len(titles) == len(moods)
    return [
        {"title": title.split(" — ")[0], "valence": float(m["v"]), "arousal": float(m["a"])}
        for title, m in zip(titles, moods, strict=True)
    ]


def audio_sources(at: AppTest) -> list[str]:
    return [a.proto.url for a in at.get("audio")]


def pick_emotion(at: AppTest, label: str) -> None:
    at.pills(key="mood_pad_label").set_value(label).run()
    assert not at.exception, at.exception


def test_page_works_without_webrtc_and_asks_for_a_mood(catalog):
    at = open_app()
    assert at.title[0].value.endswith("Moodtune")
    assert at.metric[0].value == "—"
    assert any("queue fills" in i.value for i in at.info)
    assert audio_sources(at) == []
    # The privacy promise is on the page.
    assert any("never stored" in m.value for m in at.sidebar.markdown)


def test_mood_pad_emotion_fills_a_playable_queue_that_matches_the_mood(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    assert at.metric[0].value == "sad"
    queue = queue_on_page(at)
    assert len(queue) == 5
    assert len(audio_sources(at)) == 5 and all(src for src in audio_sources(at))
    # "match" for a sad listener: sad (Q3) music, with a reason that says so.
    assert all(catalog[item["title"]].quadrant == "Q3" for item in queue)
    reasons = [t.value for t in at.text if t.value.startswith("you look sad")]
    assert len(reasons) == 5


def test_lift_gives_higher_valence_tracks_than_match_for_a_sad_listener(catalog):
    match_at = open_app()
    pick_emotion(match_at, "sad")
    match_valence = [item["valence"] for item in queue_on_page(match_at)]

    lift_at = open_app()
    lift_at.radio(key="strategy").set_value("lift").run()
    pick_emotion(lift_at, "sad")
    lift_valence = [item["valence"] for item in queue_on_page(lift_at)]

    assert len(lift_valence) == len(match_valence) == 5
    assert sum(lift_valence) / 5 > sum(match_valence) / 5 + 0.5
    assert min(lift_valence) > max(match_valence)


def test_calm_gives_low_arousal_tracks_for_an_angry_listener(catalog):
    at = open_app()
    pick_emotion(at, "angry")
    angry_match = queue_on_page(at)
    assert all(item["arousal"] > 0 for item in angry_match)
    at.radio(key="strategy").set_value("calm").run()
    up_next = queue_on_page(at)[1:]  # the playing track stays; the rest follows the strategy
    assert up_next and all(item["arousal"] < 0 for item in up_next)


def test_point_on_the_pad_picks_music_from_that_region(catalog):
    at = open_app()
    at.slider(key="mood_pad_valence").set_value(0.8)
    at.slider(key="mood_pad_arousal").set_value(0.7)
    at.button(key="mood_pad_use_point").click().run()
    assert at.metric[0].value == "happy / energetic"
    assert all(item["valence"] > 0 and item["arousal"] > 0 for item in queue_on_page(at))


def test_skip_next_and_like_change_the_queue_and_are_remembered(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    first = queue_on_page(at)
    head, second = first[0]["title"], first[1]["title"]

    at.button(key=f"card_skip_{catalog[second].track_id}").click().run()
    after_skip = [item["title"] for item in queue_on_page(at)]
    assert second not in after_skip and len(after_skip) == 5

    at.button(key=f"card_like_{catalog[head].track_id}").click().run()
    assert at.button(key=f"card_like_{catalog[head].track_id}").label == "💚 Liked"

    at.button(key="card_next").click().run()
    after_next = [item["title"] for item in queue_on_page(at)]
    assert head not in after_next

    # Switching strategies back and forth never brings played or skipped tracks back.
    at.radio(key="strategy").set_value("lift").run()
    at.radio(key="strategy").set_value("match").run()
    titles = [item["title"] for item in queue_on_page(at)]
    assert head not in titles and second not in titles

    with session_scope() as s:
        actions = dict(s.execute(select(ListeningEvent.action, func.count()).group_by(ListeningEvent.action)).all())
    assert actions == {"skipped": 1, "liked": 1, "played": 1}


def test_locked_mood_keeps_the_music(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    before = [item["title"] for item in queue_on_page(at)]
    at.toggle(key="lock_mood").set_value(True).run()
    pick_emotion(at, "happy")
    assert at.metric[0].value == "sad"
    assert [item["title"] for item in queue_on_page(at)] == before
    at.toggle(key="lock_mood").set_value(False).run()
    assert at.metric[0].value == "happy"
    assert all(catalog[t["title"]].quadrant == "Q1" for t in queue_on_page(at)[1:])


def test_forget_this_session_deletes_its_events(catalog):
    at = open_app()
    pick_emotion(at, "sad")
    at.button(key=f"card_like_{catalog[queue_on_page(at)[0]['title']].track_id}").click().run()
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(MoodEvent)) == 1
        assert s.scalar(select(func.count()).select_from(ListeningEvent)) == 1

    at.sidebar.button(key="forget_session").click().run()
    assert any("Forgotten: 2 stored events deleted" in m.value for m in at.sidebar.success)
    assert at.metric[0].value == "—"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(MoodEvent)) == 0
        assert s.scalar(select(func.count()).select_from(ListeningEvent)) == 0


def test_ten_listener_sessions_side_by_side_stay_separate(catalog):
    """Ten open sessions, their actions interleaved: each keeps its own mood, queue and
    anonymous id. (AppTest drives one script run at a time; truly parallel sessions are in
    test_ten_listeners_in_parallel_threads below and in tests/e2e.)"""
    emotions = ["sad", "happy", "angry", "neutral", "fear", "surprise", "disgust", "sad", "happy", "angry"]
    alone = {}
    for label in set(emotions):
        solo = open_app()
        pick_emotion(solo, label)
        alone[label] = [item["title"] for item in queue_on_page(solo)]

    apps = [open_app() for _ in emotions]
    for at, label in zip(apps, emotions, strict=True):
        pick_emotion(at, label)
    for at, label in zip(apps, emotions, strict=True):
        assert at.metric[0].value == label
        assert [item["title"] for item in queue_on_page(at)] == alone[label]
    # A skip in one session changes only that session's queue.
    first = apps[0]
    skipped = queue_on_page(first)[1]["title"]
    first.button(key=f"card_skip_{catalog[skipped].track_id}").click().run()
    assert skipped not in [item["title"] for item in queue_on_page(first)]
    twin = apps[7]  # also sad
    twin.run()
    assert [item["title"] for item in queue_on_page(twin)] == alone["sad"]
    with session_scope() as s:
        ids = set(s.scalars(select(MoodEvent.session_id)))
    assert len(ids) == len(set(emotions)) + 10


def test_ten_listeners_in_parallel_threads(catalog):
    """What each page run does (recommend, skip, next, log), for ten listeners in ten threads at
    once against one database: no errors, and the same queues as one listener alone."""
    from app.listening import service
    from app.listening.mood import reading_from_label
    from app.listening.session import ListenerSession

    emotions = ["sad", "happy", "angry", "neutral", "fear", "surprise", "disgust", "sad", "happy", "angry"]

    def listen(label: str, all_ranked: threading.Barrier | None = None) -> list[int]:
        session = ListenerSession()
        session.set_mood(reading_from_label(label))
        service.log_mood(session.session_id, session.mood)
        session.refill(service.recommend)
        first = [item.track_id for item in session.queue]
        if all_ranked is not None:
            # Skips feed the ranking of everyone (a track's skip record), so compare the first
            # queues before anyone has skipped; the writes below still run concurrently.
            all_ranked.wait()
        skipped = session.skip(first[1])
        service.log_listening(session.session_id, skipped.track_id, "skipped", session.strategy, session.mood)
        played = session.next()
        service.log_listening(session.session_id, played.track_id, "played", session.strategy, session.mood)
        session.refill(service.recommend)
        assert first[0] not in [i.track_id for i in session.queue] and first[1] not in [
            i.track_id for i in session.queue
        ]
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
    at.file_uploader(key="photo").set_value(("me.png", b"definitely not a png", "image/png")).run()
    assert not at.exception, at.exception
    assert any("not an image" in e.value for e in at.error)
    assert at.metric[0].value == "—"


FACE_MODEL = Path(__file__).resolve().parents[1] / "models" / "face_expression.tflite"


@pytest.mark.skipif(not FACE_MODEL.is_file(), reason="face model not trained yet")
def test_photo_of_a_smiling_face_gives_happy_music(catalog):
    from skimage import data

    at = open_app()
    astronaut_bgr = data.astronaut()[:, :, ::-1].copy()
    at.file_uploader(key="photo").set_value(("astronaut.png", _png(astronaut_bgr), "image/png")).run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "happy"
    assert at.image, "the analysed picture with its overlay is shown"
    assert len(queue_on_page(at)) == 5 and all(item["valence"] > 0 for item in queue_on_page(at))


@pytest.mark.skipif(not FACE_MODEL.is_file(), reason="face model not trained yet")
def test_photo_without_a_face_says_so_and_keeps_the_mood(catalog):
    import numpy as np

    at = open_app()
    pick_emotion(at, "sad")
    blank = np.full((240, 320, 3), 200, np.uint8)
    at.file_uploader(key="photo").set_value(("wall.png", _png(blank), "image/png")).run()
    assert any("No face found" in w.value for w in at.warning)
    assert at.metric[0].value == "sad"


def test_unreachable_database_shows_a_message_without_secrets_and_retry_recovers(catalog, monkeypatch, tmp_path):
    working_url = f"sqlite:///{tmp_path / 'moodtune.db'}"
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://moodtune:hunter2secret@127.0.0.1:1/moodtune")
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    message = " ".join(e.value for e in at.error)
    assert "can't reach its database" in message and "127.0.0.1" in message
    assert "hunter2secret" not in message
    assert not at.pills  # the page itself doesn't run half-connected

    monkeypatch.setenv("DATABASE_URL", working_url)  # the database is back
    at.button(key=state_keys.DB_RETRY).click().run()
    assert not at.error
    pick_emotion(at, "happy")
    assert len(queue_on_page(at)) == 5


def test_ice_servers_default_to_none_for_localhost_and_configured_ones_win(monkeypatch):
    from app.ui.live import TURN_PROVIDER_KEYS, resolve_ice_servers, rtc_configuration

    for key in TURN_PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    assert rtc_configuration(resolve_ice_servers(())) == {"iceServers": []}
    turn = {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "set")  # configured servers still win
    assert rtc_configuration(resolve_ice_servers((turn,))) == {"iceServers": [turn]}
