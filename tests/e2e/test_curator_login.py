"""The curator cookie in a real browser: a reload (a new Streamlit session) keeps the curator
logged in; logging out drops it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.curator_access import COOKIE_NAME
from tests.e2e.conftest import ADMIN_PASSWORD, Server


def _curator_cookies(page: Page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]


def test_a_reload_keeps_the_curator_logged_in_until_logout(page: Page, server: Server):
    page.goto(f"{server.url}/curate")
    locked = page.get_by_role("heading", name=re.compile("Curators only"))
    expect(locked).to_be_visible()
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    curate = page.get_by_role("heading", name=re.compile("Curate"))
    expect(curate).to_be_visible()
    page.wait_for_function(f"document.cookie.includes('{COOKIE_NAME}=v1.')")
    [cookie] = _curator_cookies(page)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0  # expiring, not a session cookie

    page.reload()
    expect(curate).to_be_visible()
    expect(locked).to_have_count(0)
    page.goto(f"{server.url}/analytics")  # a direct URL, another new session
    expect(page.get_by_role("heading", name=re.compile("Analytics"))).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(locked).to_be_visible()
    page.wait_for_function(f"!document.cookie.includes('{COOKIE_NAME}=')")
    page.reload()
    expect(locked).to_be_visible()
