"""The route the now-playing bar fetches audio from (issue 30): a track's URL answers for as long
as the track is in the catalog and the browser session it was granted to is connected, whatever
script runs came and went; Range requests get the bytes asked for; a URL made for another
session or another track, or for a deleted track, is refused.

Driven as the ASGI app it is (no server, no Streamlit runtime: whether a session is connected is
the one thing stood in for)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.catalog import repository
from app.catalog.db import session_scope
from app.ui import server
from tests.pages_support import seed_catalog


def _fetch(url: str, *, method: str = "GET", range_header: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request through the app's audio routes, as uvicorn would hand it over."""
    path, _, query = url.partition("?")
    headers = [(b"range", range_header.encode())] if range_header else []
    scope = {
        "type": "http",
        "method": method,
        "path": "/" + path.lstrip("/"),
        "raw_path": ("/" + path.lstrip("/")).encode(),
        "query_string": query.encode(),
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    sent: list[dict] = []
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected (cancelled once the response is sent)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def call() -> None:
        from starlette.routing import Router

        await Router(routes=server.audio_routes())(scope, receive, send)

    # Its own thread: the browser tests' Playwright keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call()).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def catalog(media_dir: Path, tmp_path: Path):
    return seed_catalog(media_dir, tmp_path, per_quadrant=1)


@pytest.fixture
def connected(monkeypatch) -> set[str]:
    """The browser sessions the Streamlit runtime would call connected."""
    sessions: set[str] = {"listener-a", "listener-b"}
    monkeypatch.setattr(server, "_session_connected", lambda session_id: session_id in sessions)
    return sessions


def _file(media_dir: Path, track) -> bytes:
    return (media_dir / track.media_path).read_bytes()


def test_a_granted_track_is_served_whole_with_its_type_and_as_often_as_asked(catalog, connected, media_dir):
    track = catalog[0]
    url = server.grant_audio("listener-a", track.track_id)
    assert url == server.grant_audio("listener-a", track.track_id)  # the same URL on every run
    for _ in range(3):  # no run in between registers it again, and it still answers
        status, headers, body = _fetch(url)
        assert status == 200 and body == _file(media_dir, track)
        assert headers["content-type"] == "audio/wav" and headers["accept-ranges"] == "bytes"
        assert headers["content-length"] == str(len(body))


def test_a_range_request_gets_exactly_the_bytes_asked_for(catalog, connected, media_dir):
    track = catalog[0]
    data = _file(media_dir, track)
    url = server.grant_audio("listener-a", track.track_id)
    status, headers, body = _fetch(url, range_header="bytes=100-199")
    assert status == 206 and body == data[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(data)}"
    status, _, body = _fetch(url, range_header="bytes=-50")  # the last 50 bytes
    assert status == 206 and body == data[-50:]
    status, _, body = _fetch(url, range_header=f"bytes={len(data) - 10}-")
    assert status == 206 and body == data[-10:]
    status, headers, body = _fetch(url, range_header=f"bytes={len(data)}-")
    assert status == 416 and headers["content-range"] == f"bytes */{len(data)}" and body == b""
    status, headers, body = _fetch(url, method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == str(len(data))


def test_a_url_works_only_for_the_session_and_track_it_was_made_for(catalog, connected):
    first, second = catalog[0], catalog[1]
    url = server.grant_audio("listener-a", first.track_id)
    grant = url.partition("?k=")[2]
    assert "listener-a" not in url  # the session id never shows in a URL
    assert _fetch(f"audio/{second.track_id}?k={grant}")[0] == 403  # another track with this grant
    assert _fetch(f"audio/{first.track_id}?k=made-up")[0] == 403
    assert _fetch(f"audio/{first.track_id}")[0] == 403
    connected.discard("listener-a")  # the page was closed: its URLs stop working
    status, _, body = _fetch(url)
    assert status == 403 and b"reload" in body


def test_a_deleted_track_answers_not_found_and_says_so(catalog, connected, media_dir):
    track = catalog[0]
    url = server.grant_audio("listener-b", track.track_id)
    with session_scope() as s:
        repository.delete_track(s, track.track_id)
    status, _, body = _fetch(url)
    assert status == 404 and b"no longer in the catalog" in body


@pytest.mark.parametrize(
    "header,expected",
    [
        (None, None),
        ("bytes=0-", (0, 1000)),
        ("bytes=10-19", (10, 20)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=-1", (999, 1000)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file, as RFC 9110 allows
        ("bytes=abc", None),
        ("items=0-1", None),
    ],
)
def test_range_headers_are_read_as_browsers_send_them(header, expected):
    assert server.parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=20-10", "bytes=-0"])
def test_a_range_outside_the_file_is_not_satisfiable(header):
    with pytest.raises(server.RangeNotSatisfiable):
        server.parse_range(header, 1000)
