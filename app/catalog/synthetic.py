"""A fast synthetic catalog for benchmarks and scale tests (no audio files behind it).

Rows go in through Core executemany in chunks, numbers drawn with numpy, so a million tracks
take seconds rather than the minutes ORM objects would.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.catalog import rollups
from app.catalog.models import CELL_SIZE, GRID, ListeningEvent, MoodEvent, Track
from app.emotions import FACE_LABELS, QUADRANT_VA, QUADRANTS, STRATEGIES

SYNTHETIC_TAG = "synthetic"
CHUNK = 20_000
EVENTS_PER_SESSION = 25


def _cells(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    col = np.clip(np.floor((valence + 1) / CELL_SIZE), 0, GRID - 1).astype(int)
    row = np.clip(np.floor((arousal + 1) / CELL_SIZE), 0, GRID - 1).astype(int)
    return row * GRID + col


def _quadrant_of(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    names = np.array(QUADRANTS)
    index = np.where(valence >= 0, np.where(arousal >= 0, 0, 3), np.where(arousal >= 0, 1, 2))
    return names[index]


def populate(
    session: Session,
    n_tracks: int,
    n_events: int = 0,
    *,
    n_mood_events: int | None = None,
    n_sessions: int | None = None,
    n_artists: int = 20_000,
    seed: int = 0,
    uniform_share: float = 0.0,
) -> None:
    """Append `n_tracks` synthetic tracks and `n_events` listening events (plus mood events,
    default a tenth of that) in the session's transaction, then rebuild the analytics rollups.
    Events come from `n_sessions` listener sessions (default: one per 25 events), each an hour
    long at some time in the 90 days before 2026-01-01, with one strategy each. Tracks cluster around the four
    quadrant centres like a real catalog, with some spread over the whole plane; a
    ``uniform_share`` of them lie instead anywhere on the plane, uniformly."""
    rng = np.random.default_rng(seed)
    first_id = int(session.scalar(select(func.coalesce(func.max(Track.id), 0)))) + 1
    now = datetime(2026, 1, 1)
    conn = session.connection()

    for start in range(0, n_tracks, CHUNK):
        size = min(CHUNK, n_tracks - start)
        centres = np.array([QUADRANT_VA[q] for q in QUADRANTS])[rng.integers(0, 4, size)]
        va = np.clip(centres + rng.normal(0, 0.3, (size, 2)), -1, 1)
        if uniform_share > 0:  # drawn only then, so the default catalog stays the same
            spread = rng.random(size) < uniform_share
            va[spread] = rng.uniform(-1, 1, (int(spread.sum()), 2))
        valence, arousal = va[:, 0], va[:, 1]
        logits = -((va[:, None, :] - np.array([QUADRANT_VA[q] for q in QUADRANTS])[None]) ** 2).sum(-1) * 4
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        quadrants = _quadrant_of(valence, arousal)
        cells = _cells(valence, arousal)
        artists = rng.integers(0, n_artists, size)
        ids = np.arange(first_id + start, first_id + start + size)
        rows = [
            {
                "id": int(ids[i]),
                "title": f"Synthetic {ids[i]}",
                "artist": f"Artist {artists[i]}",
                "album": None,
                "duration_s": 180.0,
                "sha256": f"{ids[i]:064x}",
                "media_path": f"synthetic/{ids[i]}.wav",
                "format": "wav",
                "quadrant": str(quadrants[i]),
                "valence": float(valence[i]),
                "arousal": float(arousal[i]),
                "prob_q1": float(probs[i, 0]),
                "prob_q2": float(probs[i, 1]),
                "prob_q3": float(probs[i, 2]),
                "prob_q4": float(probs[i, 3]),
                "tagged_by": SYNTHETIC_TAG,
                # As sure as its top probability; no timeline (no audio behind it: the end of a
                # track is then its own point, TrackSummary.end_mood).
                "confidence": float(probs[i].max()),
                "va_cell": int(cells[i]),
                "created_at": now - timedelta(seconds=int(rng.integers(0, 365 * 86400))),
            }
            for i in range(size)
        ]
        conn.execute(insert(Track.__table__), rows)

    last_id = first_id + n_tracks - 1
    if n_events and last_id >= 1:
        # Quadrant of every track id (ids are dense from 1), to stamp events as the insert hook
        # would; bulk Core inserts bypass the hook, and the rollups are rebuilt at the end.
        quadrant_of_id = np.full(last_id + 1, "", dtype="<U2")
        for track_id, quadrant in conn.execute(select(Track.id, Track.quadrant)):
            quadrant_of_id[track_id] = quadrant
        n_sessions = n_sessions or max(1, n_events // EVENTS_PER_SESSION)
        # A listener session lasts up to an hour, at some time in the last 90 days.
        session_start = rng.integers(0, 90 * 86400, n_sessions)
        session_strategy = rng.choice(len(STRATEGIES), n_sessions, p=[0.5, 0.3, 0.2])
        actions = np.array(["played", "liked", "skipped"])
        for start in range(0, n_events, CHUNK):
            size = min(CHUNK, n_events - start)
            track_ids = rng.integers(1, last_id + 1, size)
            action = actions[rng.choice(3, size, p=[0.6, 0.15, 0.25])]
            sessions = rng.integers(0, n_sessions, size)
            va = rng.uniform(-1, 1, (size, 2))
            offsets = session_start[sessions] - rng.integers(0, 3600, size)
            emotions = rng.integers(0, len(FACE_LABELS), size)
            conn.execute(
                insert(ListeningEvent.__table__),
                [
                    {
                        "session_id": f"synthetic-{sessions[i]}",
                        "track_id": int(track_ids[i]),
                        "action": str(action[i]),
                        "strategy": STRATEGIES[session_strategy[sessions[i]]],
                        "quadrant": str(quadrant_of_id[track_ids[i]]) or None,
                        "emotion": FACE_LABELS[emotions[i]],
                        "valence": float(va[i, 0]),
                        "arousal": float(va[i, 1]),
                        "created_at": now - timedelta(seconds=int(offsets[i])),
                    }
                    for i in range(size)
                ],
            )

    n_mood = n_events // 10 if n_mood_events is None else n_mood_events
    for start in range(0, n_mood, CHUNK):
        size = min(CHUNK, n_mood - start)
        labels = rng.integers(0, len(FACE_LABELS), size)
        va = rng.uniform(-1, 1, (size, 2))
        conn.execute(
            insert(MoodEvent.__table__),
            [
                {
                    "session_id": f"synthetic-{int(rng.integers(0, n_sessions or 5_000))}",
                    "distribution": {FACE_LABELS[labels[i]]: 1.0},
                    "label": FACE_LABELS[labels[i]],
                    "valence": float(va[i, 0]),
                    "arousal": float(va[i, 1]),
                    "created_at": now - timedelta(seconds=int(rng.integers(0, 90 * 86400))),
                }
                for i in range(size)
            ],
        )
    if n_events or n_mood:
        rollups.rebuild(session)
