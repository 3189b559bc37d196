"""The HTTP side of the Streamlit server: headers added to every response it sends, and the
limits on what an upload may make the server hold.

Streamlit's /media responses (the audio the players fetch) carry a Content-Type but no
``X-Content-Type-Options: nosniff``, and Streamlit has no setting for response headers. Its
documented hook is ``st.App(script, middleware=[...])``, which ``streamlit run`` (and Streamlit
Community Cloud, which starts the entry script the same way) finds in ``streamlit_app.py`` and
serves the script through: ``SecurityHeaders`` and ``UploadLimits`` are those middlewares. Plain
ASGI middlewares, so they also wrap the websocket and static routes untouched.

Uploads: Streamlit keeps every uploaded file in memory under the session that PUT it, for as
long as the session lives, and checks only ``server.maxUploadSize`` per request (a widget's own
``max_upload_size`` is checked by the browser alone). So any visitor could make the server hold
any number of 50 MB files. ``UploadLimits`` refuses, before the body is read: a request without
a Content-Length, one over the app's own upload limit (MOODTUNE_MAX_UPLOAD_MB) for a curator,
and for everyone else anything that would take the session past ``ANONYMOUS_SESSION_UPLOAD_MB``
(what the Mood page's snapshot and photo widgets can need together), or all sessions' uploads
past ``ANONYMOUS_TOTAL_UPLOAD_MB``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from app.listening.mood import MAX_PICTURE_MB

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Added to every HTTP response unless the route set it already. nosniff: a browser must take
# the declared type (audio/mpeg, audio/wav...) and never guess another from the bytes. Framing:
# only by the app's own pages (its components' iframes), never by another site, which could
# dress the curator login up as its own (clickjacking); both headers, for old browsers and new.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
)


class SecurityHeaders:
    """ASGI middleware adding ``SECURITY_HEADERS`` to HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ----------------------------------------------------------------------------- uploads

# Two pictures (a snapshot and a photo) at the widgets' limit: all an anonymous session needs.
ANONYMOUS_SESSION_UPLOAD_MB = 2 * MAX_PICTURE_MB
# What uploads may hold in all before anonymous ones wait (many sessions at once must not take
# the server past its memory budget; a curator's uploads are never refused by it).
ANONYMOUS_TOTAL_UPLOAD_MB = 200
# The multipart framing around one file in an upload request's body.
MULTIPART_MARGIN_BYTES = 64 * 1024
_UPLOAD_PATH = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)/(?P<file>[^/]+)/?$")


def _held_upload_bytes(session_id: str, except_file: str) -> tuple[int, int]:
    """What Streamlit's upload manager holds now: for this session (but `except_file`, which the
    upload would replace), and for all sessions together."""
    from streamlit import runtime

    if not runtime.exists():
        return 0, 0
    storage = getattr(runtime.get_instance().uploaded_file_mgr, "file_storage", None)
    sessions = {sid: dict(files) for sid, files in list(storage.items())} if isinstance(storage, dict) else {}
    mine = sum(len(rec.data) for file_id, rec in sessions.get(session_id, {}).items() if file_id != except_file)
    everyone = sum(len(rec.data) for files in sessions.values() for rec in files.values())
    return mine, everyone


def _is_curator(headers: list[tuple[bytes, bytes]]) -> bool:
    """The request carries a valid curator cookie (see app.ui.auth); anything malformed is no."""
    from app.curator_access import COOKIE_NAME
    from app.ui.auth import COOKIE_SIGNER, configured_password

    for name, value in headers:
        if name.lower() != b"cookie":
            continue
        try:
            jar = SimpleCookie(value.decode("latin-1"))
        except CookieError:
            continue
        morsel = jar.get(COOKIE_NAME)
        if morsel is not None and COOKIE_SIGNER.verify(morsel.value, configured_password()):
            return True
    return False


class UploadBudget:
    """Bytes in upload requests still being received, per session and in all (counted with what is
    already held, so parallel PUTs can't each pass the check alone)."""

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def reserve(self, session_id: str, n_bytes: int, held: tuple[int, int], caps: tuple[int, int] | None) -> bool:
        """Note `n_bytes` coming for the session unless that would take it past caps[0], or all
        sessions past caps[1] (no caps: a curator)."""
        with self._lock:
            if caps is not None:
                mine = held[0] + self._in_flight[session_id] + n_bytes
                everyone = held[1] + sum(self._in_flight.values()) + n_bytes
                if mine > caps[0] or everyone > caps[1]:
                    return False
            self._in_flight[session_id] += n_bytes
            return True

    def release(self, session_id: str, n_bytes: int) -> None:
        with self._lock:
            self._in_flight[session_id] -= n_bytes
            if self._in_flight[session_id] <= 0:
                del self._in_flight[session_id]


class UploadLimits:
    """ASGI middleware: the upload limits in the module docstring, checked before Streamlit reads
    an upload's body (refused with 411 or 413, logged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.budget = UploadBudget()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _UPLOAD_PATH.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "PUT":
            await self.app(scope, receive, send)
            return
        from app.config import get_settings

        session_id = match["session"]
        headers = list(scope.get("headers", []))
        length = next((v for k, v in headers if k.lower() == b"content-length"), b"")
        if not length.isdigit():
            await _refuse(send, 411, "an upload must declare its Content-Length")
            return
        n_bytes = int(length)
        curator = _is_curator(headers)
        caps: tuple[int, int] | None
        if curator:
            limit, caps = get_settings().max_upload_bytes + MULTIPART_MARGIN_BYTES, None
        else:
            limit = MAX_PICTURE_MB * 1024 * 1024 + MULTIPART_MARGIN_BYTES
            caps = (
                ANONYMOUS_SESSION_UPLOAD_MB * 1024 * 1024 + MULTIPART_MARGIN_BYTES,
                ANONYMOUS_TOTAL_UPLOAD_MB * 1024 * 1024,
            )
        held = _held_upload_bytes(session_id, match["file"])
        if n_bytes > limit or not self.budget.reserve(session_id, n_bytes, held, caps):
            log.warning(
                "upload refused: session=%s curator=%s bytes=%d held=%d/%d", session_id[:8], curator, n_bytes, *held
            )
            await _refuse(send, 413, "this upload is over the size this session may send")
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.budget.release(session_id, n_bytes)


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = reason.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
