"""The audio a browser fetches from the running app comes with its declared type and
`X-Content-Type-Options: nosniff`, so no browser second-guesses an upload's bytes (issue 22).

Two servers, each in a child process so this one's Streamlit runtime stays untouched:
`streamlit run streamlit_app.py` exactly as Streamlit Community Cloud starts it, and the entry's
`app` under uvicorn with an mp3 and a wav registered in Streamlit's media file manager, as the
players register a track, so their /media URLs can be fetched."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]

# Serves streamlit_app.app on a port, registers the files given as (path, mimetype) pairs in
# the media file manager, writes their URLs as JSON to a file, then serves until killed.
SERVE_MEDIA = """
import importlib, json, os, sys, threading, time
import uvicorn
app = importlib.import_module("streamlit_app").app
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"))
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
from streamlit import runtime
media = runtime.get_instance().media_file_mgr
files = json.loads(sys.argv[2])
urls = [media.add(path, mimetype, f"test-{i}") for i, (path, mimetype) in enumerate(files)]
with open(sys.argv[3] + ".tmp", "w") as out:
    json.dump(urls, out)
os.replace(sys.argv[3] + ".tmp", sys.argv[3])
while True:
    time.sleep(1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _child(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(ready, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONPATH=str(REPO),
        DATABASE_URL=f"sqlite:///{tmp_path / 'moodtune.db'}",
        MOODTUNE_MEDIA_DIR=str(tmp_path / "media"),
    )


def _answers(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_media_responses_declare_their_type_and_forbid_sniffing(tmp_path):
    wav, mp3 = tmp_path / "clip.wav", tmp_path / "clip.mp3"
    tone = 0.3 * np.sin(np.linspace(0, 2 * np.pi * 440, 8000))
    sf.write(wav, tone, 8000)
    sf.write(mp3, tone, 8000, format="MP3")
    port = _free_port()
    files, urls, log = [[str(mp3), "audio/mpeg"], [str(wav), "audio/wav"]], tmp_path / "urls.json", tmp_path / "log"
    args = [sys.executable, "-c", SERVE_MEDIA, str(port), json.dumps(files), str(urls)]
    with _child(args, _env(tmp_path), log) as server:
        _wait_for(urls.exists, server, log)
        mp3_url, wav_url = json.loads(urls.read_text())
        for url, path, content_type in ((mp3_url, mp3, "audio/mpeg"), (wav_url, wav, "audio/wav")):
            status, headers, body = _get(f"http://127.0.0.1:{port}{url}")
            assert status == 200 and body == path.read_bytes()
            assert headers["content-type"] == content_type
            assert headers["x-content-type-options"] == "nosniff"


def test_streamlit_run_serves_the_entry_script_through_its_app(tmp_path):
    """What Community Cloud runs: `streamlit run streamlit_app.py` finds the entry's st.App and
    serves through it, so every response (the page, the health check) has the header too."""
    port = _free_port()
    args = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)]
    args += ["--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]
    log = tmp_path / "streamlit.log"
    with _child(args, _env(tmp_path), log) as server:
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/_stcore/health"), server, log)
        status, headers, _ = _get(f"http://127.0.0.1:{port}/_stcore/health")
        assert status == 200 and headers["x-content-type-options"] == "nosniff"
        status, headers, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and b"<html" in body.lower()
        assert headers["content-type"].startswith("text/html") and headers["x-content-type-options"] == "nosniff"
