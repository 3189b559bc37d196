"""Browser tests: a real `streamlit run` server on a free port with its own database and media
folder, driven by Playwright in the system Chromium with a fake camera fed from a generated Y4M.

Chromium comes from the OS (`apt-get install -y chromium`); Playwright's own browser download
is not used. WebRTC between the local browser and server needs no STUN (iceServers: []).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from app.config import REPO_ROOT
from app.tools import samples

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("MOODTUNE_CHROMIUM", "/usr/bin/chromium"))
ADMIN_PASSWORD = "e2e-admin-password"
FRAME_SIZE = (640, 480)
EXPECT_TIMEOUT_MS = 20_000  # how long a browser test waits for what a person should see


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def astronaut_frame(size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """The camera's picture: the astronaut photo, undistorted, centred on a grey 640x480 frame."""
    return samples.astronaut_frame(*size, letterbox=True)


def write_y4m(path: Path, frame_bgr: np.ndarray, seconds: float = 3.0, fps: int = 15) -> Path:
    """A yuv420p Y4M of a still frame (Chromium's --use-file-for-fake-video-capture loops it)."""
    import cv2

    height, width = frame_bgr.shape[:2]
    yuv = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(seconds * fps)):
            f.write(b"FRAME\n")
            f.write(yuv)
    return path


@dataclass
class Server:
    url: str
    media_dir: Path
    database_url: str
    process: subprocess.Popen
    log_path: Path


def pick_emotion(page: Page, label: str, attempts: int = 3) -> None:
    """Open the Mood page's Pick tab and click the emotion `label`. A page still in its first run
    when the tab is clicked can put the first tab back as that run ends (ten sessions on two cores
    did), leaving the emotions hidden: then the tab is opened again."""
    import re

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    button = page.get_by_test_id("stButtonGroup").get_by_text(re.compile(rf"\b{label}\b"))
    for attempt in range(attempts):
        page.get_by_role("tab", name=re.compile("Pick")).click()
        try:
            button.click(timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine without the browser; in CI (.ci/run installs it) a missing
    browser is a failure, so the browser tests can't silently stop running."""
    if not condition:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@contextlib.contextmanager
def run_server(
    folder: Path,
    script: str = "streamlit_app.py",
    seed: bool = True,
    *,
    port: int | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[Server]:
    """`streamlit run <script>` (the app by default) with a fresh catalog in `folder`: synthesized
    tracks, or none when `seed` is False (a test script that makes its own). `port` (default: a
    free one) and Streamlit `options` (e.g. `--secrets.files`) as a test needs them."""
    require(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install -y chromium)")
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    media = folder / "media"
    database_url = f"sqlite:///{folder / 'moodtune.db'}"
    env.update(
        DATABASE_URL=database_url,
        MOODTUNE_MEDIA_DIR=str(media),
        MOODTUNE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MOODTUNE_ICE_SERVERS="[]",
        MOODTUNE_FRAGMENT_BELOW_S="0",  # the seeded clips last seconds: none is held back as a jingle
        PYTHONPATH=str(REPO_ROOT),
    )
    # Seed in a child process so this test process keeps its own (isolated) settings.
    seed_code = (
        "from pathlib import Path; from tests.pages_support import seed_catalog; "
        f"seed_catalog(Path({str(media)!r}), Path({str(folder)!r}))"
    )
    if seed:
        subprocess.run([sys.executable, "-c", seed_code], env=env, cwd=REPO_ROOT, check=True)
    port = port or _free_port()
    log_path = folder / "streamlit.log"
    log = open(log_path, "wb")  # noqa: SIM115 (open for the server's lifetime, closed below)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            *options,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield Server(url, media, database_url, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def server(e2e_dir: Path) -> Iterator[Server]:
    with run_server(e2e_dir / "shared-server") as running:
        yield running


@pytest.fixture(scope="session")
def camera_video(e2e_dir: Path) -> Path:
    return write_y4m(e2e_dir / "astronaut.y4m", astronaut_frame())


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the whole run: a second sync_playwright() while one is open
    fails ("Sync API inside the asyncio loop"), and both browsers below are session-wide."""
    require(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # What a person would see can take a few Streamlit reruns to appear on a busy two-core
    # machine: Playwright's default 5 s for expect() read as failures there (issue 30, 11).
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        yield p


@contextlib.contextmanager
def launch_chromium(camera_video: Path, *extra_args: str, driver=None):
    require(CHROMIUM.exists(), f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with contextlib.nullcontext(driver) if driver is not None else sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_video}",
                *extra_args,
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser(camera_video: Path, playwright_driver):
    with launch_chromium(camera_video, driver=playwright_driver) as launched:
        yield launched


@pytest.fixture(scope="session")
def autoplay_browser(camera_video: Path, playwright_driver):
    """Chromium that lets audio start without a click, for tests that listen to playback."""
    autoplay = "--autoplay-policy=no-user-gesture-required"
    with launch_chromium(camera_video, autoplay, driver=playwright_driver) as launched:
        yield launched


@pytest.fixture
def page(browser, server: Server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
