"""Curators sign in with OpenID Connect (`st.login`) when the secrets have an `[auth]` section:
a real provider (tests/oidc_provider.py) on 127.0.0.1, Streamlit's own login flow in Chromium,
the curators' allow-list deciding who gets the Curate page."""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app.config import REPO_ROOT
from tests.e2e.conftest import _free_port, pick_emotion, require, run_server

sys.path.insert(0, str(REPO_ROOT / "tests"))
from oidc_provider import OidcProvider  # noqa: E402 (beside the tests, not a package)

CURATOR = "curator@example.org"


@pytest.fixture(scope="module")
def signed_in_server(tmp_path_factory):
    require(__import__("importlib").util.find_spec("authlib") is not None, "Authlib not installed")
    folder = tmp_path_factory.mktemp("sign-in")
    client_id, client_secret = "moodtune-test", secrets.token_urlsafe(16)
    with OidcProvider(client_id, client_secret) as provider:
        port = _free_port()
        config = Path(folder) / "secrets.toml"
        config.write_text(
            f'curators = ["{CURATOR.upper()}"]\n'  # the list is matched without regard to case
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_urlsafe(24)}"\n'
            f'client_id = "{client_id}"\n'
            f'client_secret = "{client_secret}"\n'
            f'server_metadata_url = "{provider.metadata_url}"\n'
        )
        with run_server(Path(folder) / "app", port=port, options=("--secrets.files", str(config))) as server:
            yield server


def _sign_in(page: Page, url: str, email: str, where: str = "/curate", attempts: int = 3) -> None:
    """Click Sign in and sign in on the provider's own page. A click that lands while the page's
    first run is still going can be lost as that run ends (CI on two cores saw it): as a person
    would, Sign in is clicked again when the provider's page hasn't opened."""
    page.goto(f"{url}{where}")
    if where == "/":
        _listening_session(page)  # the Mood page's first run has put its session in the URL
    button = page.get_by_test_id("stMain" if where == "/curate" else "stSidebar").get_by_role("button", name="Sign in")
    email_field = page.get_by_label("Email")
    for attempt in range(attempts):
        button.click(timeout=60_000)
        try:
            email_field.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    email_field.fill(email)  # the provider's own page
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(rf"^{re.escape(url)}"))


def test_a_curator_on_the_list_signs_in_and_reaches_curate(page: Page, signed_in_server):
    url = signed_in_server.url
    page.goto(f"{url}/curate")
    expect(page.get_by_role("heading", name=re.compile("Curators only"))).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Admin password")).to_have_count(0)  # sign-in replaces the password
    _sign_in(page, url, CURATOR)
    page.goto(f"{url}/curate")
    expect(page.get_by_role("heading", name=re.compile("Curate"))).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name=re.compile("Curators only"))).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"\?s="), timeout=30_000)  # back on the Mood page, signed out
    page.goto(f"{url}/curate")
    expect(page.get_by_test_id("stMain").get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)


def test_an_account_not_on_the_list_stays_locked_out(page: Page, signed_in_server):
    url = signed_in_server.url
    _sign_in(page, url, "listener@example.org")
    page.goto(f"{url}/curate")
    expect(page.get_by_text("signed in as listener@example.org, which is not on this app's list")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_role("heading", name=re.compile("Curators only"))).to_be_visible()
    expect(page.get_by_text("Upload")).to_have_count(0)


def _listening_session(page: Page) -> str:
    page.wait_for_url(re.compile(r"[?&]s=[0-9a-f]{32}"), timeout=60_000)
    return re.search(r"[?&]s=([0-9a-f]{32})", page.url).group(1)


def test_a_signed_in_listener_gets_the_same_listening_session_in_a_second_browser(browser, signed_in_server):
    """Likes, history and learned preferences are kept under the listening session's id: the
    same account gets the same one in another browser, anyone else another."""
    url = signed_in_server.url
    ids = {}
    for name, email in (("first", "fan@example.org"), ("second", "fan@example.org"), ("other", "else@example.org")):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        _sign_in(page, url, email, where="/")
        page.goto(url)
        ids[name] = _listening_session(page)
        context.close()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    ids["anonymous"] = _listening_session(page)
    context.close()
    assert ids["first"] == ids["second"]
    assert len({ids["first"], ids["other"], ids["anonymous"]}) == 3


def test_a_signed_in_listeners_like_follows_them_to_a_second_browser(browser, signed_in_server):
    url = signed_in_server.url
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    _sign_in(page, url, "liker@example.org", where="/")
    page.goto(url)
    pick_emotion(page, "happy")
    like = page.locator(".st-key-like_playing").get_by_role("button", name="Like", exact=True)
    expect(like).to_be_visible(timeout=60_000)
    like.click()  # the seeded clips are short: the bar may move on, the like stays in the Liked tab
    page.get_by_role("tab", name=re.compile("Liked")).click()
    liked = page.locator('[class*="st-key-liked_"]').first
    expect(liked).to_be_visible(timeout=30_000)
    title = liked.locator("strong").inner_text()
    # A reload still has it: the like is saved with the session, not only on this page.
    page.reload()
    page.get_by_role("tab", name=re.compile("Liked")).click(timeout=60_000)
    expect(page.locator('[class*="st-key-liked_"]').filter(has_text=title)).to_be_visible(timeout=30_000)
    first.close()

    second = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = second.new_page()
    _sign_in(page, url, "liker@example.org", where="/")
    page.goto(url)
    page.get_by_role("tab", name=re.compile("Liked")).click(timeout=60_000)
    expect(page.locator('[class*="st-key-liked_"]').filter(has_text=title)).to_be_visible(timeout=30_000)
    second.close()
