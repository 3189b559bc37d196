"""Curate page through AppTest: the password gate, upload & tag, rejection of bad files,
curator overrides that survive re-tagging, and the server-folder import root."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.catalog.db import session_scope
from app.catalog.models import Track
from app.emotions import QUADRANT_NAMES
from app.ui import state_keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, install_stub_tagger, seed_catalog, wav_bytes

PASSWORD = "correct horse battery staple"


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    _, media = configure_env(monkeypatch, tmp_path, password=PASSWORD)
    with install_stub_tagger(monkeypatch):
        yield {"media": media, "tmp": tmp_path, "monkeypatch": monkeypatch}
    cleanup_engines()


def open_page(page: str = "app_pages/curate.py") -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, password: str = PASSWORD) -> AppTest:
    at.text_input(key=state_keys.ADMIN_PASSWORD_INPUT).input(password)
    at.get("form_submit_button")[0].click() if at.get("form_submit_button") else at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def is_locked(at: AppTest) -> bool:
    return [t.value for t in at.title] == [":material/lock: Curators only"] and not at.file_uploader


def track_count() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Track))


def media_files(media: Path) -> list[Path]:
    """The stored audio files (not the temp area, where a deleted track's audio waits for undo)."""
    return [p for p in media.rglob("*") if p.is_file() and ".incoming" not in p.parts]


@pytest.mark.parametrize("page", ["app_pages/curate.py", "app_pages/analytics.py"])
def test_locked_without_a_configured_password_and_says_how_to_set_one(tmp_path, monkeypatch, page):
    configure_env(monkeypatch, tmp_path, password=None)
    at = open_page(page)
    assert is_locked(at)
    assert any("no admin password is configured" in w.value for w in at.warning)
    assert any("MOODTUNE_ADMIN_PASSWORD" in m.value for m in at.markdown)
    # Nothing to type a password into: with none configured, nothing can match.
    assert not at.text_input
    cleanup_engines()


@pytest.mark.parametrize("page", ["app_pages/curate.py", "app_pages/analytics.py"])
def test_wrong_password_and_tampering_stay_locked_right_password_opens(env, page):
    at = open_page(page)
    assert is_locked(at)
    log_in(at, "guess")
    assert is_locked(at) and any("Wrong password" in e.value for e in at.error)

    # Query parameters and made-up session state don't open it.
    at.query_params["admin"] = "1"
    at.query_params["password"] = PASSWORD
    at.session_state[state_keys.ADMIN_TOKEN] = "0" * 64
    at.session_state["admin"] = True
    at.session_state["authenticated"] = True
    at.run()
    assert is_locked(at)

    log_in(at)
    assert not [t for t in at.title if t.value == ":material/lock: Curators only"]
    assert state_keys.ADMIN_PASSWORD_INPUT not in at.session_state  # the typed password is not kept


def test_a_token_from_another_password_is_rejected(env):
    at = open_page()
    log_in(at)
    assert not is_locked(at)
    env["monkeypatch"].setenv("MOODTUNE_ADMIN_PASSWORD", "a new password")
    at.run()
    assert is_locked(at)


def test_uploading_a_synthesized_wav_adds_a_tagged_track(env):
    at = log_in(open_page())
    at.file_uploader(key="upload_0").set_value(("Dawn Chorus.wav", wav_bytes(650, 1.5), "audio/wav")).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    results = at.dataframe[0].value
    row = results.iloc[0]
    assert (row["file"], row["status"], row["title"]) == ("Dawn Chorus.wav", "imported", "Dawn Chorus")
    # The mood in words (issue 30), not a Q-code.
    assert row["quadrant"] in set(QUADRANT_NAMES.values()) and row["duration_s"] == pytest.approx(1.5, abs=0.1)
    assert -1 <= row["valence"] <= 1 and -1 <= row["arousal"] <= 1 and 0 < row["confidence"] <= 1
    with session_scope() as s:
        track = s.scalar(select(Track))
        assert (track.title, QUADRANT_NAMES[track.quadrant]) == ("Dawn Chorus", row["quadrant"])
        assert track.tagged_by.startswith("model:")
    assert len(media_files(env["media"])) == 1
    # The new track is in the review table, with its mood.
    table = at.data_editor(key="catalog_editor").value
    assert list(table["title"]) == ["Dawn Chorus"]


def test_an_uploaded_song_is_not_kept_in_the_servers_memory_while_it_is_tagged(env):
    """Streamlit keeps an uploaded file's bytes in the server's memory until the curator's session
    ends; the page lets go of each song once ingest has it on disk, before it is analysed, so a
    batch of songs doesn't stay in the app's memory (the memory budget in `bench`)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from tests.pages_support import StubTagger

    held_while_tagging = []
    tag = StubTagger.tag

    def watching_tag(self, path_or_array, sr=None):
        ctx = get_script_run_ctx()
        held = ctx.uploaded_file_mgr.file_storage.get(ctx.session_id, {})
        held_while_tagging.append(sorted(rec.name for rec in held.values()))
        return tag(self, path_or_array, sr)

    env["monkeypatch"].setattr(StubTagger, "tag", watching_tag)
    at = log_in(open_page())
    at.file_uploader(key="upload_0").set_value(
        [("First.wav", wav_bytes(500, 1.0), "audio/wav"), ("Second.wav", wav_bytes(700, 1.0), "audio/wav")]
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["status"]) == ["imported", "imported"]
    assert held_while_tagging == [["Second.wav"], []]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("cover.wav", b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG"),
        ("noise.mp3", bytes(range(256)) * 8, "not an audio file"),
        ("empty.wav", b"", "empty"),
    ],
)
def test_a_bad_file_is_rejected_with_its_reason_and_leaves_nothing(env, name, content, reason):
    at = log_in(open_page())
    at.file_uploader(key="upload_0").set_value(
        [(name, content, "audio/wav"), ("good.wav", wav_bytes(300, 1.0), "audio/wav")]
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    results = at.dataframe[0].value.set_index("file")
    assert results.loc[name, "status"] == "failed"
    assert reason.lower() in results.loc[name, "message"].lower()
    assert results.loc["good.wav", "status"] == "imported"  # one bad file doesn't sink the batch
    assert track_count() == 1
    assert len(media_files(env["media"])) == 1  # only the good file; no temp leftovers


def test_override_persists_and_survives_retagging(env):
    seeded = seed_catalog(env["media"], env["tmp"], per_quadrant=2)
    target = next(t for t in seeded if t.quadrant == "Q1")
    at = log_in(open_page())
    table = at.data_editor(key="catalog_editor").value
    row = int(table.index[table["id"] == target.track_id][0])
    at.session_state["catalog_editor"] = {
        "edited_rows": {row: {"quadrant": "Q3", "title": "Rainy Day"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="review_save").click().run()
    assert any("1 updated" in s.value for s in at.success)

    # A fresh session (reload) sees the override.
    at = log_in(open_page())
    table = at.data_editor(key="catalog_editor").value.set_index("id")
    assert (table.loc[target.track_id, "quadrant"], table.loc[target.track_id, "tagged_by"]) == ("Q3", "curator")
    assert table.loc[target.track_id, "title"] == "Rainy Day"

    at.button(key="retag_go").click().run()
    assert not at.exception, at.exception
    retagged = at.dataframe[-1].value
    assert len(retagged) == len(seeded) - 1 and "Rainy Day" not in set(retagged["title"])
    with session_scope() as s:
        track = s.get(Track, target.track_id)
        assert (track.quadrant, track.tagged_by, track.title) == ("Q3", "curator", "Rainy Day")
        others = s.scalars(select(Track).where(Track.id != target.track_id)).all()
        assert all(t.tagged_by == "model:stub-1" for t in others)


def test_delete_removes_the_row_and_its_file(env):
    seeded = seed_catalog(env["media"], env["tmp"], per_quadrant=1)
    at = log_in(open_page())
    table = at.data_editor(key="catalog_editor").value
    at.session_state["catalog_editor"] = {"edited_rows": {0: {"delete": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="review_save").click().run()
    # Nothing is deleted before the curator confirms, and the question names the very track
    # (title, artist and id: two tracks may share a title).
    first = table.iloc[0]
    question = next(w.value for w in at.warning if "Delete 1 track(s)" in w.value)
    assert track_count() == len(seeded)
    assert f"“{first['title']}” by {first['artist']} (#{first['id']})" in question
    at.button(key="review_confirm_delete").click().run()
    assert any("1 deleted" in s.value for s in at.success)
    assert track_count() == len(seeded) - 1
    assert len(media_files(env["media"])) == len(seeded) - 1
    assert int(table.iloc[0]["id"]) not in set(at.data_editor(key="catalog_editor").value["id"])

    # Undo puts the track back with its audio file, title and mood.
    at.button(key="review_undo").click().run()
    assert not at.exception, at.exception
    assert any("Undone" in s.value for s in at.success)
    assert track_count() == len(seeded) and len(media_files(env["media"])) == len(seeded)
    assert not list((env["media"] / ".incoming").glob("*"))  # the held copy is let go
    back = at.data_editor(key="catalog_editor").value.set_index("title")
    first = table.iloc[0]
    assert (back.loc[first["title"], "quadrant"], back.loc[first["title"], "valence"]) == (
        first["quadrant"],
        first["valence"],
    )


def test_a_quadrant_override_mirrors_the_point_and_undo_restores_the_model_tag(env):
    seeded = seed_catalog(env["media"], env["tmp"], per_quadrant=1)
    target = next(t for t in seeded if t.quadrant == "Q1")
    at = log_in(open_page())
    table = at.data_editor(key="catalog_editor").value
    row = int(table.index[table["id"] == target.track_id][0])
    assert table.loc[row, "tagged"] == "model" and table.loc[row, "album"] == ""  # labels, no "None"
    edits = {"edited_rows": {row: {"quadrant": "Q3"}}, "added_rows": [], "deleted_rows": []}
    at.session_state["catalog_editor"] = edits
    at.run()
    at.button(key="review_save").click().run()
    assert any("Saved: 1 updated" in s.value and "Song" in s.value for s in at.success)
    assert any("Saved" in t.value for t in at.toast)
    with session_scope() as s:
        track = s.get(Track, target.track_id)
        # Same distance from each axis, in the new quadrant: not the quadrant's centre.
        assert (track.valence, track.arousal) == pytest.approx((-target.valence, -target.arousal))
        assert (track.quadrant, track.tagged_by) == ("Q3", "curator")
    at.button(key="review_undo").click().run()
    with session_scope() as s:
        track = s.get(Track, target.track_id)
        assert (track.quadrant, track.tagged_by) == ("Q1", "model:test")
        assert (track.valence, track.arousal) == pytest.approx((target.valence, target.arousal))


def test_upload_shows_live_progress_a_summary_the_failures_and_a_tag_hint(env):
    at = log_in(open_page())
    good = wav_bytes(650, 1.0)
    at.file_uploader(key="upload_0").set_value(
        [("a.wav", good, "audio/wav"), ("broken.wav", b"RIFFjunk", "audio/wav"), ("b.wav", wav_bytes(300), "audio/wav")]
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "2 added, 1 failed, 0 already there" for s in at.success)
    # Each failure again with its whole reason, as wrapping text, with no emoji (they drew as
    # empty boxes without a colour font).
    lines = [t.value for t in at.text]
    assert any(line.startswith("broken.wav: not an audio file") for line in lines), lines
    assert not any(ch in "".join(lines) for ch in "✅❌↩")
    results = at.dataframe[0].value.set_index("file")
    assert results.loc["broken.wav", "duration_s"] == ""  # blank, not "None"
    assert "fix title/artist" in results.loc["a.wav", "message"]  # no tags: title from the file name
    assert list(at.data_editor(key="catalog_editor").value["hint"]) == ["fix title/artist"] * 2
    # Uploading the same file again: "already there".
    at.file_uploader(key="upload_1").set_value(("again.wav", good, "audio/wav")).run()
    at.button(key="upload_go").click().run()
    assert any(s.value == "0 added, 0 failed, 1 already there" for s in at.success)


def test_folder_import_is_confined_to_the_import_root(env):
    root = env["tmp"] / "library"
    (root / "album").mkdir(parents=True)
    (root / "album" / "Artist - Song.wav").write_bytes(wav_bytes(500, 1.0))
    (env["tmp"] / "secret.wav").write_bytes(wav_bytes(510, 1.0))
    env["monkeypatch"].setenv("MOODTUNE_IMPORT_ROOT", str(root))
    at = log_in(open_page())

    at.text_input(key="import_folder").input("../").run()
    at.button(key="import_go").click().run()
    assert any("only folders inside" in e.value for e in at.error)
    assert track_count() == 0

    at.text_input(key="import_folder").input("album").run()
    at.button(key="import_go").click().run()
    assert not at.exception, at.exception
    assert track_count() == 1
    assert at.dataframe[-1].value.iloc[0]["status"] == "imported"
