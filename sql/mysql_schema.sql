-- Moodtune catalog schema for MySQL 8 / MariaDB 10.6+.
-- Mirrors app/catalog/models.py exactly (tests/test_mysql_schema.py compares the two on a
-- real server). The app can also create it itself: `DATABASE_URL=mysql+pymysql://… python -m app init-db`.
-- Timestamps are UTC. No image or video frame is ever stored.

CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER NOT NULL AUTO_INCREMENT,
    title VARCHAR(255) NOT NULL,
    artist VARCHAR(255) NOT NULL,
    album VARCHAR(255),
    duration_s FLOAT NOT NULL,
    sha256 VARCHAR(64) NOT NULL,          -- SHA-256 of the file: one row per distinct file
    media_path VARCHAR(255) NOT NULL,     -- relative to MOODTUNE_MEDIA_DIR: <sha[:2]>/<sha>.<ext>
    format VARCHAR(16) NOT NULL,          -- sniffed container: wav, flac, mp3, ogg, opus, aiff
    quadrant VARCHAR(2) NOT NULL,         -- Russell quadrant Q1..Q4
    valence FLOAT NOT NULL,               -- [-1, 1]
    arousal FLOAT NOT NULL,               -- [-1, 1]
    prob_q1 FLOAT NOT NULL,
    prob_q2 FLOAT NOT NULL,
    prob_q3 FLOAT NOT NULL,
    prob_q4 FLOAT NOT NULL,
    tagged_by VARCHAR(64) NOT NULL,       -- 'model:<version>' or 'curator'
    confidence FLOAT,                     -- the model's confidence in its tag; NULL for a curator's
    mood_timeline JSON,                   -- [[start_s, end_s, valence, arousal], ...] over the whole track
    end_valence FLOAT,                    -- the timeline's mood over the track's last seconds (NULL without one)
    end_arousal FLOAT,
    va_cell INTEGER NOT NULL,             -- cell of (valence, arousal) on a 20x20 grid: recommendation pre-filter
    created_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_tracks_sha256 UNIQUE (sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX ix_tracks_va_cell ON tracks (va_cell, valence, arousal);
CREATE INDEX ix_tracks_quadrant_va ON tracks (quadrant, valence, arousal);
CREATE INDEX ix_tracks_artist ON tracks (artist);
CREATE INDEX ix_tracks_created_at ON tracks (created_at);
-- analytics: per-quadrant and per-source counts over a date range, index-only
CREATE INDEX ix_tracks_quadrant_time ON tracks (quadrant, created_at);
CREATE INDEX ix_tracks_tagged_by_time ON tracks (tagged_by, created_at);
-- Curate's "needs review": least sure model tags first
CREATE INDEX ix_tracks_confidence ON tracks (confidence);

CREATE TABLE IF NOT EXISTS listening_events (
    id INTEGER NOT NULL AUTO_INCREMENT,
    session_id VARCHAR(64) NOT NULL,      -- anonymous listener session
    track_id INTEGER NOT NULL,
    action VARCHAR(16) NOT NULL,          -- started | completed | skipped | paused | liked | played | disliked (see ACTIONS in models.py)
    strategy VARCHAR(16),                 -- match | lift | calm
    quadrant VARCHAR(2),                  -- the track's quadrant when it was played
    emotion VARCHAR(16),                  -- detected face label at the time
    valence FLOAT,
    arousal FLOAT,
    position_s FLOAT,                     -- seconds into the track, as the player reported it; NULL without a player
    completed BOOL NOT NULL DEFAULT FALSE, -- the track had played to its end by then
    created_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_listening_track FOREIGN KEY (track_id) REFERENCES tracks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX ix_listening_session_time ON listening_events (session_id, created_at);
CREATE INDEX ix_listening_track_action ON listening_events (track_id, action);
CREATE INDEX ix_listening_time_action ON listening_events (created_at, action);
-- most-liked tracks: liked events in track order, time filtered inside the index
CREATE INDEX ix_listening_action_track_time ON listening_events (action, track_id, created_at);

CREATE TABLE IF NOT EXISTS mood_events (
    id INTEGER NOT NULL AUTO_INCREMENT,
    session_id VARCHAR(64) NOT NULL,
    distribution JSON NOT NULL,           -- face label -> probability
    label VARCHAR(16) NOT NULL,
    valence FLOAT NOT NULL,
    arousal FLOAT NOT NULL,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX ix_mood_session_time ON mood_events (session_id, created_at);
CREATE INDEX ix_mood_time_label ON mood_events (created_at, label);

CREATE TABLE IF NOT EXISTS mood_responses (
    id INTEGER NOT NULL AUTO_INCREMENT,
    session_id VARCHAR(64) NOT NULL,
    track_id INTEGER NOT NULL,
    strategy VARCHAR(16) NOT NULL,        -- match | lift | calm
    valence_start FLOAT NOT NULL,         -- smoothed camera mood when the track started
    arousal_start FLOAT NOT NULL,
    valence_end FLOAT NOT NULL,           -- ... and when it ended or the listener moved on
    arousal_end FLOAT NOT NULL,
    readings INTEGER NOT NULL,            -- camera readings in between
    listened_s FLOAT NOT NULL,            -- seconds of the track that played
    created_at DATETIME NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_mood_response_track FOREIGN KEY (track_id) REFERENCES tracks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- covering: per-track evidence for the recommender, per-strategy/per-track "Did it work?" in Analytics
CREATE INDEX ix_mood_response_track_stats ON mood_responses (track_id, created_at, valence_start, valence_end, arousal_start, arousal_end);
CREATE INDEX ix_mood_response_strategy_stats ON mood_responses (strategy, created_at, valence_start, valence_end, arousal_start, arousal_end);
CREATE INDEX ix_mood_response_session ON mood_responses (session_id, created_at);

-- Rollups read by the analytics page instead of the event tables; kept in step on every write
-- (app/catalog/rollups.py), rebuilt from the event tables after a bulk load.

CREATE TABLE IF NOT EXISTS listening_daily (
    day DATE NOT NULL,
    strategy VARCHAR(16) NOT NULL,        -- '' when the event had none
    quadrant VARCHAR(2) NOT NULL,         -- the track's quadrant when played
    action VARCHAR(16) NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, strategy, quadrant, action)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS listening_session_days (
    session_id VARCHAR(64) NOT NULL,
    day DATE NOT NULL,
    strategy VARCHAR(16) NOT NULL,
    PRIMARY KEY (session_id, day, strategy)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- distinct sessions per strategy: an index already in (strategy, session_id) order
CREATE INDEX ix_session_days_strategy ON listening_session_days (strategy, session_id, day);

CREATE TABLE IF NOT EXISTS mood_hourly (
    day DATE NOT NULL,
    hour SMALLINT NOT NULL,               -- 0..23, UTC
    label VARCHAR(16) NOT NULL,
    readings INTEGER NOT NULL,
    PRIMARY KEY (day, hour, label)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One anonymous listener session's snapshot, so a reload or a second tab resumes it
-- (app/listening/persistence.py). Nothing in it names the person; no image is ever stored.
CREATE TABLE IF NOT EXISTS listener_sessions (
    session_id VARCHAR(32) NOT NULL,      -- random 32-hex id, the same as the events' session_id
    state TEXT NOT NULL,                  -- JSON: strategy, mood source and readings, lock, now playing + position, up next, history, liked
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- purging snapshots of sessions nobody came back to
CREATE INDEX ix_listener_sessions_updated ON listener_sessions (updated_at);
