"""The now-playing bar in real Chromium, on a test page (player_harness.py) with three generated
clips (3 s, 12 s, 3 s), a Like button and a strategy radio that rerun the page, and a fragment
that reruns every second.

The bar is a components-v2 element rendered inline in a shadow root (no iframe); its <audio>
element lives on document.body. The probe below looks for audio elements in the document and
in every shadow root, so an audio element anywhere on the page is counted.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app import analytics
from app.catalog.db import session_scope
from app.catalog.models import ListeningEvent, Track
from tests.e2e.conftest import Server, run_server

HARNESS = "tests/e2e/player_harness.py"
SHOTS_ENV = "MOODTUNE_SHOTS_DIR"  # where the layout test saves its screenshots, when set

# Every audio element in the page (document and shadow roots), each with a number that stays
# the element's own for the page's lifetime, so a replaced element shows as a new number.
AUDIO_PROBE = """() => {
  window.__audioIds = window.__audioIds || new WeakMap();
  window.__audioCount = window.__audioCount || 0;
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el instanceof HTMLAudioElement) found.push(el);
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  return found.map((a) => {
    if (!window.__audioIds.has(a)) window.__audioIds.set(a, ++window.__audioCount);
    return {element: window.__audioIds.get(a), track: a.dataset.trackId || null, src: a.currentSrc,
            time: a.currentTime, playing: !a.paused && !a.ended, ended: a.ended};
  });
}"""

FETCH_STATUS = """async ([url, range]) => (await fetch(url, range ? {headers: {Range: range}} : {})).status"""

SEEK_TO = """(share) => {
  const seek = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot.querySelector('.seek');
  seek.value = String(Math.round(share * 1000));
  seek.dispatchEvent(new Event('input'));
  seek.dispatchEvent(new Event('change'));
}"""

BAR_BOXES = """() => {
  const root = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot;
  const box = (s) => { const r = root.querySelector(s).getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; };
  const bar = root.querySelector('.bar');
  return {bar: box('.bar'), meta: box('.meta'), controls: box('.controls'), progress: box('.progress'),
          overflow: bar.scrollWidth - bar.clientWidth, state: bar.dataset.state};
}"""


@pytest.fixture(scope="module")
def harness(e2e_dir: Path) -> Iterator[Server]:
    with run_server(e2e_dir / "player", script=HARNESS, seed=False) as running:
        yield running


@pytest.fixture
def open_page(autoplay_browser, harness: Server):
    contexts = []

    def open_at(width: int, height: int = 900):
        context = autoplay_browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        session_id = f"e2e-{uuid.uuid4().hex[:12]}"
        page.goto(f"{harness.url}/?sid={session_id}")
        return page, session_id

    yield open_at
    for context in contexts:
        context.close()


class Listener:
    """Samples the page's audio elements every 0.2 s and keeps every sample."""

    def __init__(self, page) -> None:
        self.page = page
        self.samples: list[tuple[float, list[dict]]] = []

    def sample(self) -> list[dict]:
        audios = self.page.evaluate(AUDIO_PROBE)
        self.samples.append((time.monotonic(), audios))
        return audios

    def until(self, condition: Callable[[list[dict]], bool], timeout: float, what: str) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            audios = self.sample()
            if condition(audios):
                return audios
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last sample: {audios}")
            time.sleep(0.2)

    def during(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(0.2)


def _playing(track_id: int, after: float = 0.0) -> Callable[[list[dict]], bool]:
    return lambda audios: any(a["playing"] and a["track"] == str(track_id) and a["time"] > after for a in audios)


def _tracks(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {title: tid for tid, title in s.execute(select(Track.id, Track.title))}


def _ticks(page) -> int:
    text = page.get_by_text("tick ").inner_text()
    return int(text.split()[-1])


def test_the_bar_plays_the_queue_through_reruns_and_its_events_reach_the_database(open_page, harness: Server):
    page, session_id = open_page(1280)
    listener = Listener(page)
    listener.until(lambda audios: len(audios) == 1, 30, "the bar's audio element")
    ids = _tracks(harness.database_url)
    short, long_, last = ids["Short Opening"], ids["Long Middle"], ids["Short Ending"]

    # (a) The first clip plays, and when it ends the second starts by itself: no click.
    listener.until(_playing(short, 0.2), 15, "the first clip to play")
    audios = listener.until(_playing(long_, 0.3), 10, "the second clip to start by itself")
    first_src = next(a["src"] for _, s in listener.samples for a in s if a["track"] == str(short))
    assert "/media/" in audios[0]["src"] and audios[0]["src"] != first_src

    # (b) While it plays: a like and a strategy switch (full reruns) and five seconds of
    # fragment reruns. Its currentTime only ever grows, on the same audio element.
    mark = len(listener.samples)
    ticks = _ticks(page)
    page.get_by_role("button", name="Like").click()
    listener.during(1.0)
    page.get_by_text("calm", exact=True).click()
    listener.during(5.5)
    assert _ticks(page) >= ticks + 4, "the fragment did not rerun every second"
    during = [a for _, s in listener.samples[mark:] for a in s]
    assert {a["track"] for a in during} == {str(long_)} and all(a["playing"] for a in during)
    times = [a["time"] for a in during]
    assert all(later >= earlier for earlier, later in zip(times, times[1:], strict=False)), (
        f"currentTime went back: {times}"
    )
    assert times[-1] - times[0] > 5.0
    assert len({a["element"] for _, s in listener.samples for a in s}) == 1, "the audio element was replaced"
    # Streamlit still serves the track after those reruns, in ranges (seeking), and the bar
    # links the same file for download under the track's name.
    src = during[-1]["src"]
    assert page.evaluate(FETCH_STATUS, [src, "bytes=0-99"]) == 206 and page.evaluate(FETCH_STATUS, [src, None]) == 200
    download = page.locator("a.download")  # Playwright's CSS selectors see into the shadow root
    assert download.get_attribute("download") == "Harness Trio - Long Middle.wav"
    assert src.endswith(download.get_attribute("href"))

    # The keyboard: space pauses and resumes (focus on no control), N skips to the next track.
    page.get_by_role("heading", name="Player harness").click()
    page.keyboard.press("Space")
    paused = listener.until(lambda audios: not audios[0]["playing"], 5, "space to pause")
    page.wait_for_timeout(600)
    assert listener.sample()[0]["time"] == pytest.approx(paused[0]["time"], abs=0.05)
    page.keyboard.press("Space")
    listener.until(_playing(long_, paused[0]["time"] + 0.2), 5, "space to resume")
    page.wait_for_timeout(500)
    page.keyboard.press("n")
    listener.until(_playing(last, 0.2), 10, "N to skip to the last clip")
    listener.until(lambda audios: audios[0]["ended"], 10, "the last clip to end")
    page.wait_for_timeout(1500)  # its "completed" report reaches Python

    # (c) One audio element from the moment the bar appeared, never two playing.
    counts = [len(audios) for _, audios in listener.samples]
    assert set(counts[counts.index(1) :]) == {1}
    assert all(sum(a["playing"] for a in audios) <= 1 for _, audios in listener.samples)

    # (d) What the audio did is in the database, with positions, and analytics counts it.
    with session_scope(harness.database_url) as s:
        rows = s.execute(
            select(
                ListeningEvent.track_id,
                ListeningEvent.action,
                ListeningEvent.position_s,
                ListeningEvent.completed,
                ListeningEvent.strategy,
            )
            .where(ListeningEvent.session_id == session_id)
            .order_by(ListeningEvent.id)
        ).all()
        by_track = {
            tid: [(r.action, r.position_s, r.completed) for r in rows if r.track_id == tid] for tid in ids.values()
        }
        assert [a for a, _, _ in by_track[short]] == ["started", "completed"]
        assert by_track[short][1][1] == pytest.approx(3.0, abs=0.1) and by_track[short][1][2] is True
        assert [a for a, _, _ in by_track[long_]] == ["started", "liked", "paused", "skipped"]
        skipped_at = by_track[long_][3][1]
        assert paused[0]["time"] < skipped_at < 12.0 and by_track[long_][3][2] is False
        assert by_track[long_][2][1] == pytest.approx(paused[0]["time"], abs=0.3)
        assert [a for a, _, _ in by_track[last]] == ["started", "completed"]
        assert [r.strategy for r in rows if r.action == "skipped"] == ["calm"]

        assert len(rows) == 8  # resumed and advanced are not listening events

        # Only this test listens with "calm": the skip, then the last clip's start and completion.
        calm = analytics.feedback_by_strategy(s).set_index("strategy").loc["calm"]
        assert calm[["started", "completed", "skipped", "liked"]].tolist() == [1, 1, 1, 0]
        assert calm["moved_on"] == 2  # the skip and the completion: the skip rate's denominator


@pytest.mark.parametrize("width", [1280, 390])
def test_the_bar_is_one_line_on_a_desktop_and_stacked_on_a_phone(open_page, width: int):
    page, _ = open_page(width, 844 if width < 500 else 900)
    Listener(page).until(_playing_any, 30, "the bar to play")
    boxes = page.evaluate(BAR_BOXES)
    assert boxes["overflow"] <= 1 and boxes["bar"]["right"] <= width
    meta, controls, progress = boxes["meta"], boxes["controls"], boxes["progress"]
    if width >= 1000:
        # One row: title, buttons and progress side by side, the bar no taller than a button row.
        assert boxes["bar"]["height"] < 80
        assert meta["right"] <= controls["left"] and controls["right"] <= progress["left"]
        assert abs((meta["top"] + meta["bottom"]) / 2 - (progress["top"] + progress["bottom"]) / 2) < 8
    else:
        # Stacked: title and buttons on one row, the progress under them, full width.
        assert progress["top"] >= meta["bottom"] - 1 and progress["top"] >= controls["bottom"] - 8
        assert abs((meta["top"] + meta["bottom"]) / 2 - (controls["top"] + controls["bottom"]) / 2) < 8
    if width < 1000:
        # Seeking on the progress bar moves the audio (the first clip is 3 s long).
        listener = Listener(page)
        before = listener.sample()[0]["time"]
        page.evaluate(SEEK_TO, 0.8)
        after = listener.until(lambda audios: audios[0]["time"] >= 2.3, 0.5, "the seek to 80 %")[0]["time"]
        assert after - before > 0.9  # further than playing on during the wait could take it
    shots = os.environ.get(SHOTS_ENV)
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / f"player_{width}.png"))


def _playing_any(audios: list[dict]) -> bool:
    return any(a["playing"] and a["time"] > 0.3 for a in audios)
