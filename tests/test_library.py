"""The library's seams: one list of accepted formats, retag's own summary, and the analysis
executor interface (a lost worker fails its file, a broken local pool is replaced)."""

import os

from conftest import StubMood, all_files, audio_bytes

from app.catalog import repository
from app.catalog.db import session_scope
from app.library import (
    ACCEPTED_FORMATS,
    UPLOAD_EXTENSIONS,
    LocalProcessPool,
    WorkerLost,
    ingest_files,
    retag_catalog,
)
from app.library.formats import FORMATS, mime_type


def test_the_upload_widget_offers_exactly_the_formats_ingest_accepts(db_url, tmp_path, stub_tagger):
    by_extension = {ext: f for f in FORMATS for ext in f.extensions}
    assert {by_extension[ext].name for ext in UPLOAD_EXTENSIONS} == set(ACCEPTED_FORMATS)
    assert all(by_extension[ext].accepted for ext in UPLOAD_EXTENSIONS)
    assert "m4a" not in UPLOAD_EXTENSIONS and mime_type("song.aiff") == "audio/aiff"
    m4a = tmp_path / "song.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    [result] = ingest_files([m4a], tagger=stub_tagger).results
    assert result.message == "unsupported audio format M4A; use MP3, WAV, FLAC, Ogg Vorbis/Opus or AIFF"


class _MoodByName:
    """Q1 for the stored file of the track titled 'moves', Q3 (as at import) for the rest."""

    version = "stub-2"

    def __init__(self, moves_sha: str) -> None:
        self.moves_sha = moves_sha

    def tag(self, path_or_array, sr=None) -> StubMood:
        with open(path_or_array, "rb"):  # a stored file that is gone fails, as with the model
            return StubMood("Q1" if self.moves_sha in str(path_or_array) else "Q3")


def test_retag_reports_retagged_unchanged_and_failed_and_never_imported(db_url, tmp_path, media_dir, stub_tagger):
    for i, name in enumerate(["moves.wav", "stays.wav", "curated.wav", "gone.wav"]):
        (tmp_path / name).write_bytes(audio_bytes("wav", seed=i))
    ingest_files(sorted(tmp_path.glob("*.wav")), tagger=stub_tagger)  # all Q3
    with session_scope(db_url) as s:
        tracks = {t.title: t for t in repository.list_tracks(s)}
        repository.set_track_mood_by_curator(s, tracks["curated"].id, "Q4")
        moves_sha = tracks["moves"].sha256
        gone_id, gone_path = tracks["gone"].id, tracks["gone"].media_path
    (media_dir / gone_path).unlink()

    summary = retag_catalog(tagger=_MoodByName(moves_sha))
    by_title = {r.title: r for r in summary.results}
    assert set(by_title) == {"moves", "stays", "gone"}  # the curator's track isn't touched
    assert (by_title["moves"].status, by_title["moves"].quadrant) == ("retagged", "Q1")
    assert (by_title["stays"].status, by_title["stays"].quadrant) == ("unchanged", "Q3")
    assert by_title["gone"].status == "failed" and "could not retag" in by_title["gone"].message
    report = summary.as_json()
    assert (report["retagged"], report["unchanged"]) == (1, 1) and "imported" not in report
    assert report["failed"] == [{"track_id": gone_id, "title": "gone", "error": by_title["gone"].message}]
    with session_scope(db_url) as s:
        assert {t.title: t.tagged_by for t in repository.list_tracks(s)} == {
            "moves": "model:stub-2",
            "stays": "model:stub-2",
            "curated": "curator",
            "gone": "model:stub-1",
        }


class _LosesEveryWorker:
    """An executor (as a cluster adapter would be) whose workers all die under their jobs."""

    def run(self, fn):
        return fn()

    def map_unordered(self, fn, jobs):
        for job in jobs:
            yield job, WorkerLost("killed")


def test_a_file_whose_worker_is_lost_fails_and_leaves_nothing(db_url, media_dir, tmp_path, stub_tagger):
    path = tmp_path / "ok.wav"
    path.write_bytes(audio_bytes("wav"))
    [result] = ingest_files([path], tagger=stub_tagger, executor=_LosesEveryWorker()).results
    assert (result.status, result.message) == ("failed", "the analysis worker crashed (out of memory?)")
    with session_scope(db_url) as s:
        assert repository.count_tracks(s) == 0
    assert all_files(media_dir) == []


def test_a_worker_that_dies_fails_its_job_and_the_pool_is_replaced():
    pool = LocalProcessPool(idle_s=0.2)
    with pool.lease(1) as workers:
        first = workers.run(os.getpid)
        [(job, outcome)] = list(workers.map_unordered(os._exit, [3]))
    assert job == 3 and isinstance(outcome, WorkerLost)
    with pool.lease(1) as workers:
        assert workers.run(os.getpid) not in (first, os.getpid())
    pool.shutdown_if_idle()
