"""The HTTP side of the Streamlit server: headers added to every response it sends, and the
route that serves the catalog's audio to the now-playing bar (``serve_audio``).

Streamlit's /media responses (the audio the players fetch) carry a Content-Type but no
``X-Content-Type-Options: nosniff``, and Streamlit has no setting for response headers. Its
documented hook is ``st.App(script, middleware=[...])``, which ``streamlit run`` (and Streamlit
Community Cloud, which starts the entry script the same way) finds in ``streamlit_app.py`` and
serves the script through: ``SecurityHeaders`` is that middleware. A plain ASGI middleware, so it
also wraps the websocket and static routes untouched (it only adds headers to HTTP responses).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Added to every HTTP response unless the route set it already. nosniff: a browser must take
# the declared type (audio/mpeg, audio/wav...) and never guess another from the bytes.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"x-content-type-options", b"nosniff"),)


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
    from starlette.responses import PlainTextResponse, Response, StreamingResponse

    from app.catalog import repository
    from app.catalog.db import session_scope
    from app.catalog.media import MediaPathError, MediaStore
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
        store = MediaStore()
        size = store.size(media_path)
    except (FileNotFoundError, MediaPathError):
        return PlainTextResponse("This track is no longer in the catalog.", status_code=404)
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
    return StreamingResponse(store.read_range(media_path, start, end), status_code=status, headers=headers)


def audio_routes() -> list[Any]:
    """The routes ``streamlit_app.app`` (the st.App) mounts beside Streamlit's own."""
    from starlette.routing import Route

    return [Route(f"/{AUDIO_PATH}/{{track_id:int}}", serve_audio, methods=["GET", "HEAD"])]
