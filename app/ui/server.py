"""The HTTP side of the Streamlit server: headers added to every response it sends.

Streamlit's /media responses (the audio the players fetch) carry a Content-Type but no
``X-Content-Type-Options: nosniff``, and Streamlit has no setting for response headers. Its
documented hook is ``st.App(script, middleware=[...])``, which ``streamlit run`` (and Streamlit
Community Cloud, which starts the entry script the same way) finds in ``streamlit_app.py`` and
serves the script through: ``SecurityHeaders`` is that middleware. A plain ASGI middleware, so it
also wraps the websocket and static routes untouched (it only adds headers to HTTP responses).
"""

from __future__ import annotations

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
