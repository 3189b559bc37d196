"""The SQLite catalog deleted under a running server: the page refuses (nothing reported as
saved), and neither that server nor a restarted one creates an empty catalog in its place."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import pick_emotion, run_server

ROWS = '[class*="st-key-row_"]'
REMOVED = "was removed while the app was running; nothing was saved"


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _db_file(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


def test_deleting_the_catalog_under_a_running_server_is_refused_and_not_recreated(browser, e2e_dir):
    folder = e2e_dir / "deleted-catalog"
    with run_server(folder) as server:
        db = _db_file(server.database_url)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page: Page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(server.url)
        pick_emotion(page, "sad")
        expect(page.locator(ROWS).first).to_be_visible()

        _remove_sqlite(db)
        # A Like in the open session: refused, the page says why, nothing claims it was saved.
        # A rerun of the page's own (the bar reports as it loads and plays) can meet the missing
        # catalog first: then the rows are gone before the click, and the page says the same.
        try:
            page.locator(ROWS).first.locator('[class*="st-key-upnext_like_"] button:visible').click(timeout=10_000)
        except PlaywrightTimeout:
            expect(page.locator(ROWS)).to_have_count(0)
        alert = page.get_by_test_id("stAlertContentError")
        expect(alert).to_contain_text(REMOVED)
        expect(alert).to_contain_text("python -m app init-db")
        expect(page.get_by_test_id("stAlertContentSuccess")).to_have_count(0)
        expect(page.locator(ROWS)).to_have_count(0)  # the page itself no longer runs

        # A new visitor, and the curator's page, get the same refusal.
        for path in ("", "/curate"):
            fresh = context.new_page()
            fresh.goto(server.url + path)
            expect(fresh.get_by_test_id("stAlertContentError")).to_contain_text(REMOVED)
            fresh.close()
        context.close()
        assert not db.exists()
        log = server.log_path.read_text(errors="replace")
        assert "refusing to use the catalog" in log

    # A restart on the missing file: refused too, and still no new empty catalog.
    with run_server(folder, seed=False) as restarted:
        context = browser.new_context()
        page = context.new_page()
        page.goto(restarted.url)
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("does not exist", timeout=30_000)
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("nothing was created in its place")
        context.close()
        assert not db.exists()
