"""The curator's page in a real browser: an upload ends with a summary of what happened to each
file, a delete asks first and can be undone, and "needs review" lists the model's unsure tags
with a chart of how the chosen one's mood moves."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import soundfile as sf
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, func, select

from app.catalog.models import Track
from app.config import REPO_ROOT
from app.tools.samples import mood_clip
from tests.e2e.conftest import ADMIN_PASSWORD, Server


def _log_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/curate")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name=re.compile("Curate"))).to_be_visible(timeout=30_000)


def _track_count(server: Server) -> int:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(Track)))
    finally:
        engine.dispose()


def test_an_upload_ends_with_a_summary_of_added_and_failed_files(page: Page, server: Server):
    _log_in(page, server)
    wav = io.BytesIO()
    sf.write(wav, mood_clip("Q1", 7, seconds=4), 22050, format="WAV")
    before = _track_count(server)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [
            {"name": "Browser Band - Upload Test.wav", "mimeType": "audio/wav", "buffer": wav.getvalue()},
            {"name": "notes.wav", "mimeType": "audio/wav", "buffer": b"these are my notes, not audio"},
        ]
    )
    page.get_by_role("button", name=re.compile(r"Tag and add 2 file")).click()
    expect(page.get_by_text(re.compile(r"1 added, 1 failed, 0 already there"))).to_be_visible(timeout=120_000)
    assert _track_count(server) == before + 1


def test_a_delete_asks_first_and_can_be_undone(page: Page, server: Server):
    _log_in(page, server)
    page.get_by_role("tab", name=re.compile("Review")).click()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    before = _track_count(server)
    confirm = page.get_by_role("button", name=re.compile("Yes, delete"))
    for _ in range(3):  # the canvas grid may still be laying out when the first click lands
        page.wait_for_timeout(1000)
        box = grid.bounding_box()
        assert box is not None
        # Glide's grid draws on a canvas: the first column is "delete", the first row under the header.
        page.mouse.click(box["x"] + 37, box["y"] + 35 + 17)
        page.wait_for_timeout(500)
        page.get_by_role("button", name=re.compile("Save changes")).click()
        try:
            expect(confirm).to_be_visible(timeout=5000)
            break
        except AssertionError:
            continue
    expect(confirm).to_be_visible()
    assert _track_count(server) == before  # nothing deleted before the curator confirms
    confirm.click()
    expect(page.get_by_test_id("stAlertContentSuccess").get_by_text(re.compile(r"1 deleted"))).to_be_visible()
    assert _track_count(server) == before - 1
    page.get_by_role("button", name=re.compile("Undo the last save")).first.click()
    expect(page.get_by_test_id("stAlertContentSuccess").get_by_text(re.compile("Undone"))).to_be_visible()
    assert _track_count(server) == before


SHOTS_ENV = "MOODTUNE_SHOTS_DIR"  # where the screenshots go, when set

# The chart's traces, the points of each and its time-axis labels, as the browser drew them.
CHART_JS = """p => ({
    names: p.data.map(d => d.name),
    points: p.data.map(d => d.x.length),
    xTicks: [...p.querySelectorAll('.xtick text')].map(t => t.textContent),
    width: p.getBoundingClientRect().width,
})"""


def _table_text(page: Page, rows: int) -> str:
    """The review table's cells once it shows `rows` tracks, from the accessible table Glide's grid
    keeps beside its canvas (it comes once the grid has loaded: seconds on a busy machine)."""
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid.locator("table")).to_have_attribute("aria-rowcount", str(rows + 1), timeout=30_000)
    return grid.text_content() or ""


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get(SHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(800)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def test_a_curator_lists_the_unsure_tags_and_sees_how_one_moves_over_time(browser, e2e_dir):
    """Needs review: only the model's unsure tags, least sure first, each with its confidence in
    words; the track picked below gets its mood timeline as a chart, readable on a phone."""
    from tests.e2e.conftest import run_server

    folder = e2e_dir / "curate-review"
    with run_server(folder, seed=False) as server:
        code = (
            "from pathlib import Path; from tests.pages_support import seed_review_catalog; "
            f"seed_review_catalog(Path({str(server.media_dir)!r}), Path({str(folder)!r}))"
        )
        env = dict(os.environ, DATABASE_URL=server.database_url, MOODTUNE_MEDIA_DIR=str(server.media_dir))
        subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, check=True)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            _log_in(page, server)
            page.get_by_role("tab", name=re.compile("Review")).click()
            assert "Bright Parade" in _table_text(page, 6)

            page.get_by_test_id("stCheckbox").filter(has_text="Needs review").click()
            expect(page.get_by_text(re.compile(r"^2 track\(s\) shown"))).to_be_visible()
            table = _table_text(page, 2)
            assert "Crossroads" in table and "unsure 31 %" in table and "Half Light" in table and "unsure 36 %" in table
            assert table.index("Crossroads") < table.index("Half Light")  # least sure first
            for sure in ("Bright Parade", "Still Water", "Rain Song", "Grey Morning"):
                assert sure not in table

            play = page.get_by_role("combobox", name=re.compile("Play a track"))
            expect(play).to_have_value(re.compile("Crossroads"))  # the least sure comes first
            play.click()
            page.get_by_role("option", name=re.compile("Half Light")).click()
            expect(page.get_by_text(re.compile("Mood over time · the model is unsure 36 %"))).to_be_visible()
            # The player streams from the app's /audio route (not a copy of the file in the
            # server's memory) and plays.
            player = page.locator("audio").first
            expect(player).to_have_attribute("src", re.compile(r"/audio/\d+\?k="))
            player.evaluate("(a) => { a.muted = true; return a.play(); }")
            page.wait_for_function("() => document.querySelector('audio').currentTime > 0.2", timeout=20_000)
            charts = page.get_by_test_id("stPlotlyChart").locator(".js-plotly-plot")
            # Half Light's chart labels its stretches Q4 then Q2 (Crossroads': Q3 then Q1).
            chart = charts.filter(has_text="Q2 tense")
            expect(chart).to_be_visible()
            expect(charts).to_have_count(1)  # the previous track's chart is gone once the rerun ends
            drawn = chart.evaluate(CHART_JS)
            assert drawn["names"] == ["valence", "arousal"] and drawn["points"] == [4, 4]
            assert all(re.fullmatch(r"\d+:\d\d", t) for t in drawn["xTicks"]), drawn["xTicks"]
            chart.scroll_into_view_if_needed()
            _shot(page, "curate_needs_review_1280.png")

            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(1000)
            chart.scroll_into_view_if_needed()
            drawn = chart.evaluate(CHART_JS)
            assert drawn["width"] <= 390 and drawn["xTicks"], drawn
            _shot(page, "curate_needs_review_390.png")
        finally:
            context.close()
