"""The live camera's frames inside the server: a stream whose consumer falls behind (the VP8
encoder sending the overlay back, on a busy machine) skips to the newest frame instead of
queueing every frame in memory."""

from __future__ import annotations

import asyncio
import types
from concurrent.futures import ThreadPoolExecutor

from aiortc.mediastreams import MediaStreamTrack
from streamlit.runtime import Runtime
from streamlit_webrtc.relay import get_global_relay

from app.ui.live import use_latest_frame_relay


class Camera(MediaStreamTrack):
    """A video track whose frames are numbers, delivered when the test puts them."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.frames: asyncio.Queue[int] = asyncio.Queue()

    async def recv(self) -> int:
        return await self.frames.get()


def _in_own_loop(coro_fn):
    # Its own thread: after the browser tests, Playwright's loop runs on the main one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result(timeout=30)


def test_a_stream_that_falls_behind_gets_the_newest_frame_and_keeps_no_backlog(monkeypatch):
    server = types.SimpleNamespace()  # the running server's Runtime, where streamlit-webrtc keeps its relay
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: server))
    use_latest_frame_relay()
    relay = get_global_relay()  # the one streamlit-webrtc subscribes every stream's consumers to

    async def camera_runs_ahead_of_its_consumer():
        camera = Camera()
        consumer = relay.subscribe(camera)
        camera.frames.put_nowait(0)
        first = await consumer.recv()
        for n in range(1, 31):  # two seconds of camera while the consumer is busy encoding
            camera.frames.put_nowait(n)
        while not camera.frames.empty():
            await asyncio.sleep(0.001)
        backlog = consumer._queue.qsize() if consumer._queue is not None else 0
        newest = await consumer.recv()
        camera.stop()
        return first, newest, backlog

    first, newest, backlog = _in_own_loop(camera_runs_ahead_of_its_consumer)
    assert (first, newest, backlog) == (0, 30, 0)


def test_outside_a_running_server_nothing_is_installed():
    assert not Runtime.exists()
    use_latest_frame_relay()  # AppTest and scripts: no server, nothing to set
