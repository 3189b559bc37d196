"""End to end through `python -m app …` with the real mood model (SQLite)."""

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf
from catalog_helpers import add
from cli_helpers import run_cli
from conftest import all_files, audio_bytes

from app.catalog import repository
from app.catalog.db import session_scope
from app.library import ingest_files
from app.tools.demo import build_demo_catalog, demo_specs, write_demo_wav
from app.tools.samples import SR, mood_clip, tone


def test_import_folder_tags_good_files_and_lists_bad_ones(tmp_path, monkeypatch):
    from mutagen.easyid3 import EasyID3
    from mutagen.flac import FLAC

    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    for i, fmt in enumerate(["wav", "flac", "mp3", "ogg", "opus"]):
        (folder / f"good_{i}.{fmt}").write_bytes(audio_bytes(fmt, seconds=3, seed=i))
    tags = EasyID3()
    tags.update({"title": "Tagged Title", "artist": "Tagged Artist"})
    tags.save(folder / "good_2.mp3")
    flac = FLAC(folder / "good_1.flac")
    flac["title"], flac["artist"], flac["album"] = "Lossless", "Flac Band", "Album"
    flac.save()
    (folder / "sub" / "empty.mp3").write_bytes(b"")
    (folder / "sub" / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(5000).replace(b"\xff", b"\x01"))
    full = audio_bytes("mp3", seconds=5.5, seed=9)
    (folder / "sub" / "cut.mp3").write_bytes(full[: len(full) // 2])
    sf.write(folder / "sub" / "long.wav", tone(8.0, SR), SR)

    result = run_cli("import", str(folder), "--json", env={"MOODTUNE_MAX_DURATION_S": "6"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    errors = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert (report["imported"], report["skipped"]) == (5, 0)
    assert set(errors) == {"empty.mp3", "noise.mp3", "cut.mp3", "long.wav"}
    assert "empty" in errors["empty.mp3"] and "not an audio file" in errors["noise.mp3"]
    assert "truncated" in errors["cut.mp3"] and "duration limit" in errors["long.wav"]

    from app.music import MoodTagger

    with session_scope() as s:
        tracks = {t.title: t for t in repository.list_tracks(s)}
    assert len(tracks) == 5
    assert all(
        t.tagged_by == f"model:{MoodTagger.load().version}" and t.quadrant in ("Q1", "Q2", "Q3", "Q4")
        for t in tracks.values()
    )
    assert tracks["Tagged Title"].artist == "Tagged Artist" and tracks["Tagged Title"].format == "mp3"
    assert (tracks["Lossless"].artist, tracks["Lossless"].album) == ("Flac Band", "Album")
    assert {t.format for t in tracks.values()} == {"wav", "flac", "mp3", "ogg", "opus"}
    media = [p for p in all_files(Path(os.environ["MOODTUNE_MEDIA_DIR"]))]
    assert len(media) == 5 and not any(p.name.endswith(".tmp") for p in media)

    again = json.loads(run_cli("import", str(folder / "good_0.wav"), "--json").stdout)
    assert (again["imported"], again["skipped"]) == (0, 1)


def test_recommend_prints_the_design_json_shape(db_url):
    with session_scope(db_url) as s:
        for i in range(8):
            add(s, f"Track {i}", -0.6 + 0.15 * i, -0.4 + 0.1 * i, artist=f"Artist {i % 3}")
    result = run_cli("recommend", "--emotion", "sad", "-n", "5", "--json")
    assert result.returncode == 0, result.stderr
    picks = json.loads(result.stdout)
    assert len(picks) == 5
    assert all(
        set(p) == {"track_id", "title", "artist", "quadrant", "valence", "arousal", "score", "reason"} for p in picks
    )
    assert picks[0]["reason"].startswith("you look sad")


def test_cli_refuses_unknown_emotions_clearly():
    result = run_cli("recommend", "--emotion", "bored")
    assert result.returncode == 1
    assert "unknown emotion 'bored'" in result.stderr and "Traceback" not in result.stderr


def test_import_without_a_usable_database_says_so(tmp_path, make_audio):
    path = make_audio("a.wav")
    result = run_cli("import", str(path), env={"DATABASE_URL": "mysql+pymysql://nobody:secretpw@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "unreachable" in result.stderr or "cannot create the schema" in result.stderr
    assert "secretpw" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_demo_clips_are_deterministic_and_20_to_30_seconds():
    for quadrant, index, _, _ in demo_specs()[:4]:
        clip = mood_clip(quadrant, index)
        assert 20 <= len(clip) / SR <= 30
        assert np.array_equal(clip, mood_clip(quadrant, index))
        assert np.abs(clip).max() <= 1.0
    assert len(demo_specs()) == 32 and len({title for _, _, title, _ in demo_specs()}) == 32


def test_demo_catalog_is_built_through_ingest_and_not_duplicated(tmp_path):
    from app.catalog.db import init_db

    init_db()
    summary = build_demo_catalog()
    assert (summary.imported, summary.skipped, summary.failed) == (32, 0, [])
    with session_scope() as s:
        counts = repository.counts_by_quadrant(s)
        tracks = repository.list_tracks(s, limit=100)
    assert sum(counts.values()) == 32
    # The listener's every strategy has somewhere to go: each quadrant holds demo tracks.
    assert all(counts.get(q, 0) > 0 for q in ("Q1", "Q2", "Q3", "Q4")), counts
    assert all(t.tagged_by.startswith("model:") and t.album == "Moodtune Demo" for t in tracks)
    assert len({t.artist for t in tracks}) == 4
    quadrant, index, title, artist = demo_specs()[0]
    write_demo_wav(tmp_path / "again.wav", quadrant, index, title, artist)
    assert ingest_files([tmp_path / "again.wav"], workers=0).results[0].status == "skipped"
