"""Start-up checks shared by every page: the catalog database must exist, be reachable and be the
one this process opened; leftovers of interrupted writes are swept once per process."""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy.engine import make_url

from app.catalog.db import DatabaseNotInitialised, DatabaseReplaced, DatabaseUnavailable, open_catalog, ping
from app.catalog.media import open_media_store
from app.ui import state_keys as keys

log = logging.getLogger(__name__)

HOW_TO_CREATE = "run `make run` (or `python -m app init-db`)"


@st.cache_resource(show_spinner=False)
def _catalog_ready(database_url: str) -> bool:
    # Once per process and URL: bring an existing catalog up to date. Never creates one: an
    # app that made an empty catalog where the real one had gone would lose it without a word.
    open_catalog(database_url)
    return True


@st.cache_resource(show_spinner=False)
def _temp_files_swept(media_dir: str) -> int:
    # Once per process: leftovers of writes interrupted by a crash (an upload still in flight
    # in another process is spared: see MediaStore.sweep_temp_files).
    try:
        removed = open_media_store().sweep_temp_files()
    except OSError as exc:
        log.warning("could not sweep temp files in %s: %s", media_dir, exc)
        return 0
    if removed:
        log.info("removed %d leftover temp files from %s", removed, media_dir)
    return removed


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


def ensure_database() -> bool:
    """True when the catalog database is usable; otherwise shows why (with a Retry button when
    waiting may help) and never creates an empty catalog in its place.

    An unreachable database shows a new visitor a page that retries by itself, and a session
    already under way a banner above its page. Listeners never see connection details; curators
    see the host only. The server's log has the details.
    """
    from app.config import ConfigError, get_settings

    try:
        settings = get_settings()
    except ConfigError as exc:
        st.error(f"Moodtune is misconfigured: {exc}.")
        return False
    url = settings.database_url
    try:
        _catalog_ready(url)
        ping(url)  # also checks that the SQLite file is still the one opened
    except DatabaseReplaced as exc:
        _catalog_ready.clear()
        log.error("refusing to use the catalog: %s", exc)
        st.error(f"{_sentence(exc)} Restore it, or {HOW_TO_CREATE} to start a new catalog, then restart the app.")
        return False
    except DatabaseNotInitialised as exc:
        _catalog_ready.clear()
        log.error("refusing to start without a catalog: %s", exc)
        st.error(
            f"Moodtune has no catalog: {exc}. If it was removed, restore it; nothing was created in "
            f"its place. To start a new catalog, {HOW_TO_CREATE}."
        )
        st.button("Retry", key=keys.DB_RETRY)
        return False
    except DatabaseUnavailable as exc:
        _catalog_ready.clear()
        log.warning("catalog database unavailable: %s", exc)  # the server's log has the (masked) URL
        if st.session_state.get(keys.CATALOG_REACHED):
            # A session already under way keeps its page (the player first); each write that
            # fails says so where it was made.
            st.warning(f"{UNREACHABLE} {_where(url)}Your music keeps playing; saving resumes when it is back.")
            return True
        _render_unreachable(url)
        return False
    st.session_state[keys.CATALOG_REACHED] = True
    _temp_files_swept(str(settings.media_dir))
    return True


UNREACHABLE = "The music catalog is unreachable right now, retrying."
RETRY_EVERY_S = 5


def _where(url: str) -> str:
    """The database host for curators (never the URL or the user); nothing for listeners."""
    from app.ui.auth import is_admin

    host = make_url(url).host
    return f"(Database host: {host}.) " if host and is_admin() else ""


def _render_unreachable(url: str) -> None:
    """A new visitor's page during an outage: what is going on, and a retry on its own."""
    st.title(":material/headphones: Moodtune")
    st.warning(f"{UNREACHABLE} {_where(url)}The page comes back by itself as soon as it answers.")
    st.button("Retry now", key=keys.DB_RETRY)
    _retry_when_back(url)


@st.fragment(run_every=RETRY_EVERY_S)
def _retry_when_back(url: str) -> None:
    try:
        ping(url)
    except DatabaseUnavailable:
        st.caption(f"Next try in {RETRY_EVERY_S} seconds.")
        return
    st.rerun(scope="app")
