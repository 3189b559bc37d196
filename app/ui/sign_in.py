"""Sign-in with OpenID Connect (Streamlit's `st.login` / `st.user`) when the secrets have an
`[auth]` section: curators are the signed-in accounts on the allow-list (`curators`, e-mail
addresses); without `[auth]` the curator password (app.ui.auth) stays the way in. Listeners may
sign in too (anonymous stays the default): their listening session then has an id derived from
the account (`listener_session_id`), so likes, history and what the recommender learned follow
them to every device where they sign in; *Forget this session* still deletes all of it.

Streamlit keeps the identity in its own signed, HttpOnly cookie (`cookie_secret`), so a reload
stays signed in and `st.logout()` ends it; nothing here stores a token of its own.
"""

from __future__ import annotations

import hashlib
import hmac

import streamlit as st

from app.config import get_settings
from app.ui import state_keys as keys


def configured() -> bool:
    """True when an OpenID Connect provider is set up in the secrets (`[auth]`)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: st.secrets raises on access
        return False


def signed_in_email() -> str | None:
    """The signed-in account's e-mail (lower case), None when signed out or the provider did
    not vouch for the address."""
    user = st.user
    if not user.is_logged_in:
        return None
    email = user.get("email")
    if not email or user.get("email_verified") is False:
        return None
    return str(email).strip().lower()


def is_curator() -> bool:
    email = signed_in_email()
    return email is not None and email in get_settings().curators


def render_locked_page() -> None:
    """The lock screen's body with sign-in: a button to the provider, or why a signed-in
    account can't curate."""
    email = signed_in_email()
    if email is None:
        st.write("Curators sign in with their account.")
        if st.button("Sign in", type="primary", key=keys.SIGN_IN):
            st.login()
        return
    st.warning(f"You are signed in as {email}, which is not on this app's list of curators.")
    if not get_settings().curators:
        st.caption('No curators are configured: add `curators = ["you@example.org"]` to the secrets.')
    if st.button("Sign out", key=keys.SIGN_OUT_LOCKED):
        st.logout()


def listener_session_id() -> str | None:
    """The listening session id of the signed-in account, the same on every device: an HMAC of
    the provider and the account's subject under the server's cookie secret (so it can't be
    worked out from the account by anyone else). None when nobody is signed in."""
    if not configured() or not st.user.is_logged_in:
        return None
    subject = st.user.get("sub") or signed_in_email()
    if not subject:
        return None
    key = str(st.secrets["auth"]["cookie_secret"]).encode()
    account = f"moodtune-listener\0{st.user.get('iss', '')}\0{subject}".encode()
    return hmac.new(key, account, hashlib.sha256).hexdigest()[:32]


def render_sidebar() -> None:
    """Sign in (to keep likes and history across devices) or sign out, in the sidebar."""
    if st.user.is_logged_in:
        st.sidebar.caption(f"Signed in as {signed_in_email() or st.user.get('name', 'you')}")
        if st.sidebar.button("Sign out", key=keys.SIGN_OUT):
            st.logout()
    elif st.sidebar.button("Sign in", key=keys.SIGN_IN_SIDEBAR, help="Keep your likes and history on every device"):
        st.login()
