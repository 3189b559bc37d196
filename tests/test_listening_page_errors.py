"""The Mood page when its writes fail (AppTest): each failure is logged on the server (what
failed, not who), a failed Like says so next to its button (not only in a toast), and the player and up
next keep working."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.listening import service, status
from app.ui import mood_page
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, seed_catalog


@pytest.fixture
def page(tmp_path: Path, monkeypatch) -> AppTest:
    _, media = configure_env(monkeypatch, tmp_path)
    seed_catalog(media, tmp_path)
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.pills(key="mood_pad_label").set_value("happy").run()
    assert not at.exception, at.exception
    yield at
    cleanup_engines()


def _down(*_args, **_kwargs):
    raise ConnectionError("database unreachable")


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_a_failed_like_says_so_beside_its_button_and_the_player_keeps_going(page, monkeypatch, caplog):
    monkeypatch.setattr(service, "log_listening", _down)
    playing = page.button(key="like_playing")
    with caplog.at_level(logging.WARNING, logger=mood_page.__name__):
        playing.click().run()
    assert not page.exception, page.exception
    assert any(status.LIKE_FAILED in c for c in _captions(page))  # in place
    assert any("Couldn't save" in t.value for t in page.toast)
    assert page.get("bidi_component")  # the player is still there
    assert [b for b in page.button if b.key and b.key.startswith("upnext_play_")]
    assert any("'liked' event" in r.getMessage() for r in caplog.records)
    # Said once: the next run, with the database back, no longer says it.
    monkeypatch.undo()
    page.run()
    assert not any(status.LIKE_FAILED in c for c in _captions(page))


def test_a_failed_like_from_up_next_is_said_in_its_row(page, monkeypatch):
    monkeypatch.setattr(service, "log_listening", _down)
    like = next(b for b in page.button if b.key and b.key.startswith("upnext_like_"))
    like.click().run()
    assert any(status.LIKE_FAILED in c for c in _captions(page))


def test_failed_remove_and_save_are_logged_on_the_server(page, monkeypatch, caplog):
    monkeypatch.setattr(service, "log_listening", _down)
    monkeypatch.setattr(service, "save_session", _down)
    remove = next(b for b in page.button if b.key and b.key.startswith("upnext_remove_"))
    with caplog.at_level(logging.WARNING, logger=mood_page.__name__):
        remove.click().run()
    assert not page.exception, page.exception
    messages = [r.getMessage() for r in caplog.records]
    assert any("'skipped' event" in m for m in messages)
    assert any("snapshot failed" in m for m in messages)
    # The messages name what failed, never the listener's session id.
    value = page.query_params[mood_page.SESSION_PARAM]
    session_id = value if isinstance(value, str) else value[-1]
    assert len(session_id) == 32 and not any(session_id in m for m in messages)
