"""The listener's taste on the real Mood page (issue 33): after a run of skips and a few likes,
Up next visibly changes toward the kind of track liked, and its reasons say why.

The catalog is generated tones, long enough that none ends while the test runs (every move on
is a skip the listener made, never a track played through): many close around what a neutral
face asks for, so a ranking that only reorders the mood's neighbourhood never runs out of them,
and a few of each lively kind (happy, tense) further away. The mood is picked by hand (neutral, on
"match my mood"), so no camera or face model is involved.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.config import REPO_ROOT
from app.emotions import QUADRANT_NAMES
from tests.e2e.conftest import Server, pick_emotion, run_server
from tests.e2e.listening_support import Listener
from tests.pages_support import spread_points

CLIP_S = 120.0  # nothing ends by itself while the test runs
# Tracks near a neutral face's mood (sad and calm) are skipped; the liked kind is one away from it.
FAR_KINDS = (QUADRANT_NAMES["Q1"], QUADRANT_NAMES["Q2"])
MAX_SKIPS = 8
SHOTS = Path(os.environ.get("MOODTUNE_SHOTS_DIR", "/tmp/h33b-shots"))

# A 5 x 4 grid around the neutral face's point (-0.06, -0.63), and the lively half of the plane.
NEAR_THE_MOOD = [(v / 10, a / 10) for v in (-4, -2, 0, 2, 4) for a in (-9, -7, -5, -3)]
LIVELY = [p for p in spread_points(6) if p[1] > 0]
SEED = """
import json, sys
from pathlib import Path
from tests.pages_support import seed_catalog
seed_catalog(Path(sys.argv[1]), Path(sys.argv[2]), seconds=float(sys.argv[3]), sr=8000, points=json.loads(sys.argv[4]))
"""

# Each Up next row as a person reads it: the title, the mood badge's words and the reason.
UP_NEXT_ROWS = """() => [...document.querySelectorAll('[class*="st-key-row_"]')].map((row) => ({
  title: row.querySelector('[data-testid=stMarkdownContainer] strong').innerText,
  text: row.querySelector('[data-testid=stMarkdownContainer]').innerText,
  reason: row.querySelector('[data-testid=stCaptionContainer]').innerText,
}))"""
PLAYING = "() => { const a = document.querySelector('audio[data-moodtune-player]'); return a && a.dataset.trackId; }"


@pytest.fixture(scope="module")
def taste_server(e2e_dir: Path) -> Iterator[Server]:
    folder = e2e_dir / "taste"
    with run_server(folder, seed=False) as running:
        env = dict(
            os.environ,
            DATABASE_URL=running.database_url,
            MOODTUNE_MEDIA_DIR=str(running.media_dir),
            PYTHONPATH=str(REPO_ROOT),
        )
        seed_args = [str(running.media_dir), str(folder), str(CLIP_S), json.dumps(NEAR_THE_MOOD + LIVELY)]
        subprocess.run([sys.executable, "-c", SEED, *seed_args], env=env, cwd=REPO_ROOT, check=True)
        yield running


def _kind(row: dict) -> str:
    """The mood badge's words on a row (the same words the page shows for the quadrant)."""
    return next(words for words in QUADRANT_NAMES.values() if words in row["text"])


def _settled_rows(page: Page, timeout: float = 60.0) -> list[dict]:
    """Up next once the page has stopped redrawing it: the same rows read three times running
    (a rerun after a report can redraw it a moment after the bar has moved on)."""
    deadline = time.monotonic() + timeout
    seen: list[list[dict]] = []
    while True:
        rows = page.evaluate(UP_NEXT_ROWS)
        seen = [*seen[-2:], rows]
        if len(seen) == 3 and rows and all(s == rows for s in seen):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"Up next kept changing: {seen}")
        page.wait_for_timeout(700)


def _shot(page: Page, name: str) -> None:
    """The Up next tabs, every row of them (Streamlit scrolls its main section, so a page
    screenshot would cut rows off)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    tabs = page.get_by_test_id("stTabs").filter(has=page.locator('[class*="st-key-row_"]'))
    tabs.screenshot(path=str(SHOTS / name))


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_after_skips_and_a_few_likes_up_next_turns_to_the_liked_kind(
    autoplay_browser, taste_server: Server, width: int, height: int
):
    context = autoplay_browser.new_context(viewport={"width": width, "height": height}, permissions=["camera"])
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(taste_server.url)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=60_000)
        pick_emotion(page, "neutral")
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("neutral", timeout=30_000)
        expect(page.get_by_text(re.compile("^Music follows you")).first).to_be_visible()
        expect(page.get_by_role("radio", name="match my mood")).to_be_checked()
        listener = Listener(page)
        listener.until(lambda a: any(x["track"] and x["playing"] for x in a), 60, "the music to start")
        first = _settled_rows(page)

        # A run of early skips with the bar's Next, until Up next offers a kind far from the mood.
        skipped: list[str] = []
        rows = first
        while len(skipped) < 3 or not any(_kind(r) in FAR_KINDS for r in rows):
            assert len(skipped) < MAX_SKIPS, f"{MAX_SKIPS} skips and Up next never left the mood: {rows}"
            playing = page.evaluate(PLAYING)
            page.locator("button.next").click()
            page.wait_for_function(f"() => ({PLAYING})() && ({PLAYING})() !== {playing!r}", timeout=30_000)
            skipped.append(playing)
            rows = _settled_rows(page)
        expect(page.get_by_text(re.compile("you've skipped")).first).to_be_visible()
        before = rows
        _shot(page, f"taste_before_{width}.png")

        # A few likes, straight from Up next, of the far kind it now offers.
        liked_kind = next(_kind(r) for r in before if _kind(r) in FAR_KINDS)
        liked: list[str] = []
        for _ in range(2):
            row = next((r for r in _settled_rows(page) if _kind(r) == liked_kind and r["title"] not in liked), None)
            if row is None:
                break
            up_next_row = page.locator('[class*="st-key-row_"]').filter(has_text=row["title"])
            up_next_row.locator('[class*="st-key-upnext_like_"] button:visible').first.click()
            expect(up_next_row.locator('[class*="st-key-upnext_like_"] button').first).to_be_disabled()
            liked.append(row["title"])

        # Up next, besides the liked tracks themselves, is now mostly the liked kind, saying why.
        expect(page.get_by_text(re.compile("more like the .* ones you liked")).first).to_be_visible(timeout=30_000)
        after = _settled_rows(page)
        _shot(page, f"taste_after_{width}.png")
        others_before = [_kind(r) for r in before if r["title"] not in liked]
        others_after = [_kind(r) for r in after if r["title"] not in liked]
        summary = f"skipped {len(skipped)}, liked {liked} ({liked_kind});\nbefore {before}\nafter {after}"
        assert others_after.count(liked_kind) * 2 > len(others_after), summary
        assert others_after.count(liked_kind) > others_before.count(liked_kind), summary
    finally:
        context.close()
