"""The HTTP side of the Streamlit server: headers added to every response it sends, and the
route that serves the catalog's audio to the now-playing bar (``serve_audio``), and the
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

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections import OrderedDict, defaultdict
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


# ----------------------------------------------------------------------------- the audio route
# Why not Streamlit's /media: its files are registered per script run and dropped at the end of
# any run (an interrupted one included) that didn't register them again, so a URL the bar holds
# for its next track could answer 404 by the time the bar asked (issue 30); and it holds each
# file whole in memory. This route serves a track for as long as the track is in the catalog,
# to the browser session it was granted to, streamed from the media store with Range support.

AUDIO_PATH = "audio"  # the route is /audio/{track_id}?k=<grant>
_GRANTS_KEPT = 50_000  # (grant → session, track) pairs remembered, oldest dropped first
_GRANT_KEY = secrets.token_bytes(32)  # per server process: a grant is only good where it was made
_grants: OrderedDict[str, tuple[str, int]] = OrderedDict()
_grants_lock = threading.Lock()


def grant_audio(session_id: str, track_id: int) -> str:
    """The URL (relative to the page) under which browser session `session_id` may fetch track
    `track_id`: the same on every run, valid while that session is connected and the track is
    in the catalog. The grant is an HMAC, so the session id itself never appears in a URL."""
    mac = hmac.new(_GRANT_KEY, f"{session_id}/{track_id}".encode(), hashlib.sha256).digest()
    grant = base64.urlsafe_b64encode(mac[:18]).decode()
    with _grants_lock:
        _grants[grant] = (session_id, track_id)
        _grants.move_to_end(grant)
        while len(_grants) > _GRANTS_KEPT:
            _grants.popitem(last=False)
    return f"{AUDIO_PATH}/{track_id}?k={grant}"


def granted_session(grant: str, track_id: int) -> str | None:
    """The browser session a grant was made for, when it was made for this track."""
    with _grants_lock:
        entry = _grants.get(grant)
    return entry[0] if entry is not None and entry[1] == track_id else None


class RangeNotSatisfiable(ValueError):
    """A Range header naming bytes the file doesn't have (answered 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single-range ``Range: bytes=…`` header; None for the whole
    file (no header, or one this route doesn't honour: several ranges, not numbers, which
    RFC 9110 lets a server ignore). Raises RangeNotSatisfiable for a range outside the file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or first == last == "":
        return None
    if first == "":  # the last N bytes
        count = int(last)
        start, end = max(0, size - count), size
        if count == 0:
            raise RangeNotSatisfiable(header)
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    if start >= size or end <= start:
        raise RangeNotSatisfiable(header)
    return start, end


def _session_connected(session_id: str) -> bool:
    from streamlit import runtime

    return runtime.exists() and runtime.get_instance().is_active_session(session_id)


def serve_audio(request: Any) -> Any:
    """GET/HEAD /audio/{track_id}?k=<grant>: the track's file, whole or one byte range."""
    from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

    from app.catalog import repository
    from app.catalog.db import session_scope
    from app.catalog.media import MediaPathError, open_media_store
    from app.library.formats import mime_type

    track_id = int(request.path_params["track_id"])
    session_id = granted_session(request.query_params.get("k", ""), track_id)
    if session_id is None or not _session_connected(session_id):
        return PlainTextResponse("This audio link belongs to another page: reload the page.", status_code=403)
    try:
        with session_scope() as db:
            track = repository.get_track(db, track_id)
            media_path = track.media_path if track is not None else None
        if media_path is None:
            raise FileNotFoundError(track_id)
        store = open_media_store()
        size = store.size(media_path)
    except (FileNotFoundError, MediaPathError):
        return PlainTextResponse("This track is no longer in the catalog.", status_code=404)
    url = store.playback_url(media_path)
    if url is not None:  # a bucket's track: the browser fetches it (ranges too) from the bucket itself
        return RedirectResponse(url, status_code=307)
    headers = {
        "accept-ranges": "bytes",
        "content-type": mime_type(media_path),
        # The bytes under a track id never change (the store is content-addressed), but the
        # grant is per browser session: the browser may keep them, shared caches may not.
        "cache-control": "private, max-age=3600",
    }
    try:
        span = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{size}"})
    start, end = span if span is not None else (0, size)
    headers["content-length"] = str(end - start)
    status = 200
    if span is not None:
        status = 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(store.iter_range(media_path, start, end), status_code=status, headers=headers)


def audio_routes() -> list[Any]:
    """The routes ``streamlit_app.app`` (the st.App) mounts beside Streamlit's own."""
    from starlette.routing import Route

    return [Route(f"/{AUDIO_PATH}/{{track_id:int}}", serve_audio, methods=["GET", "HEAD"])]


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
