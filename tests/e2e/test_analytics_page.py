"""The Analytics page in a real browser: an empty range (a fresh catalog) says there is nothing
yet and draws no broken axes; a populated one draws rates with their counts, and "Did it work?"
the mood change per strategy and per track with its intervals. Screenshots at a desktop and a
phone width go to $MOODTUNE_SHOTS_DIR when it is set (for a person to look at)."""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from app.analytics import MIN_RESPONSES
from app.catalog.db import dispose_engines, init_db, session_scope
from app.catalog.models import ListeningEvent, MoodEvent, MoodResponse, Track
from tests.e2e.conftest import ADMIN_PASSWORD, run_server

WIDTHS = {"desktop": 1280, "phone": 390}
# Every rendered chart's axes, as Plotly drew them (_fullLayout: after autorange).
AXES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => ({
    key: [...p.closest('[class*="st-key-chart_"]')?.classList ?? []].find(c => c.startsWith('st-key-')) ?? '',
    layoutY: p.layout.yaxis?.range ?? null,
    y: p._fullLayout.yaxis?.range ?? null,
    yFormat: p._fullLayout.yaxis?.tickformat ?? '',
    xType: p._fullLayout.xaxis?.type ?? '',
    xTicks: [...p.querySelectorAll('.xtick text')].map(t => t.textContent),
    title: p.querySelector('.gtitle')?.textContent ?? '',
    modebar: p.querySelectorAll('.modebar-btn').length,
}))"""


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("MOODTUNE_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # The page scrolls inside Streamlit's main block, not the document: grow the window to it.
        height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(Path(folder) / f"analytics_{name}.png"), full_page=True)


def _open(browser, url: str, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{url}/analytics")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name=re.compile("Analytics"))).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)  # a busy machine is slow
    page.wait_for_timeout(1500)  # let every chart draw
    return page


def _metric_columns(page: Page) -> int:
    """How many metrics share the first row."""
    tops = page.locator('[data-testid="stMetric"]').evaluate_all(
        "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
    )
    return tops.count(tops[0])


def _assert_fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    for box in page.locator(".js-plotly-plot").evaluate_all("els => els.map(e => e.getBoundingClientRect())"):
        assert box["right"] <= width + 1


def test_an_empty_range_says_so_and_draws_no_broken_axes(browser, e2e_dir):
    folder = e2e_dir / "analytics-empty"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'moodtune.db'}"
    init_db(url)  # a fresh, empty catalog, as `make run` makes it
    dispose_engines()
    with run_server(folder, seed=False) as server:
        for width in WIDTHS.values():
            page = _open(browser, server.url, width)
            expect(page.get_by_text("No mood readings in this date range.")).to_be_visible()
            expect(page.get_by_role("heading", name="Did it work?")).to_be_visible()
            expect(page.get_by_text(re.compile("No mood responses in this date range"))).to_be_visible()
            expect(page.get_by_text(re.compile("No track lifted the mood on average yet"))).to_be_visible()
            expect(page.get_by_text(re.compile("Not enough data yet")).first).to_be_visible()
            axes = page.evaluate(AXES_JS)
            assert axes, "no chart drawn"
            for chart in axes:
                assert chart["title"] == "" and chart["modebar"] == 0, chart  # no toolbar over the subheaders
                if chart["key"] == "st-key-chart_scatter":
                    continue  # the valence/arousal plane is -1..1 by design
                assert chart["y"][0] == 0 and chart["y"][1] == 1, chart  # not -1..1 or -1..4
                assert chart["layoutY"] == chart["y"], chart
            rates = [c for c in axes if "rates" in c["key"]]
            assert len(rates) == 2 and all(c["yFormat"] == ".0%" for c in rates)
            assert _metric_columns(page) == (4 if width > 640 else 2)
            _assert_fits(page, width)
            _shot(page, f"empty_{width}")
            page.context.close()


def _populate(database_url: str, today: datetime) -> None:
    """Three days of listening and mood readings over the seeded tracks."""
    rng = random.Random(7)
    with session_scope(database_url) as s:
        tracks = list(s.query(Track.id, Track.quadrant))
        for day in range(3):
            when = today - timedelta(days=day)
            for i, (track_id, quadrant) in enumerate(tracks * 3):
                session_id = f"listener-{day}-{i % 4}"
                strategy = ("match", "lift", "calm")[i % 3]
                outcome = rng.choice(["completed", "completed", "skipped", "played"])
                for action in ("started", outcome) + (("liked",) if quadrant in ("Q1", "Q4") and i % 2 else ()):
                    s.add(
                        ListeningEvent(
                            session_id=session_id, track_id=track_id, action=action, strategy=strategy, created_at=when
                        )
                    )
            for label in rng.choices(["happy", "sad", "neutral", "angry"], k=12):
                s.add(
                    MoodEvent(
                        session_id=f"listener-{day}-0",
                        distribution={label: 1.0},
                        label=label,
                        valence=0.0,
                        arousal=0.0,
                        created_at=when,
                    )
                )
        # Mood responses: lift raised valence on the first track, the second track lowered it
        # (under match), calm has too few to show a mean.
        lifter, lowerer = tracks[0][0], tracks[1][0]
        for i in range(MIN_RESPONSES + 5):
            _response(s, lifter, "lift", 0.2 + 0.02 * (i % 5), 0.0, when=today)
        for i in range(MIN_RESPONSES):
            _response(s, lowerer, "match", -0.25 + 0.02 * (i % 3), 0.05, when=today)
        for _ in range(3):
            _response(s, lifter, "calm", 0.0, -0.3, when=today)
    dispose_engines()


def _response(s, track_id: int, strategy: str, dv: float, da: float, *, when: datetime) -> None:
    s.add(
        MoodResponse(
            session_id="listener-0-0",
            track_id=track_id,
            strategy=strategy,
            valence_start=-0.3,
            arousal_start=0.2,
            valence_end=-0.3 + dv,
            arousal_end=0.2 + da,
            readings=40,
            listened_s=150.0,
            created_at=when,
        )
    )


def test_a_populated_range_shows_rates_with_their_counts(browser, e2e_dir):
    today = datetime.now(UTC).replace(tzinfo=None, hour=12, minute=0, second=0, microsecond=0)
    with run_server(e2e_dir / "analytics-populated") as server:
        _populate(server.database_url, today)
        for width in WIDTHS.values():
            page = _open(browser, server.url, width)
            expect(page.get_by_text(re.compile(r"\d+% \(\d+ of \d+\)")).first).to_be_attached()  # a grid cell
            axes = {c["key"]: c for c in page.evaluate(AXES_JS)}
            emotions = axes["st-key-chart_emotions"]
            assert emotions["xType"] == "category" and emotions["y"] == [0, 1]
            days = {(today - timedelta(days=d)).date().isoformat() for d in range(3)}
            assert set(emotions["xTicks"]) == days  # dates, not "23:59:59.9996"
            # Did it work? Per strategy with counts, the verdict and the minimum rule; per track.
            heading = page.get_by_role("heading", name="Did it work?")
            heading.scroll_into_view_if_needed()  # the tables draw their cells once on screen
            expect(heading).to_be_visible()
            response = axes["st-key-chart_mood_response"]
            assert response["xTicks"] == ["match (n=10)", "lift (n=15)", "calm (n=3)"], response
            assert response["y"][0] < 0 < response["y"][1]  # no change sits inside the axis
            expect(page.get_by_text("worked: mood lifted")).to_be_attached()  # a grid cell, on a phone too
            expect(page.get_by_text("not enough data yet (n=3)").first).to_be_attached()
            if width > 640:  # a phone scrolls the table to the intervals
                expect(page.get_by_text(re.compile(r"^\+0\.2\d \[\+0\.\d\d, \+0\.\d\d\]$")).first).to_be_attached()
            assert "st-key-chart_tracks_lifting" in axes and "st-key-chart_tracks_lowering" in axes
            assert _metric_columns(page) == (4 if width > 640 else 2)
            _assert_fits(page, width)
            _shot(page, f"populated_{width}")
            page.context.close()
