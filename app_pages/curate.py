"""Curator page: upload and tag, review and override, re-tag, server-folder import."""

from app.ui.auth import require_admin

require_admin()

from app.ui.curate_page import render  # noqa: E402 - only after the gate

render()
