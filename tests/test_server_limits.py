"""What the running server holds for a visitor and which pages may frame it: the upload limits
and headers of app.ui.server, checked against the entry's `app` under uvicorn in a child process
(so this one's Streamlit runtime stays untouched), as an attacker would send them."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_media_headers import _child, _free_port

REPO = Path(__file__).resolve().parents[1]

# Serves streamlit_app.app; every session id counts as connected (a websocket session without a
# browser); writes a curator cookie, then every 0.1 s the upload bytes held per session.
SERVE = """
import importlib, json, os, sys, threading, time
import uvicorn
from streamlit import config
app = importlib.import_module("streamlit_app").app
config.get_config_options()
config._set_option("server.enableXsrfProtection", False, "test: the PUTs come from no browser page")
import app.ui.server as ui_server
ui_server.ANONYMOUS_TOTAL_UPLOAD_MB = int(os.environ.get("TEST_ANONYMOUS_TOTAL_UPLOAD_MB", "200"))
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
from streamlit import runtime
rt = runtime.get_instance()
rt.is_active_session = lambda session_id: True
from app.ui.auth import COOKIE_SIGNER
cookie = COOKIE_SIGNER.sign(os.environ["MOODTUNE_ADMIN_PASSWORD"])
while True:
    held = {s: sum(len(r.data) for r in files.values()) for s, files in list(rt.uploaded_file_mgr.file_storage.items())}
    with open(sys.argv[2] + ".tmp", "w") as out:
        json.dump({"cookie": cookie, "held": held}, out)
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(0.1)
"""

MB = 1024 * 1024


@contextmanager
def _server(tmp_path: Path, **extra_env: str) -> Iterator[tuple[str, Path]]:
    port, state, log = _free_port(), tmp_path / "state.json", tmp_path / "server.log"
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        DATABASE_URL=f"sqlite:///{tmp_path / 'moodtune.db'}",
        MOODTUNE_MEDIA_DIR=str(tmp_path / "media"),
        MOODTUNE_ADMIN_PASSWORD="curator-secret-for-tests",
        MOODTUNE_MAX_UPLOAD_MB="30",
        **extra_env,
    )
    with _child([sys.executable, "-c", SERVE, str(port), str(state)], env, log) as process:
        deadline = time.monotonic() + 90
        while not state.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", state


def _put(base: str, session_id: str, n_bytes: int, cookie: str | None = None) -> int:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + b"\0" * n_bytes
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}/_stcore/upload_file/{session_id}/{uuid.uuid4()}",
        data=body,
        method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if cookie:
        request.add_header("Cookie", f"moodtune_curator={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # the server answered 413 and closed while the body was still being sent
        return REFUSED


REFUSED = 413


def _state(path: Path) -> dict:
    time.sleep(0.3)  # the child writes it every 0.1 s
    return json.loads(path.read_text())


def test_an_anonymous_session_cannot_make_the_server_hold_more_than_two_pictures(tmp_path: Path) -> None:
    with _server(tmp_path) as (base, state):
        session = str(uuid.uuid4())
        with ThreadPoolExecutor(6) as pool:  # the attack sent its PUTs at once
            statuses = list(pool.map(lambda _: _put(base, session, 4 * MB), range(12)))
        held = _state(state)["held"].get(session, 0)
        assert statuses.count(204) >= 1 and statuses.count(413) >= 6, statuses
        assert held <= 20 * MB + 64 * 1024, f"the server holds {held / MB:.0f} MB for one anonymous session"
        assert _put(base, str(uuid.uuid4()), 12 * MB) == 413  # over the photo widget's own limit


def test_many_anonymous_sessions_together_hold_no_more_than_the_servers_upload_budget(tmp_path: Path) -> None:
    with _server(tmp_path, TEST_ANONYMOUS_TOTAL_UPLOAD_MB="24") as (base, state):  # scaled down from 200
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: _put(base, str(uuid.uuid4()), 8 * MB), range(8)))
        held = sum(_state(state)["held"].values())
        assert statuses.count(204) >= 1 and statuses.count(REFUSED) >= 4, statuses
        assert held <= 24 * MB, f"the server holds {held / MB:.0f} MB for anonymous sessions"
        cookie = _state(state)["cookie"]
        assert _put(base, str(uuid.uuid4()), 8 * MB, cookie=cookie) == 204  # a curator is never refused by it


def test_a_curator_may_upload_up_to_the_apps_own_limit_and_no_further(tmp_path: Path) -> None:
    with _server(tmp_path) as (base, state):
        cookie = _state(state)["cookie"]
        session = str(uuid.uuid4())
        assert _put(base, session, 25 * MB, cookie=cookie) == 204
        assert _put(base, session, 25 * MB, cookie=cookie + "x") == 413  # a forged cookie is anonymous
        assert _put(base, session, 31 * MB, cookie=cookie) == 413  # MOODTUNE_MAX_UPLOAD_MB=30
        for planted in ("v1.1.x.é", "v1.².a.b", '"unbalanced'):  # malformed: anonymous, not an error
            assert _put(base, str(uuid.uuid4()), 1 * MB, cookie=planted) == 204
            assert _put(base, str(uuid.uuid4()), 12 * MB, cookie=planted) == REFUSED


def test_every_response_forbids_framing_by_other_sites(tmp_path: Path) -> None:
    with _server(tmp_path) as (base, _):
        for path in ("/", "/_stcore/health"):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
            assert headers["x-frame-options"] == "SAMEORIGIN"
            assert "frame-ancestors 'self'" in headers["content-security-policy"]
