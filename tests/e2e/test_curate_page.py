"""The curator's page in a real browser: an upload ends with a summary of what happened to each
file, and a delete asks first and can be undone."""

from __future__ import annotations

import io
import re

import soundfile as sf
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, func, select

from app.catalog.models import Track
from app.tools.samples import mood_clip
from tests.e2e.conftest import ADMIN_PASSWORD, Server


def _log_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/curate")
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name=re.compile("Curate"))).to_be_visible()


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
