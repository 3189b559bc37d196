"""Start-up checks shared by every page: the database must be reachable and have its schema."""

from __future__ import annotations

import streamlit as st

from app.catalog.db import DatabaseUnavailable, init_db, ping
from app.ui import state_keys as keys


@st.cache_resource(show_spinner=False)
def _schema_ready(database_url: str) -> bool:
    # Once per process and URL: create missing tables (idempotent) so a fresh deployment works.
    init_db(database_url)
    return True


def ensure_database() -> bool:
    """True when the catalog database is usable; otherwise shows why, with a Retry button.

    The message names the host (password masked by app.catalog.db), never a secret.
    """
    from app.config import ConfigError, get_settings

    try:
        url = get_settings().database_url
    except ConfigError as exc:
        st.error(f"Moodtune is misconfigured: {exc}.")
        return False
    try:
        _schema_ready(url)
        ping(url)
    except DatabaseUnavailable as exc:
        _schema_ready.clear()
        st.error(f"Moodtune can't reach its database: {exc}. Check that it is running, then retry.")
        st.button("Retry", key=keys.DB_RETRY)
        return False
    return True
