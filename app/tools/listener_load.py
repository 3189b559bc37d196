"""The app's memory with listeners (`bench --only listeners`): a real `streamlit run` server on
the demo catalog, Chromium pages with a fake camera (Playwright, the system's Chromium) starting
live camera sessions one after another, then a curator uploading a four-minute song while three
cameras stay on. The server's resident memory (and its analysis worker's, a child process) is
sampled throughout; the figures are the peaks of each phase.

The budget it checks: Community Cloud's smallest app (690 MB) must hold the app, one analysis
worker and three live camera sessions (`budget_app_worker_3_cameras_mb` against `budget_mb`).
Needs Chromium (/usr/bin/chromium or MOODTUNE_CHROMIUM) and Playwright (requirements-dev.txt).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from app.config import REPO_ROOT
from app.tools import samples

BUDGET_MB = 690
CHROMIUM = Path(os.environ.get("MOODTUNE_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "listener-load-password"
WEBRTC = "iframe[title='streamlit_webrtc.component.webrtc_streamer']"
SETTLE_S = 8.0  # live frames flowing before a phase's peak is read


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):  # a child is listed under the thread that made it
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(pid: int) -> list[tuple[int, int]]:
    """(process, its parent) for every process below `pid` (the analysis workers hang under
    multiprocessing's forkserver)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = _children(parent)
        found += [(child, parent) for child in children]
        todo += children
    return found


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class Sampler:
    """Peak RSS of the server process, of its largest descendant (the analysis worker), and of
    the whole process tree, sampled every `every_s` seconds from a thread; `at_peak` is what
    each kind of process held when the tree peaked (MB: app, worker, forkserver, ...).

    A child still running the server's own program (forked or vforked, not yet exec'd: how
    Python starts multiprocessing's forkserver and resource tracker) shares the server's pages
    and reports the server's whole RSS as its own; it is left out rather than counted twice."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid, self.every_s = pid, every_s
        self.app = self.worker = self.together = 0.0
        self.at_peak: dict[str, float] = {}
        self._server_command = _command(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.app = self.worker = self.together = 0.0
        self.at_peak = {}

    def _role(self, pid: int, parent: int, roles: dict[int, str]) -> str | None:
        command = _command(pid)
        if command == self._server_command:
            return None  # not exec'd yet: the server's own pages
        if roles.get(parent) == "forkserver":
            return "worker"  # forked from the forkserver, whose command line it keeps
        for role in ("forkserver", "resource_tracker"):
            if role.encode() in command:
                return role
        return "other"

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            app = _rss_mb(self.pid)
            roles: dict[int, str] = {}
            held = {"app": app}
            worker = 0.0
            for pid, parent in _descendants(self.pid):
                role = self._role(pid, parent, roles)
                if role is None:
                    continue
                roles[pid] = role
                mb = _rss_mb(pid)
                held[role] = held.get(role, 0.0) + mb
                if role == "worker":
                    worker = max(worker, mb)
            self.app, self.worker = max(self.app, app), max(self.worker, worker)
            if sum(held.values()) > self.together:
                self.together = sum(held.values())
                self.at_peak = {role: round(mb, 1) for role, mb in held.items()}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def demo_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'moodtune.db'}",
        "MOODTUNE_MEDIA_DIR": str(folder / "media"),
        "MOODTUNE_ADMIN_PASSWORD": PASSWORD,
        "MOODTUNE_ICE_SERVERS": "[]",
        "MOODTUNE_ANALYSIS_WORKERS": "1",  # the small host's setting (README)
        "PYTHONPATH": str(REPO_ROOT),
    }
    for command in (["init-db"], ["demo"]):
        subprocess.run([sys.executable, "-m", "app", *command], env=env, cwd=REPO_ROOT, check=True, capture_output=True)
    port = _free_port()
    log = open(folder / "streamlit.log", "wb")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not start (see streamlit.log)") from None
                time.sleep(0.5)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _start_camera(browser, url: str):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900}, permissions=["camera"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.frame_locator(WEBRTC).get_by_role("button", name="START").click()
    # The camera's reading on screen: frames reach the server and come back analysed.
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(re.compile(r"\w"), timeout=90_000)
    return context


def _upload_song(browser, url: str, song: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/curate")
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(song)
    page.get_by_role("button", name=re.compile(r"Tag and add 1 file")).click()
    expect(page.get_by_text(re.compile(r"1 added, 0 failed"))).to_be_visible(timeout=600_000)
    context.close()


def camera_video(folder: Path) -> Path:
    import cv2

    frame = samples.astronaut_frame(640, 480, letterbox=True)
    path = folder / "camera.y4m"
    yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(45):
            f.write(b"FRAME\n" + yuv)
    return path


def bench_listeners(sessions: tuple[int, ...] = (1, 3, 5)) -> dict:
    """Peak RSS (MB) of the app with 1, 3 and 5 live camera sessions, and of the app and its
    analysis worker while a song is imported with 3 cameras on."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: the listener load needs Chromium (apt-get install chromium)")
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp, demo_server(Path(tmp)) as (url, server):
        folder = Path(tmp)
        song = folder / "Load Test - Four Minutes.wav"
        samples.write_long_song(song, seconds=240.0)  # a CD rip under the default 50 MB upload limit
        sampler = Sampler(server.pid)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                          "--use-fake-device-for-media-stream",
                          f"--use-file-for-fake-video-capture={camera_video(folder)}"],
                )  # fmt: skip
                contexts = []
                for target in sorted(sessions):
                    while len(contexts) < target:
                        contexts.append(_start_camera(browser, url))
                    sampler.reset()
                    time.sleep(SETTLE_S)
                    figures[f"app_rss_mb_cameras_{target}"] = round(sampler.app, 1)
                    if target == 3:
                        sampler.reset()
                        _upload_song(browser, url, song)
                        figures["app_rss_mb_cameras_3_importing"] = round(sampler.app, 1)
                        figures["analysis_worker_rss_mb_importing"] = round(sampler.worker, 1)
                        figures["budget_app_worker_3_cameras_mb"] = round(sampler.together, 1)
                        figures["budget_peak_by_process_mb"] = dict(sampler.at_peak)
                for context in contexts:
                    context.close()
                browser.close()
        finally:
            sampler.stop()
    figures["budget_mb"] = BUDGET_MB
    figures["budget_holds"] = figures.get("budget_app_worker_3_cameras_mb", BUDGET_MB + 1) <= BUDGET_MB
    return figures


def main() -> None:
    import json

    print(json.dumps(bench_listeners(), indent=1))


if __name__ == "__main__":
    main()
