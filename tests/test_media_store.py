"""The media store as users meet it, once on a local folder and once on a bucket (SeaweedFS):
imports land whole or not at all, playback reads ranges, delete/undo and retag and `check`
work on either, and a bucket's catalog survives losing the app's local disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import StubTagger, stored_keys, use_bucket

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import BucketStore, open_media_store
from app.cli import main
from app.library import curation, ingest_files, retag_catalog

REPO_ROOT = Path(__file__).resolve().parents[1]


def _rows(db_url: str) -> list[tuple[str, str]]:
    with session_scope(db_url) as s:
        return [(t.title, t.media_path) for t in repository.list_tracks(s)]


def test_an_imported_song_is_stored_once_and_read_back_by_range(db_url, media_store, make_audio, stub_tagger):
    song = make_audio("Artist - Song.wav", seconds=4)
    summary = ingest_files([song], tagger=stub_tagger)
    assert summary.imported == 1
    [(title, key)] = _rows(db_url)
    assert title == "Song" and stored_keys(media_store) == [key]
    data = song.read_bytes()
    assert media_store.size(key) == len(data)
    assert media_store.read_range(key, 100, 164) == data[100:164]
    assert b"".join(media_store.iter_range(key, 10)) == data[10:]
    again = ingest_files([song], tagger=stub_tagger)
    assert again.skipped == 1 and stored_keys(media_store) == [key]


def test_a_bucket_track_plays_from_a_signed_url_that_honours_ranges(db_url, bucket, make_audio):
    song = make_audio("song.wav", seconds=4)
    ingest_files([song], tagger=StubTagger())
    [(_, key)] = _rows(db_url)
    url = open_media_store().playback_url(key)
    assert url is not None and "X-Amz-Signature" in url  # the browser fetches it, not the app
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=44-99"})) as response:
        assert response.status == 206 and response.read() == song.read_bytes()[44:100]
    # The curator's inline player gets the same kind of URL.
    with session_scope(db_url) as s:
        track_id = repository.list_tracks(s)[0].id
    assert isinstance(curation.track_audio(track_id), str)


def test_an_unreachable_bucket_fails_the_import_and_leaves_no_row(db_url, monkeypatch, make_audio, stub_tagger):
    monkeypatch.setenv("MOODTUNE_MEDIA_URL", "s3://nowhere/music")
    monkeypatch.setenv("MOODTUNE_S3_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    [result] = ingest_files([make_audio("a.wav")], tagger=stub_tagger).results
    assert result.status == "failed" and "could not store the file" in result.message
    assert _rows(db_url) == []


def test_a_deleted_track_leaves_the_store_and_undo_brings_it_back(db_url, media_store, make_audio, stub_tagger):
    ingest_files([make_audio("Artist - Gone.wav")], tagger=stub_tagger)
    original = curation.find_tracks("", None, None)
    edited = original.assign(delete=True)
    outcome = curation.apply_edits(original, edited)
    assert outcome.deleted and stored_keys(media_store) == [] and _rows(db_url) == []
    assert curation.undo(outcome) == []
    [(title, key)] = _rows(db_url)
    assert title == "Gone" and stored_keys(media_store) == [key]


def test_retag_reads_the_stored_audio_wherever_it_lives(db_url, media_store, make_audio, stub_tagger):
    ingest_files([make_audio("a.wav", seed=1), make_audio("b.wav", seed=2)], tagger=stub_tagger)
    summary = retag_catalog(tagger=stub_tagger, workers=0)
    assert [r.status for r in summary.results] == ["unchanged", "unchanged"]
    assert all("still Q3" in r.message for r in summary.results)


def test_check_repair_removes_an_orphan_and_reports_a_row_whose_audio_is_gone(
    db_url, media_store, make_audio, stub_tagger, capsys
):
    ingest_files([make_audio("kept.wav", seed=1), make_audio("lost.wav", seed=2)], tagger=stub_tagger)
    with session_scope(db_url) as s:
        lost = next(t for t in repository.list_tracks(s) if t.title == "lost")
        lost_id, lost_key = lost.id, lost.media_path
    media_store.remove(lost_key)
    orphan = make_audio("orphan.wav", seed=3)
    orphan_key, _ = media_store.put_file(orphan, hashlib.sha256(orphan.read_bytes()).hexdigest(), "wav")

    assert main(["check", "--repair", "--json", "--grace-s", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["orphan_files"] == [media_store.locator(orphan_key)]
    assert report["missing_files"] == [lost_id]
    assert orphan_key not in stored_keys(media_store) and len(stored_keys(media_store)) == 1


@pytest.fixture
def bucket(seaweedfs, monkeypatch) -> str:
    return use_bucket(monkeypatch, seaweedfs)


def test_a_bucket_catalog_survives_losing_the_apps_local_disk(db_url, bucket, make_audio, media_dir, capsys):
    song = make_audio("song.wav", seconds=3)
    ingest_files([song], tagger=StubTagger())
    shutil.rmtree(media_dir, ignore_errors=True)  # a redeploy: the local disk starts empty
    [(_, key)] = _rows(db_url)
    store = open_media_store()
    assert isinstance(store, BucketStore)
    assert store.read_range(key, 0, 64) == song.read_bytes()[:64]
    assert main(["check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing_files"] == []


# The killed app: an import whose copy into the store stops part-way (a 12 MB file: for a bucket,
# a multipart upload with its first part sent) and hangs there until the test kills it.
KILLED_UPLOAD = textwrap.dedent(
    """
    import builtins, sys, time
    from pathlib import Path

    sys.path.insert(0, "tests")
    from conftest import StubTagger
    from app.catalog import media
    from app.catalog.db import init_db
    from app.library import ingest_files

    source = Path(sys.argv[1]).resolve()

    class Stalling:
        def __init__(self, f):
            self.f, self.read_so_far = f, 0
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.f.close()
        def read(self, n=-1):
            if self.read_so_far > 7 << 20:
                print("mid-upload", flush=True)
                time.sleep(3600)  # killed here
            chunk = self.f.read(n)
            self.read_so_far += len(chunk)
            return chunk

    opened = []

    def opening(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        if Path(path).resolve() == source:
            opened.append(path)
            if len(opened) == 2:  # the first read is the content hash, the second the copy
                return Stalling(f)
        return f

    media.open = opening  # what the store reads the file with while copying it in
    init_db()
    ingest_files([source], tagger=StubTagger(), workers=0)
    """
)


def test_killing_the_app_mid_upload_leaves_no_stored_file_and_no_row(db_url, media_store, tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    song = tmp_path / "long.wav"
    sf.write(song, (0.1 * np.sin(np.arange(22050 * 290) / 10)).astype(np.float32), 22050, subtype="PCM_16")
    assert song.stat().st_size > 12 << 20
    script = tmp_path / "killed.py"
    script.write_text(KILLED_UPLOAD)
    app = subprocess.Popen(
        [sys.executable, str(script), str(song)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout.readline().strip() == "mid-upload"
        time.sleep(0.5)  # the parts read so far are on their way
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait()
    assert stored_keys(media_store) == []
    assert _rows(db_url) == []
    assert main(["check", "--json", "--grace-s", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["orphan_files"] == []


@pytest.mark.parametrize("url", ["/srv/music", "s3://", "gs://bucket/x"])
def test_a_media_url_that_is_not_a_bucket_is_refused_with_what_to_set(monkeypatch, url):
    from app.config import ConfigError, get_settings

    monkeypatch.setenv("MOODTUNE_MEDIA_URL", url)
    with pytest.raises(ConfigError, match="s3://bucket"):
        get_settings()


def test_a_file_that_changes_while_it_is_stored_is_not_stored(media_store, make_audio):
    song = make_audio("song.wav")
    expected = hashlib.sha256(b"what the duplicate check read").hexdigest()
    with pytest.raises(ValueError, match="changed"):
        media_store.put_file(song, expected, "wav")
    assert stored_keys(media_store) == []
