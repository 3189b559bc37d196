"""Password gate for the curator and analytics pages.

Why a signed token instead of ``session_state["admin"] = True``: anything in session state can be
set by a widget with a matching key (or by a test harness), so a boolean flag could be forged.
The gate instead stores an HMAC of the configured password and the client under a key only this
process knows; forging it requires the password, a Streamlit session id replayed from another
client doesn't carry it over, and changing the password invalidates every open admin session.

Guessing: every attempt counts against its browser session, its client and the curator account
in one process-wide store (`LOGIN_THROTTLE`, see app.curator_access for which of them refuse and
which only slow the answer): reconnecting or opening new sessions doesn't reset it, and no
stranger can lock the curator out. The client is the connection's address as Streamlit reports it
(``st.context.ip_address``), or, behind a reverse proxy, the address the proxy puts in the header
named by MOODTUNE_TRUSTED_PROXY_HEADER (a client's own forwarded-for claims are never used).
Each failure is logged with the client and the counts, never the guess.

Reloads: a login also sets a signed, expiring cookie (`COOKIE_SIGNER`) through a tiny custom
component; a new session whose request carries a valid one is logged in from it. Logging out
revokes the cookie on the server and asks the browser to drop it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets

import streamlit as st

from app.config import get_settings
from app.curator_access import COOKIE_NAME, CookieSigner, LoginKeys, LoginThrottle, client_key
from app.ui import sign_in
from app.ui import state_keys as keys

log = logging.getLogger(__name__)

# A fresh random key per server process: tokens never survive a restart and can't be computed
# from outside the process.
_PROCESS_KEY: bytes = secrets.token_bytes(32)
LOGIN_THROTTLE = LoginThrottle()
COOKIE_SIGNER = CookieSigner()

# Sets or drops the curator cookie in the browser: document.cookie is all a page's script can
# reach (so the cookie can't be HttpOnly); SameSite=Strict keeps other sites from sending it.
_COOKIE_JS = """
export default function (component) {
  const data = component.data;
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  const value = data.value ? data.value : "";
  const age = data.value ? Number(data.max_age) : 0;
  document.cookie = `${data.name}=${value}; Max-Age=${age}; Path=/; SameSite=Strict${secure}`;
}
"""
_cookie_component = st.components.v2.component("moodtune_curator_cookie", js=_COOKIE_JS)


def _token_for(password: str, client: str) -> str:
    return hmac.new(_PROCESS_KEY, f"{password}\0{client}".encode(), hashlib.sha256).hexdigest()


def configured_password() -> str | None:
    """The admin password from settings, or None when none (or an empty one) is configured."""
    password = get_settings().admin_password
    return password or None


def password_matches(candidate: str, password: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the password."""
    return hmac.compare_digest(candidate.encode("utf-8"), password.encode("utf-8"))


def _client() -> tuple[str, bool]:
    try:
        ip, headers = st.context.ip_address, st.context.headers
    except Exception:  # no connection behind this run (tests, bare scripts)
        ip, headers = None, None
    return client_key(ip, headers, get_settings().trusted_proxy_header)


def client_id() -> str:
    """Who is asking, for the throttle and the session token (see the module docstring)."""
    return _client()[0]


def _session_key() -> str:
    key = st.session_state.get(keys.LOGIN_SESSION_ID)
    if not isinstance(key, str):
        key = st.session_state[keys.LOGIN_SESSION_ID] = secrets.token_hex(8)
    return f"session:{key}"


def _throttle_keys() -> LoginKeys:
    client, distinct = _client()
    return LoginKeys(_session_key(), client, distinct)


def request_cookie() -> str | None:
    """The curator cookie the browser sent when this session connected, if any."""
    try:
        value = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # no request behind this run
        return None
    return value if isinstance(value, str) else None


def is_admin() -> bool:
    """True when this browser session logged in with the currently configured password (or
    connected with a valid curator cookie), from the client it logged in from. With sign-in
    configured (`[auth]`), the signed-in account on the curators' list instead."""
    if sign_in.configured():
        return sign_in.is_curator()
    password = configured_password()
    if password is None:
        return False
    expected = _token_for(password, client_id())
    token = st.session_state.get(keys.ADMIN_TOKEN)
    if isinstance(token, str) and hmac.compare_digest(token, expected):
        return True
    cookie = request_cookie()
    if cookie is not None and COOKIE_SIGNER.verify(cookie, password):
        st.session_state[keys.ADMIN_TOKEN] = expected
        st.session_state[keys.CURATOR_COOKIE] = cookie
        return True
    return False


def logout() -> None:
    st.session_state.pop(keys.ADMIN_TOKEN, None)
    for cookie in (st.session_state.pop(keys.CURATOR_COOKIE, None), request_cookie()):
        COOKIE_SIGNER.revoke(cookie)
    st.session_state[keys.CURATOR_COOKIE_CLEAR] = True


def _wait_text(seconds: float) -> str:
    seconds = math.ceil(seconds)
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def _try_login() -> None:
    """on_submit callback: check the typed password (unless this session or client must wait),
    then forget it."""
    password = configured_password()
    candidate = st.session_state.pop(keys.ADMIN_PASSWORD_INPUT, "") or ""
    attempt = _throttle_keys()
    wait = LOGIN_THROTTLE.wait_s(attempt.refusing)
    if wait > 0:
        st.session_state[keys.LOGIN_FAILED] = f"Too many wrong passwords. Try again in {_wait_text(wait)}."
        return
    LOGIN_THROTTLE.slow_down(attempt.slowing)  # the right password too: no answer comes faster
    if password is not None and password_matches(str(candidate), password):
        LOGIN_THROTTLE.success(attempt.refusing + (attempt.client,))
        log.info("curator login: client=%s session=%s", attempt.client, attempt.session)
        st.session_state[keys.ADMIN_TOKEN] = _token_for(password, client_id())
        st.session_state[keys.CURATOR_COOKIE] = COOKIE_SIGNER.sign(password)
        st.session_state.pop(keys.LOGIN_FAILED, None)
        return
    verdict = LOGIN_THROTTLE.failure(attempt.refusing)
    shared = LOGIN_THROTTLE.failure(attempt.slowing)
    log.warning(
        "curator login failed: client=%s session=%s failures=%d wait_s=%.0f shared_failures=%d",
        attempt.client,
        attempt.session,
        verdict.failures,
        verdict.wait_s,
        shared.failures,
    )
    message = "Wrong password."
    if verdict.wait_s > 0:
        message += f" Too many wrong passwords: try again in {_wait_text(verdict.wait_s)}."
    st.session_state[keys.LOGIN_FAILED] = message


def render_locked_page() -> None:
    """What an admin page shows to anyone who isn't logged in."""
    st.title(":material/lock: Curators only")
    if sign_in.configured():
        sign_in.render_locked_page()
        return
    password = configured_password()
    if password is None:
        st.warning("This page is locked because no admin password is configured. Set one to open it:")
        st.markdown(
            "- environment: `export MOODTUNE_ADMIN_PASSWORD='choose-a-long-one'` before "
            "`streamlit run streamlit_app.py`, or\n"
            '- Streamlit secrets: add `admin_password = "choose-a-long-one"` to '
            "`.streamlit/secrets.toml` (on Community Cloud: the app's *Settings → Secrets*)."
        )
        return
    with st.form("admin_login", clear_on_submit=True):
        st.text_input("Admin password", type="password", key=keys.ADMIN_PASSWORD_INPUT)
        st.form_submit_button("Unlock", on_click=_try_login)
    failed = st.session_state.get(keys.LOGIN_FAILED)
    if failed:
        st.error(failed if isinstance(failed, str) else "Wrong password.")


def require_admin() -> None:
    """Call first on every admin page: renders the lock screen and stops the script unless the
    session is logged in. Query parameters and session-state values other than a valid token
    are ignored."""
    if not is_admin():
        render_locked_page()
        st.stop()


def sync_cookie() -> None:
    """Keep the browser's curator cookie in step with the session: set while logged in (each
    run, idempotent), dropped once after a log-out. Call once per run, anywhere."""
    if st.session_state.pop(keys.CURATOR_COOKIE_CLEAR, False):
        _cookie_component(key="curator_cookie", data={"name": COOKIE_NAME, "value": None})
        return
    cookie = st.session_state.get(keys.CURATOR_COOKIE)
    if isinstance(cookie, str) and is_admin():
        data = {"name": COOKIE_NAME, "value": cookie, "max_age": COOKIE_SIGNER.seconds_left(cookie)}
        _cookie_component(key="curator_cookie", data=data)


def render_logout_button() -> None:
    if sign_in.configured():
        sign_in.render_sidebar()
        return
    if is_admin() and st.sidebar.button("Log out", key=keys.LOGOUT):
        logout()
        st.rerun()
