"""A catalog outage is contained: a new visitor gets a friendly page quickly, a session under way
keeps its page and player, an import stops after a few failures with its results kept, and no
listener sees connection details. The MariaDB outage is a local TCP forwarder the test kills
(the shared server itself keeps running)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from app.catalog.db import dispose_engines, init_db
from app.library import curation
from tests.pages_support import APP_FILE, install_stub_tagger, seed_catalog, wav_bytes

SECRETS = ("127.0.0.1", "moodtune:", "devpass", "hunter2", "mysql")


class Forwarder:
    """127.0.0.1:<port> → target; ``stop()`` is the outage (refuses new connections and cuts
    the open ones, as a server that went away)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.running = False
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone would not
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def outage(mysql_database, tmp_path: Path, monkeypatch):
    real = make_url(mysql_database("outage"))
    proxy = Forwarder((real.host, real.port or 3306))
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    media = tmp_path / "media"
    media.mkdir()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MOODTUNE_MEDIA_DIR", str(media))
    monkeypatch.setenv("MOODTUNE_ICE_SERVERS", "[]")
    monkeypatch.setenv("MOODTUNE_ADMIN_PASSWORD", "pw")
    init_db(url)
    seed_catalog(media, tmp_path, per_quadrant=3)
    with install_stub_tagger(monkeypatch):
        yield {"proxy": proxy, "tmp": tmp_path, "monkeypatch": monkeypatch}
    proxy.stop()
    dispose_engines()


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_a_new_visitor_gets_a_friendly_page_quickly_without_connection_details(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://moodtune:hunter2@127.0.0.1:1/moodtune")
    monkeypatch.setenv("MOODTUNE_ICE_SERVERS", "[]")
    started = time.monotonic()
    at = AppTest.from_file(APP_FILE, default_timeout=30)
    at.run()
    assert time.monotonic() - started < 10
    assert not at.exception, at.exception
    assert "catalog is unreachable right now, retrying" in _warnings(at)
    shown = " ".join(e.value for e in [*at.warning, *at.error, *at.markdown, *at.caption])
    assert not any(secret in shown for secret in SECRETS)
    dispose_engines()


def test_like_during_an_outage_keeps_the_page_and_the_player(outage):
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.pills(key="mood_pad_label").set_value("happy").run()
    assert at.button(key="like_playing")
    outage["proxy"].stop()
    started = time.monotonic()
    at.button(key="like_playing").click().run()
    assert time.monotonic() - started < 20
    assert not at.exception, at.exception
    assert not at.error or all("Couldn't get recommendations" not in e.value for e in at.error)
    assert any("Couldn't save" in t.value for t in at.toast)  # said where the Like was made
    assert "unreachable right now" in _warnings(at)
    assert not any(secret in _warnings(at) for secret in SECRETS)
    # The player and the rest of the page are still there.
    assert at.button(key="like_playing").disabled  # liked in this session
    assert at.pills(key="mood_pad_label").value == "happy"
    assert [b for b in at.button if b.key and b.key.startswith("upnext_play_")]


def test_an_import_during_an_outage_stops_after_a_few_failures_with_its_results(outage):
    root = outage["tmp"] / "library"
    root.mkdir()
    for i in range(20):
        (root / f"Artist - Song {i}.wav").write_bytes(wav_bytes(1003 + 13 * i, 0.5))
    outage["monkeypatch"].setenv("MOODTUNE_IMPORT_ROOT", str(root))
    seen = []

    def progress(done, total, result):
        seen.append(result)
        if len(seen) == 2:
            outage["proxy"].stop()

    with pytest.raises(curation.ImportStopped, match="stopped after"):
        curation.import_folder(root, progress)
    assert 2 < len(seen) <= 2 + curation.DB_FAILURES_BEFORE_STOP  # not every remaining file
    assert [r.status for r in seen[:2]] == ["imported", "imported"]
    table = curation.result_rows(seen)  # still a table, from what the import said
    assert list(table["status"][:2]) == ["imported", "imported"] and len(table) == len(seen)
