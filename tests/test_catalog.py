"""Catalog repository behaviour, on SQLite and on MariaDB (the same tests, parametrized)."""

import pytest
from catalog_helpers import add
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from app.catalog import repository
from app.catalog.db import get_engine, session_scope
from app.catalog.models import GRID, ListeningEvent, MoodEvent, Track, va_cell_of
from app.catalog.synthetic import populate


def test_init_db_creates_the_three_tables_with_the_recommendation_indexes(db_url):
    inspector = inspect(get_engine(db_url))
    assert {"tracks", "listening_events", "mood_events"} <= set(inspector.get_table_names())
    index_columns = {i["name"]: i["column_names"] for i in inspector.get_indexes("tracks")}
    assert index_columns["ix_tracks_va_cell"] == ["va_cell", "valence", "arousal"]
    assert index_columns["ix_tracks_quadrant_va"] == ["quadrant", "valence", "arousal"]


def test_the_same_file_hash_can_only_be_stored_once(db_url):
    with session_scope(db_url) as s:
        first = add(s, "One", 0.5, 0.5)
        sha = first.sha256
    with pytest.raises(IntegrityError), session_scope(db_url) as s:
        repository.add_track(
            s,
            title="Copy",
            artist="X",
            album=None,
            duration_s=1,
            sha256=sha,
            media_path="aa/x.wav",
            format="wav",
            quadrant="Q1",
            valence=0.5,
            arousal=0.5,
            probabilities={},
            tagged_by="model:t",
        )
    with session_scope(db_url) as s:
        assert [t.title for t in repository.list_tracks(s)] == ["One"]


def test_a_failing_transaction_leaves_nothing_behind(db_url):
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        add(s, "Ghost", 0.1, 0.1)
        raise RuntimeError("boom")
    with session_scope(db_url) as s:
        assert repository.count_tracks(s) == 0


def test_grid_cell_follows_the_mood_point(db_url):
    with session_scope(db_url) as s:
        t = add(s, "Edge", -1.0, 1.0)
        assert t.va_cell == (GRID - 1) * GRID + 0
        repository.set_track_mood_by_curator(s, t.id, "Q4")
        assert (t.valence, t.arousal) == (0.5, -0.5) and t.va_cell == va_cell_of(0.5, -0.5)


def test_search_is_case_insensitive_and_treats_wildcards_and_quotes_literally(db_url):
    with session_scope(db_url) as s:
        add(s, "Rainy Day", -0.4, -0.4, artist="Blue Harbor")
        add(s, "100% Sun", 0.6, 0.5, artist="O'Brien")
        add(s, "Night_Drive", 0.1, 0.6, artist="Ada")
    with session_scope(db_url) as s:
        assert [t.title for t in repository.search_tracks(s, "rainy")] == ["Rainy Day"]
        assert [t.title for t in repository.search_tracks(s, "harbor")] == ["Rainy Day"]
        assert [t.title for t in repository.search_tracks(s, "%")] == ["100% Sun"]
        assert [t.title for t in repository.search_tracks(s, "_")] == ["Night_Drive"]
        assert [t.title for t in repository.search_tracks(s, "O'Brien")] == ["100% Sun"]
        assert repository.search_tracks(s, "'; DROP TABLE tracks; --") == []
        assert repository.count_tracks(s) == 3


def test_titles_keep_unicode_and_lose_control_characters(db_url):
    with session_scope(db_url) as s:
        track_id = add(s, "Café 東京 🎵\x00\nlive", 0.3, 0.3).id
    with session_scope(db_url) as s:
        assert repository.get_track(s, track_id).title == "Café 東京 🎵 live"


def test_curator_mood_survives_a_model_retag(db_url):
    class Tag:
        quadrant, valence, arousal = "Q2", -0.6, 0.6
        probabilities = {"Q1": 0.1, "Q2": 0.7, "Q3": 0.1, "Q4": 0.1}

    with session_scope(db_url) as s:
        curated = add(s, "Curated", 0.5, 0.5)
        model = add(s, "Model", 0.5, 0.5)
        repository.set_track_mood_by_curator(s, curated.id, "Q1", valence=0.9, arousal=0.2)
        ids = repository.model_tagged_track_ids(s)
        assert ids == [model.id]
        assert repository.set_track_mood_by_model(s, curated, Tag, "v2") is False
        assert repository.set_track_mood_by_model(s, model, Tag, "v2") is True
    with session_scope(db_url) as s:
        c, m = repository.get_track(s, curated.id), repository.get_track(s, model.id)
        assert (c.tagged_by, c.quadrant, c.valence) == ("curator", "Q1", 0.9)
        assert (m.tagged_by, m.quadrant) == ("model:v2", "Q2")


def test_curator_override_refuses_a_point_outside_the_quadrant(db_url):
    with session_scope(db_url) as s:
        t = add(s, "T", 0.5, 0.5)
        with pytest.raises(ValueError, match="not in Q3"):
            repository.set_track_mood_by_curator(s, t.id, "Q3", valence=0.5, arousal=0.5)
        with pytest.raises(ValueError, match="unknown quadrant"):
            repository.set_track_mood_by_curator(s, t.id, "Q9")


def test_forget_session_deletes_only_that_listeners_events(db_url):
    with session_scope(db_url) as s:
        t = add(s, "T", 0.5, 0.5)
        for sid in ("me", "other"):
            repository.record_listening(
                s, sid, t.id, "played", strategy="match", emotion="happy", valence=0.7, arousal=0.5
            )
            repository.record_mood(s, sid, {"happy": 0.8, "neutral": 0.2})
    with session_scope(db_url) as s:
        assert repository.forget_session(s, "me") == (1, 1)
    with session_scope(db_url) as s:
        assert s.scalars(select(ListeningEvent.session_id)).all() == ["other"]
        mood = s.scalars(select(MoodEvent)).one()
        assert (mood.session_id, mood.label, mood.distribution) == ("other", "happy", {"happy": 0.8, "neutral": 0.2})


def test_events_reject_unknown_actions_and_empty_distributions(db_url):
    with session_scope(db_url) as s:
        t = add(s, "T", 0.5, 0.5)
        with pytest.raises(ValueError, match="unknown action"):
            repository.record_listening(s, "me", t.id, "hated")
        with pytest.raises(ValueError):
            repository.record_mood(s, "me", {"bored": 1.0})


def test_delete_track_removes_its_events_and_its_file_only_once_committed(db_url, media_store, tmp_path):
    store = media_store
    src = tmp_path / "a.bin"
    src.write_bytes(b"audio bytes")
    from app.catalog.media import sha256_of_file

    sha = sha256_of_file(src)
    rel, _ = store.put_file(src, sha, "wav")
    with session_scope(db_url) as s:
        t = add(s, "T", 0.5, 0.5)
        t.media_path = rel
        repository.record_listening(s, "me", t.id, "liked")
        track_id = t.id
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        assert repository.delete_track(s, track_id, store)
        raise RuntimeError("rolled back")
    assert store.exists(rel)
    with session_scope(db_url) as s:
        assert repository.delete_track(s, track_id, store)
    assert not store.exists(rel)
    with session_scope(db_url) as s:
        assert repository.catalog_counts(s) == {"tracks": 0, "listening_events": 0, "mood_events": 0}


def test_synthetic_populate_fills_a_consistent_catalog(db_url):
    with session_scope(db_url) as s:
        populate(s, 3000, 2000, n_mood_events=100)
    with session_scope(db_url) as s:
        assert repository.catalog_counts(s) == {"tracks": 3000, "listening_events": 2000, "mood_events": 100}
        for t in s.scalars(select(Track).limit(200)):
            assert t.va_cell == va_cell_of(t.valence, t.arousal)
            assert t.quadrant == __import__("app.emotions", fromlist=["quadrant_of"]).quadrant_of(t.valence, t.arousal)
        assert set(repository.counts_by_quadrant(s)) == {"Q1", "Q2", "Q3", "Q4"}
