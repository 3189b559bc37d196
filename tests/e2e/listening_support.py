"""What the Mood page's browser tests share: a probe of the page's audio elements, a listener
that samples them, and the now-playing bar's geometry (its component renders in a shadow root).

The bar is a components-v2 element rendered inline in a shadow root (no iframe); its <audio>
element lives on document.body. The probe looks for audio elements in the document and in every
shadow root, so an audio element anywhere on the page is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SHOTS_ENV = "MOODTUNE_SHOTS_DIR"  # where browser tests save their screenshots, when set

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
  const bar = root.querySelector('.bar'), mood = root.querySelector('.mood');
  const style = getComputedStyle(mood);
  return {bar: box('.bar'), meta: box('.meta'), controls: box('.controls'), progress: box('.progress'),
          overflow: bar.scrollWidth - bar.clientWidth, state: bar.dataset.state,
          moodClipped: mood.scrollWidth - mood.clientWidth,
          moodShown: style.fontSize === '0px' ? getComputedStyle(mood, '::after').content : mood.textContent};
}"""


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


# The listener presses Pause: the click happens only while the bar shows Pause (a track
# playing). A click from outside can land in the instant between two short clips, when the
# bar shows Play, and so start the music instead. Returns whether it pressed.
PRESS_PAUSE = """() => {
  const root = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot;
  if (root.querySelector('.bar').dataset.state !== 'playing') return false;
  root.querySelector('button.play').click();
  return true;
}"""

# Up next's titles once the page has caught up with the bar: the bar moves on by itself and
# tells the server after, and until that rerun up next still lists the track the bar plays.
# {playing: the bar's track id, upNext: titles}, or null until then (for page.wait_for_function).
CAUGHT_UP_NEXT = """() => {
  const bar = document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot.querySelector('.bar');
  const playing = bar.querySelector('.title').innerText;
  const rows = [...document.querySelectorAll('[class*="st-key-row_"] [data-testid=stMarkdownContainer] strong')];
  const titles = rows.map((r) => r.innerText);
  return titles.length && !titles.includes(playing) ? {playing: bar.dataset.trackId, upNext: titles} : null;
}"""
