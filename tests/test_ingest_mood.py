"""What an import and a re-tag keep of the model's tag besides the quadrant: its confidence and
the track's mood timeline, on SQLite and MariaDB, in an old database as in a new one; and how a
track ends (TrackSummary.end_mood), which the recommender reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import create_engine, inspect

from app.catalog import repository, timeline
from app.catalog.db import init_db, session_scope
from app.catalog.models import Track
from app.catalog.summary import TrackSummary
from app.library import ingest_files
from app.library.retag import retag_catalog
from app.tools.samples import tone
from tests.catalog_helpers import as_an_older_version
from tests.pages_support import StubTagger

SR = 8000


def two_moods(path: Path) -> Path:
    """30 s: 15 s of a quiet low tone (sad to the stub), then 15 s of a loud high one (energetic)."""
    y = np.concatenate([tone(15, SR, 150, amplitude=0.1), tone(15, SR, 680, amplitude=0.9)])
    sf.write(path, y, SR, subtype="PCM_16")
    return path


def stored(track_id: int) -> TrackSummary:
    with session_scope() as s:
        return repository.track_summaries(s, [track_id])[0]


def test_an_import_stores_the_tags_confidence_and_the_mood_of_every_segment(db_url, tmp_path):
    song = two_moods(tmp_path / "Two Moods.wav")
    said = StubTagger().tag(song)  # what the model says of this file
    assert len(said.timeline) == 3 and said.timeline[0].valence < 0 < said.timeline[-1].valence

    summary = ingest_files([song], tagger=StubTagger())
    assert summary.imported == 1
    track = stored(summary.results[0].track_id)

    assert track.confidence == pytest.approx(said.confidence)
    assert np.allclose(track.timeline, [(p.start_s, p.end_s, p.valence, p.arousal) for p in said.timeline])
    # Both halves are there: it starts low and quiet and ends high and loud.
    start, end = track.timeline[0], track.timeline[-1]
    assert (start[0], end[1]) == (0.0, pytest.approx(30.0))
    assert start[2] < 0 and start[3] < 0 and end[2] > 0 and end[3] > 0
    assert timeline.end_mood(track.timeline, 10.0) == pytest.approx((end[2], end[3]))
    assert timeline.end_mood(track.timeline)[0] > 0 > timeline.start_mood(track.timeline)[0]
    # How it ends is stored with it: a ranking reads that without the timeline.
    [ranked] = _ranking_read(track.track_id)
    assert ranked.timeline == () and ranked.end_mood() == pytest.approx(timeline.end_mood(track.timeline), abs=1e-5)


def test_a_retag_replaces_an_old_tag_with_one_that_has_a_confidence_and_a_timeline(db_url, tmp_path):
    summary = ingest_files([two_moods(tmp_path / "Song.wav")], tagger=StubTagger())
    track_id = summary.results[0].track_id
    with session_scope() as s:  # as a track tagged before confidences and timelines were kept
        track = s.get(Track, track_id)
        track.confidence, track.mood_timeline = None, None
    assert stored(track_id).confidence is None and stored(track_id).timeline == ()

    result = retag_catalog(tagger=StubTagger())
    assert not result.failed
    track = stored(track_id)
    assert track.confidence is not None and 0 < track.confidence <= 1
    assert len(track.timeline) == 3 and track.timeline[-1][2] > 0


def test_an_old_database_gets_the_new_columns_and_imports_into_them(db_url, tmp_path):
    # The tracks table as it was before confidences and timelines, and mood_responses without a
    # covering index a later version added (MariaDB keeps the track one for its foreign key).
    as_an_older_version(
        db_url,
        indexes={"tracks": ["ix_tracks_confidence"], "mood_responses": ["ix_mood_response_strategy_stats"]},
        columns={"tracks": ["confidence", "mood_timeline"]},
    )
    engine = create_engine(db_url)
    assert not {"confidence", "mood_timeline"} & {c["name"] for c in inspect(engine).get_columns("tracks")}
    engine.dispose()

    init_db(db_url)
    engine = create_engine(db_url)
    assert {"confidence", "mood_timeline"} <= {c["name"] for c in inspect(engine).get_columns("tracks")}
    # The indexes come back too (the needs-review list and the mood-response reads need them).
    assert "ix_tracks_confidence" in {ix["name"] for ix in inspect(engine).get_indexes("tracks")}
    assert {"ix_mood_response_track_stats", "ix_mood_response_strategy_stats"} <= {
        ix["name"] for ix in inspect(engine).get_indexes("mood_responses")
    }
    engine.dispose()
    summary = ingest_files([two_moods(tmp_path / "After.wav")], tagger=StubTagger())
    assert len(stored(summary.results[0].track_id).timeline) == 3


def test_a_track_ends_where_its_last_twenty_seconds_are():
    points = ((0.0, 60.0, -0.8, -0.8), (60.0, 170.0, 0.0, 0.0), (170.0, 180.0, 0.6, 0.4), (180.0, 190.0, 0.8, 0.6))
    assert timeline.end_mood(points) == pytest.approx((0.7, 0.5))  # the last two 10 s segments, equally
    assert timeline.end_mood(points, 5.0) == pytest.approx((0.8, 0.6))
    assert timeline.start_mood(points) == pytest.approx((-0.8, -0.8))
    track = TrackSummary(1, "t", "a", None, "Q4", 0.1, -0.2, 190.0, "x.wav", "wav", "model:test", {}, 0.8, points)
    assert track.end_mood() == pytest.approx((0.7, 0.5))
    # Without a timeline (a tag from before timelines), the track's own point.
    bare = TrackSummary(2, "t", "a", None, "Q4", 0.1, -0.2, 190.0, "x.wav", "wav", "model:test", {})
    assert bare.end_mood() == (0.1, -0.2)


def test_a_database_from_before_stored_endings_gets_them_from_its_timelines(db_url, tmp_path):
    """An older catalog (timelines, no end columns) is brought up to date when it is opened:
    each track's ending is worked out from its timeline once, and the ranking reads it."""
    summary = ingest_files([two_moods(tmp_path / "Rises.wav")], tagger=StubTagger())
    track_id = summary.results[0].track_id
    points = stored(track_id).timeline
    as_an_older_version(db_url, columns={"tracks": ["end_valence", "end_arousal"]})

    init_db(db_url)
    [ranked] = _ranking_read(track_id)
    assert ranked.timeline == () and ranked.end_mood() == pytest.approx(timeline.end_mood(points), abs=1e-5)
    assert ranked.end_mood()[0] > 0  # it ends high, where its timeline ends, not at its own point


def _ranking_read(track_id: int) -> list[TrackSummary]:
    with session_scope() as s:
        return repository.track_summaries(s, [track_id], timeline=False)
