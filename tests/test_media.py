import hashlib

import pytest
from conftest import all_files

from app.catalog.media import MediaPathError, MediaStore


def test_files_are_stored_by_content_hash_once(media_dir, tmp_path):
    store = MediaStore(media_dir)
    src = tmp_path / "song.mp3"
    src.write_bytes(b"some audio")
    sha = hashlib.sha256(b"some audio").hexdigest()
    rel, created = store.put_file(src, sha, "mp3")
    assert rel == f"{sha[:2]}/{sha}.mp3" and created
    assert store.resolve(rel).read_bytes() == b"some audio"
    assert store.put_file(src, sha, "mp3") == (rel, False)
    assert all_files(media_dir) == [store.resolve(rel)]


def test_a_file_that_changed_under_us_is_not_stored(media_dir, tmp_path):
    store = MediaStore(media_dir)
    src = tmp_path / "song.wav"
    src.write_bytes(b"new content")
    with pytest.raises(ValueError, match="changed"):
        store.put_file(src, hashlib.sha256(b"old content").hexdigest(), "wav")
    assert all_files(media_dir) == []


@pytest.mark.parametrize("bad", ["../secrets.toml", "/etc/passwd", "ab/../../x.wav", "a\x00b", "", "."])
def test_paths_outside_the_store_are_refused(media_dir, bad):
    with pytest.raises(MediaPathError):
        MediaStore(media_dir).resolve(bad)


def test_interrupted_writes_are_swept(media_dir):
    store = MediaStore(media_dir)
    leftover = store.incoming_path(".wav")
    leftover.write_bytes(b"half")
    assert store.sweep_temp_files() == 1
    assert store.temp_files() == []
