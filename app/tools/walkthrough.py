"""A listening walk-through in a real browser: the Mood page left playing for many minutes.

    python -m app.tools.walkthrough --minutes 30 [--jump 0.5] [--json]

It starts the app on a fresh demo catalog (as `bench --only listeners` does), opens the Mood
page in headless Chromium with a fake camera showing a smiling face, presses START and lets
auto-advance run. Along the way it does what a listener does: every few minutes it pauses,
reloads the page and checks that the track comes back at the same second and stays paused,
then plays on; in between it picks a mood with the camera on and checks the pick takes effect,
then hands the music back to the camera. A share of the tracks (`--jump`) is skipped ahead to
its last seconds, so a run sees many more track changes than real time would give.

What it reports: track changes, stalls (a track that doesn't start, or audio that falls silent
for more than 2 s while the listener didn't pause it), the longest silence, reloads that
resumed within 3 s and stayed paused, picks that took effect, and whether music went on after
the whole catalog had been heard. It needs Chromium (a dev install), and minutes of CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

from app.tools.listener_load import CHROMIUM, WEBRTC, camera_video, demo_server

SILENCE_S = 2.0  # a gap longer than this with nobody pausing is a stall
RESUME_TOLERANCE_S = 3.0
RELOAD_EVERY_S = 240.0
PICK_EVERY_S = 120.0
PICKS = ("sad", "neutral", "angry", "surprise", "fear")

# The bar's audio element (it carries the track id), wherever it sits in the page.
BAR_AUDIO = """() => {
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el instanceof HTMLAudioElement && el.dataset.trackId) return el;
      if (el.shadowRoot) { const found = visit(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  const a = visit(document);
  return a && {track: a.dataset.trackId, time: a.currentTime, duration: a.duration || 0,
               playing: !a.paused && !a.ended && a.readyState > 2};
}"""
JUMP_NEAR_END = """() => {
  const bar = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot;
  const seek = bar.querySelector('.seek');
  seek.value = '960'; seek.dispatchEvent(new Event('input')); seek.dispatchEvent(new Event('change'));
}"""


class Walk:
    def __init__(self, page, jump: float, seed: int) -> None:
        self.page, self.jump, self.rng = page, jump, random.Random(seed)
        self.figures = {"track_changes": 0, "stalls": 0, "longest_silence_s": 0.0, "tracks_heard": 0,
                        "reloads": 0, "reloads_resumed": 0, "picks": 0, "picks_applied": 0, "jumps": 0}  # fmt: skip
        self.heard: list[str] = []
        self.current: str | None = None
        self.silent_since: float | None = None
        self.to_jump = False

    def bar(self) -> dict | None:
        return self.page.evaluate(BAR_AUDIO)

    def watch(self, seconds: float) -> None:
        """Samples the bar every 0.25 s; counts track changes and silences."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now, audio = time.monotonic(), self.bar()
            if audio and audio["playing"]:
                if self.silent_since is not None:
                    gap = now - self.silent_since
                    self.figures["longest_silence_s"] = round(max(self.figures["longest_silence_s"], gap), 2)
                    self.figures["stalls"] += gap > SILENCE_S
                self.silent_since = None
                if audio["track"] != self.current:
                    self.figures["track_changes"] += self.current is not None
                    self.current = audio["track"]
                    self.heard.append(audio["track"])
                    self.to_jump = self.rng.random() < self.jump  # decided once per play
                if self.to_jump and audio["time"] > 1.0 and audio["duration"] > 8:
                    self.to_jump = False
                    self.figures["jumps"] += 1
                    self.page.evaluate(JUMP_NEAR_END)
            elif self.silent_since is None:
                self.silent_since = now
            time.sleep(0.25)

    def reload(self) -> None:
        """Pause, reload, and check the track is back at the same second, still paused."""
        from playwright.sync_api import expect

        self.figures["reloads"] += 1
        self.page.locator("button.play").click()  # pause
        deadline = time.monotonic() + 10
        while (audio := self.bar()) and audio["playing"] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # the pause's report reaches the server
        before = self.bar()
        self.page.reload()
        expect(self.page.get_by_test_id("stMetric").first).to_be_visible(timeout=60_000)
        deadline = time.monotonic() + 30
        after = self.bar()
        while (after is None or after["track"] != (before or {}).get("track")) and time.monotonic() < deadline:
            time.sleep(0.3)
            after = self.bar()
        time.sleep(1.0)
        after = self.bar()
        if before and after and after["track"] == before["track"] and not after["playing"]:
            self.figures["reloads_resumed"] += abs(after["time"] - before["time"]) <= RESUME_TOLERANCE_S
        self.page.frame_locator(WEBRTC).get_by_role("button", name="START").click()
        self.page.locator("button.play").click()  # play on
        self.silent_since = None

    def pick(self) -> None:
        """Pick a mood with the camera on; then hand the music back to the camera."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import expect

        label = PICKS[self.figures["picks"] % len(PICKS)]
        self.figures["picks"] += 1
        self.page.get_by_role("tab", name=re.compile("Pick")).click()
        self.page.get_by_test_id("stButtonGroup").get_by_text(re.compile(rf"\b{label}\b")).click()
        try:
            expect(self.page.get_by_test_id("stMetricValue").first).to_have_text(label, timeout=15_000)
            self.figures["picks_applied"] += 1
        except PlaywrightTimeout:
            pass
        self.watch(20)
        self.page.get_by_role("radio", name="Camera", exact=True).click()
        self.page.get_by_role("tab", name=re.compile("Camera")).click()


def walk(minutes: float, jump: float = 0.5, seed: int = 7) -> dict:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: the walk-through needs Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp, demo_server(Path(tmp)) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                  f"--use-file-for-fake-video-capture={camera_video(Path(tmp))}"],
        )  # fmt: skip
        page = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"]).new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.frame_locator(WEBRTC).get_by_role("button", name="START").click()
        expect(page.get_by_test_id("stMetricValue").first).to_have_text(re.compile(r"\w"), timeout=90_000)
        walk = Walk(page, jump, seed)
        start = last_reload = last_pick = time.monotonic()
        while (now := time.monotonic()) - start < minutes * 60:
            if now - last_reload >= RELOAD_EVERY_S:
                walk.reload()
                last_reload = time.monotonic()
            elif now - last_pick >= PICK_EVERY_S:
                walk.pick()
                last_pick = time.monotonic()
            walk.watch(5)
        browser.close()
    catalog = len(set(walk.heard))
    figures = dict(walk.figures, minutes=minutes, tracks_heard=catalog)
    # Music went on after every track had come round once: some track was heard a second time.
    figures["played_on_after_all_heard"] = len(walk.heard) > catalog
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--jump", type=float, default=0.5, help="share of tracks skipped to their last seconds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(walk(args.minutes, args.jump, args.seed), indent=1))


if __name__ == "__main__":
    main()
