"""Password gate for the curator and analytics pages.

Why a signed token instead of ``session_state["admin"] = True``: anything in session state can be
set by a widget with a matching key (or by a test harness), so a boolean flag could be forged.
The gate instead stores an HMAC of the configured password under a key only this process knows;
forging it requires the password. Changing the password invalidates every open admin session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import streamlit as st

from app.config import get_settings
from app.ui import state_keys as keys

# A fresh random key per server process: tokens never survive a restart and can't be computed
# from outside the process.
_PROCESS_KEY: bytes = secrets.token_bytes(32)


def _token_for(password: str) -> str:
    return hmac.new(_PROCESS_KEY, password.encode("utf-8"), hashlib.sha256).hexdigest()


def configured_password() -> str | None:
    """The admin password from settings, or None when none (or an empty one) is configured."""
    password = get_settings().admin_password
    return password or None


def password_matches(candidate: str, password: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the password."""
    return hmac.compare_digest(candidate.encode("utf-8"), password.encode("utf-8"))


def is_admin() -> bool:
    """True when this browser session logged in with the currently configured password."""
    password = configured_password()
    if password is None:
        return False
    token = st.session_state.get(keys.ADMIN_TOKEN)
    if not isinstance(token, str):
        return False
    return hmac.compare_digest(token, _token_for(password))


def logout() -> None:
    st.session_state.pop(keys.ADMIN_TOKEN, None)


def _try_login() -> None:
    """on_submit callback: check the typed password, then forget it."""
    password = configured_password()
    candidate = st.session_state.pop(keys.ADMIN_PASSWORD_INPUT, "") or ""
    if password is not None and password_matches(str(candidate), password):
        st.session_state[keys.ADMIN_TOKEN] = _token_for(password)
        st.session_state.pop(keys.LOGIN_FAILED, None)
    else:
        st.session_state[keys.LOGIN_FAILED] = True


def render_locked_page() -> None:
    """What an admin page shows to anyone who isn't logged in."""
    st.title("🔒 Curators only")
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
    if st.session_state.get(keys.LOGIN_FAILED):
        st.error("Wrong password.")


def require_admin() -> None:
    """Call first on every admin page: renders the lock screen and stops the script unless the
    session is logged in. Query parameters and session-state values other than a valid token
    are ignored."""
    if not is_admin():
        render_locked_page()
        st.stop()


def render_logout_button() -> None:
    if is_admin() and st.sidebar.button("Log out", key=keys.LOGOUT):
        logout()
        st.rerun()
