"""Shared fixtures for the page tests: a temp database + media store and a small seeded catalog
of synthesized WAV files. Everything is generated; nothing is read from outside the repo."""

from __future__ import annotations

import hashlib
import io
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from app.catalog import repository
from app.catalog.db import dispose_engines, init_db, session_scope
from app.catalog.media import MediaStore
from app.catalog.summary import TrackSummary
from app.config import REPO_ROOT
from app.emotions import quadrant_of

APP_FILE = str(REPO_ROOT / "streamlit_app.py")


def wav_bytes(freq: float = 440.0, seconds: float = 1.0, sr: int = 22050, tremolo: float = 0.0) -> bytes:
    """A mono 16-bit PCM WAV: a sine (optionally with tremolo) so every file differs."""
    from app.tools.samples import tone

    signal = tone(seconds, sr, freq, tremolo=tremolo)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def seed_catalog(media_dir: Path, tmp_dir: Path, per_quadrant: int = 6) -> list[TrackSummary]:
    """`per_quadrant` tracks in each quadrant, spread over the plane, one artist per track."""
    init_db()
    store = MediaStore(media_dir)
    seeded: list[TrackSummary] = []
    corners = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
    n = 0
    with session_scope() as s:
        for quadrant, (sv, sa) in corners.items():
            for i in range(per_quadrant):
                n += 1
                # points from near the origin out toward the corner of the quadrant
                valence = sv * (0.15 + 0.8 * (i + 1) / (per_quadrant + 1))
                arousal = sa * (0.85 - 0.6 * i / per_quadrant)
                assert quadrant_of(valence, arousal) == quadrant
                data = wav_bytes(freq=200 + 20 * n, seconds=0.5)
                src = tmp_dir / f"seed_{n}.wav"
                src.write_bytes(data)
                sha = hashlib.sha256(data).hexdigest()
                rel, _ = store.put_file(src, sha, "wav")
                probs = {q: (0.7 if q == quadrant else 0.1) for q in ("Q1", "Q2", "Q3", "Q4")}
                track = repository.add_track(
                    s,
                    title=f"Song {n} {quadrant}",
                    artist=f"Artist {n}",
                    album=None,
                    duration_s=0.5,
                    sha256=sha,
                    media_path=rel,
                    format="wav",
                    quadrant=quadrant,
                    valence=valence,
                    arousal=arousal,
                    probabilities=probs,
                    tagged_by="model:test",
                )
                seeded.append(TrackSummary.of(track))
    return seeded


def configure_env(monkeypatch, tmp_path: Path, password: str | None = None) -> tuple[Path, Path]:
    """Point the app at a fresh, initialised SQLite catalog and media dir under tmp_path."""
    db = tmp_path / "moodtune.db"
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MOODTUNE_MEDIA_DIR", str(media))
    monkeypatch.setenv("MOODTUNE_ICE_SERVERS", "[]")
    if password is None:
        monkeypatch.delenv("MOODTUNE_ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("MOODTUNE_ADMIN_PASSWORD", password)
    init_db()  # as `make run` does: the app itself never creates a catalog
    return db, media


def cleanup_engines() -> None:
    dispose_engines()


class StubTagger:
    """Stands in for app.music.MoodTagger in page tests (the page, not the model, is under test):
    pitch decides valence and loudness arousal, so different synthesized files get different,
    predictable moods."""

    version = "stub-1"

    def tag(self, path_or_array, sr=None):
        import soundfile as sf

        from app.emotions import quadrant_of
        from app.music import MoodTag

        samples, rate = sf.read(str(path_or_array), always_2d=True)
        mono = samples.mean(axis=1)
        crossings = np.count_nonzero(np.diff(np.signbit(mono)))
        freq = crossings / 2 / (len(mono) / rate)
        valence = float(np.clip((freq - 400) / 300, -0.9, 0.9))
        arousal = float(np.clip((np.sqrt(np.mean(mono**2)) - 0.2) * 5, -0.9, 0.9))
        quadrant = quadrant_of(valence, arousal)
        probs = {q: (0.85 if q == quadrant else 0.05) for q in ("Q1", "Q2", "Q3", "Q4")}
        return MoodTag(quadrant, probs, valence, arousal, self.version)


@contextmanager
def install_stub_tagger(monkeypatch) -> Iterator[StubTagger]:
    """Within the block, the pages' imports tag with the stub (MoodTagger.load's override)."""
    from app.music import MoodTagger

    # The stub lives in this process: analyse here rather than in worker processes.
    monkeypatch.setenv("MOODTUNE_ANALYSIS_WORKERS", "0")
    with MoodTagger.load.override(StubTagger()) as stub:
        yield stub
