"""Analytics page: what is in the catalog and how listeners respond."""

from app.ui.auth import require_admin

require_admin()

from app.ui.analytics_page import render  # noqa: E402 - only after the gate

render()
