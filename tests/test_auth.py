"""The curator gate against guessing (backoff, lockouts, per session and per client, logged
without the guess) and the signed, expiring cookie that keeps a curator logged in on reload."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.curator_access import CookieSigner, LoginKeys, LoginThrottle, client_key
from app.ui import auth
from app.ui import state_keys as keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env

PASSWORD = "correct horse battery staple"
LOCKED_TITLE = ":material/lock: Curators only"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------------------- the throttle


def test_backoff_then_lockouts_that_double():
    throttle = LoginThrottle(clock=Clock())
    assert [throttle.delay_after(n) for n in range(1, 10)] == [0, 0, 1, 2, 60, 120, 240, 480, 960]
    assert throttle.delay_after(40) == 3600  # capped


def test_a_wait_holds_every_key_of_the_attempt_and_a_success_clears_them():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        verdict = throttle.failure(["session:a", "client:x"])
    assert (verdict.failures, verdict.wait_s) == (5, 60)
    assert throttle.wait_s(["session:new", "client:x"]) == 60  # a new session from the same client
    assert throttle.wait_s(["session:a", "client:y"]) == 60  # the same session from a new address
    assert throttle.wait_s(["session:b", "client:y"]) == 0
    clock.now += 60
    assert throttle.wait_s(["session:a", "client:x"]) == 0
    throttle.success(["session:a", "client:x"])
    assert throttle.failure(["session:a", "client:x"]).wait_s == 0  # counting starts over


def test_behind_a_trusted_proxy_each_client_is_its_own_and_spoofed_headers_are_ignored():
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}  # the client's claim, then the proxy's
    assert client_key("10.0.0.2", forwarded, "X-Forwarded-For") == ("ip:203.0.113.5", True)
    assert client_key("10.0.0.2", {}, "X-Forwarded-For") == ("ip:local", False)  # not through the proxy
    assert client_key("10.0.0.2", forwarded, None) == ("ip:10.0.0.2", True)  # no header trusted
    assert client_key("127.0.0.1", forwarded, None) == ("ip:local", False)
    assert client_key(None) == ("ip:local", False)

    clock = Clock()
    throttle = LoginThrottle(clock=clock, sleep=lambda _s: None)
    attacker = LoginKeys("session:a", "ip:203.0.113.5", True)
    for _ in range(12):
        throttle.failure(attacker.refusing)
        throttle.failure(attacker.slowing)
    curator = LoginKeys("session:c", "ip:198.51.100.20", True)
    assert throttle.wait_s(attacker.refusing) > 0  # the guesser's own client waits
    assert throttle.wait_s(curator.refusing) == 0  # another client doesn't
    assert throttle.slow_down(curator.slowing) == throttle.max_answer_delay_s  # only slowed


def test_the_store_stays_bounded():
    clock = Clock()
    throttle = LoginThrottle(clock=clock, max_entries=100, forget_after_s=10)
    for i in range(1000):
        throttle.failure([f"client:{i}"])
    assert len(throttle._entries) <= 100
    clock.now += 11
    throttle.failure(["client:last"])
    assert len(throttle._entries) == 1


# ----------------------------------------------------------------------------- the cookie


def test_cookie_signs_verifies_and_expires():
    clock = Clock()
    signer = CookieSigner(clock=clock)
    cookie = signer.sign(PASSWORD, ttl_s=3600)
    assert signer.verify(cookie, PASSWORD)
    assert signer.seconds_left(cookie) == 3600
    clock.now += 3599
    assert signer.verify(cookie, PASSWORD)
    clock.now += 1
    assert not signer.verify(cookie, PASSWORD)


def test_cookie_is_void_under_another_password_server_key_or_when_tampered_or_revoked():
    signer = CookieSigner()
    cookie = signer.sign(PASSWORD)
    version, expires, nonce, mac = cookie.split(".")
    assert not signer.verify(cookie, "a new password")
    assert not CookieSigner().verify(cookie, PASSWORD)  # another server process (restart)
    assert not signer.verify(f"{version}.{int(expires) + 10**6}.{nonce}.{mac}", PASSWORD)  # extended by hand
    assert not signer.verify(f"{version}.{expires}.{nonce}.{'0' * len(mac)}", PASSWORD)
    for junk in ("", "v1", "v1.x.y.z", None, 42, "v2." + cookie[3:], cookie + "." + mac):
        assert not signer.verify(junk, PASSWORD)
    assert signer.verify(cookie, PASSWORD)
    signer.revoke(cookie)
    assert not signer.verify(cookie, PASSWORD)


# ----------------------------------------------------------------------------- the page


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    configure_env(monkeypatch, tmp_path, password=PASSWORD)
    clock = Clock()
    auth.LOGIN_THROTTLE.clear()
    monkeypatch.setattr(auth.LOGIN_THROTTLE, "clock", clock)
    clock.slept = []
    monkeypatch.setattr(auth.LOGIN_THROTTLE, "sleep", clock.slept.append)
    yield clock
    auth.LOGIN_THROTTLE.clear()
    cleanup_engines()


def open_page() -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page("app_pages/curate.py").run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, password: str) -> list[str]:
    at.text_input(key=keys.ADMIN_PASSWORD_INPUT).input(password)
    at.get("form_submit_button")[0].click()
    at.run()
    assert not at.exception, at.exception
    return [e.value for e in at.error]


def locked(at: AppTest) -> bool:
    return LOCKED_TITLE in [t.value for t in at.title]


def test_twenty_wrong_guesses_meet_backoff_then_lockout_and_the_password_works_after(env, caplog):
    clock = env
    at = open_page()
    caplog.set_level(logging.WARNING, logger="app.ui.auth")
    messages = [submit(at, f"guess-{i}") for i in range(20)]  # as fast as the attacker can
    assert messages[:2] == [["Wrong password."]] * 2
    assert messages[2] == ["Wrong password. Too many wrong passwords: try again in 1 s."]
    assert messages[3:] == [["Too many wrong passwords. Try again in 1 s."]] * 17  # not even checked

    waits = []
    for i in range(3):  # guessing on as soon as each wait ends: 2 s, then locked 60 s, 120 s
        clock.now += _wait(at)
        waits.append(submit(at, f"more-{i}"))
    assert waits == [
        ["Wrong password. Too many wrong passwords: try again in 2 s."],
        ["Wrong password. Too many wrong passwords: try again in 60 s."],
        ["Wrong password. Too many wrong passwords: try again in 2 min."],
    ]

    # Locked: the right password is refused in the guessing session itself...
    clock.now += 60
    assert submit(at, PASSWORD) == ["Too many wrong passwords. Try again in 60 s."] and locked(at)
    # ...but not in the curator's: all local clients look alike, so the shared keys only slow it.
    clock.slept.clear()
    fresh = open_page()
    assert submit(fresh, PASSWORD) == [] and not locked(fresh)
    assert clock.slept == [auth.LOGIN_THROTTLE.max_answer_delay_s]

    clock.now += 60
    assert submit(at, PASSWORD) == [] and not locked(at)

    failures = [r.getMessage() for r in caplog.records if "curator login failed" in r.getMessage()]
    assert len(failures) == 6  # the wrong passwords that were checked
    assert failures[-1].startswith("curator login failed: client=ip:local session=session:")
    assert "failures=6 wait_s=120 shared_failures=6" in failures[-1]
    assert not any("guess" in m or "more-" in m or PASSWORD in m for m in caplog.messages)


def test_a_strangers_guesses_never_lock_the_curator_out(env):
    """The attack: 12 wrong guesses from one client (all local visitors are one), then the
    curator's right password, at once."""
    clock = env
    for i in range(12):
        stranger = open_page()  # a new session for every guess, as an attacker would
        submit(stranger, f"guess-{i}")
    curator = open_page()
    assert submit(curator, PASSWORD) == [] and not locked(curator)
    assert all(delay <= auth.LOGIN_THROTTLE.max_answer_delay_s for delay in clock.slept)
    assert clock.slept[-1] > 0  # the guessing slowed every answer, the right one too


def _wait(at: AppTest) -> float:
    """How long this page's session must wait now (the keys the gate uses for it)."""
    session = f"session:{at.session_state[keys.LOGIN_SESSION_ID]}"
    return auth.LOGIN_THROTTLE.wait_s([session])


def test_a_reload_with_the_curator_cookie_stays_logged_in(env, monkeypatch):
    at = open_page()
    submit(at, PASSWORD)
    assert not locked(at)
    cookie = at.session_state[keys.CURATOR_COOKIE]

    # A reload is a new session; the browser sends the cookie the login set.
    monkeypatch.setattr(auth, "request_cookie", lambda: cookie)
    reloaded = open_page()
    assert not locked(reloaded) and reloaded.file_uploader

    # Forged, or another password's: locked.
    monkeypatch.setattr(auth, "request_cookie", lambda: cookie[:-4] + "0000")
    assert locked(open_page())
    monkeypatch.setattr(auth, "request_cookie", lambda: cookie)
    monkeypatch.setenv("MOODTUNE_ADMIN_PASSWORD", "a new password")
    assert locked(open_page())
    monkeypatch.setenv("MOODTUNE_ADMIN_PASSWORD", PASSWORD)

    # Logging out revokes it on the server, whatever the browser keeps.
    reloaded = open_page()
    reloaded.button(key=keys.LOGOUT).click().run()
    assert locked(reloaded)
    assert locked(open_page())


def test_an_expired_cookie_is_refused(env, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(auth.COOKIE_SIGNER, "clock", clock)
    at = open_page()
    submit(at, PASSWORD)
    cookie = at.session_state[keys.CURATOR_COOKIE]
    monkeypatch.setattr(auth, "request_cookie", lambda: cookie)
    clock.now += auth.COOKIE_SIGNER.seconds_left(cookie) - 1
    assert not locked(open_page())
    clock.now += 1
    assert locked(open_page())


def test_a_session_replayed_from_another_client_is_not_logged_in(env, monkeypatch):
    at = open_page()
    submit(at, PASSWORD)
    assert not locked(at)
    monkeypatch.setattr(auth, "client_id", lambda: "ip:203.0.113.9")  # same session state, other client
    at.run()
    assert locked(at)


@pytest.mark.parametrize("planted", ["v1.1.x.é", "v1.².a.b", "v1.1." + "é" * 10 + "." + "0" * 64, "v1..", "v1.1.a.b.c"])
def test_a_malformed_curator_cookie_from_another_page_is_treated_as_absent(env, monkeypatch, planted):
    """Any page on the same host can set the cookie: the attack's broke every page with an error box."""
    monkeypatch.setattr(auth, "request_cookie", lambda: planted)
    mood = AppTest.from_file(APP_FILE, default_timeout=60)
    mood.run()
    assert not mood.exception, mood.exception
    assert locked(open_page())
    assert not auth.COOKIE_SIGNER.verify(planted, PASSWORD) and auth.COOKIE_SIGNER.seconds_left(planted) == 0
    auth.COOKIE_SIGNER.revoke(planted)  # a log-out with it in the jar is fine too
