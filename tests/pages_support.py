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
from app.catalog.media import FolderStore
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


def spread_points(per_quadrant: int = 6) -> list[tuple[float, float]]:
    """`per_quadrant` points in each quadrant, from near the origin out toward its corner."""
    corners = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
    points = [
        (sv * (0.15 + 0.8 * (i + 1) / (per_quadrant + 1)), sa * (0.85 - 0.6 * i / per_quadrant))
        for sv, sa in corners.values()
        for i in range(per_quadrant)
    ]
    quadrants = [q for q in corners for _ in range(per_quadrant)]
    assert [quadrant_of(*p) for p in points] == quadrants
    return points


def seed_catalog(
    media_dir: Path,
    tmp_dir: Path,
    per_quadrant: int = 6,
    *,
    seconds: float = 0.5,
    sr: int = 22050,
    points: list[tuple[float, float]] | None = None,
) -> list[TrackSummary]:
    """A track at each of `points` (valence, arousal; by default `spread_points(per_quadrant)`),
    one artist per track, each a `seconds`-long tone (long enough, for a browser test, that none
    ends while it runs)."""
    init_db()
    store = FolderStore(media_dir)
    seeded: list[TrackSummary] = []
    n = 0
    with session_scope() as s:
        for valence, arousal in points if points is not None else spread_points(per_quadrant):
            n += 1
            quadrant = quadrant_of(valence, arousal)
            data = wav_bytes(freq=200 + 20 * n, seconds=seconds, sr=sr)
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
                duration_s=seconds,
                sha256=sha,
                media_path=rel,
                format="wav",
                quadrant=quadrant,
                valence=valence,
                arousal=arousal,
                probabilities=probs,
                tagged_by="model:test",
                confidence=probs[quadrant],
            )
            seeded.append(TrackSummary.of(track))
    return seeded


# (title, artist, tagged_by, confidence, the mood of each 10 s segment): two unsure model tags
# whose mood moves, two sure ones, a curator's and an old model tag with neither stored.
REVIEW_TRACKS = [
    ("Crossroads", "Unsure Band", "model:test", 0.31, [(-0.5, -0.5), (-0.3, -0.2), (0.1, 0.2), (0.5, 0.6), (0.6, 0.7)]),
    ("Half Light", "Unsure Band", "model:test", 0.36, [(0.4, -0.5), (0.2, -0.1), (-0.2, 0.3), (-0.5, 0.5)]),
    ("Bright Parade", "Sure Band", "model:test", 0.92, [(0.7, 0.6), (0.8, 0.7), (0.7, 0.5)]),
    ("Still Water", "Sure Band", "model:test", 0.81, [(0.5, -0.6), (0.6, -0.7), (0.5, -0.6)]),
    ("Rain Song", "Curator Pick", "curator", None, [(-0.6, -0.4), (-0.5, -0.5)]),
    ("Grey Morning", "Old Tag", "model:test", None, []),
]


def seed_review_catalog(media_dir: Path, tmp_dir: Path, sr: int = 8000) -> list[TrackSummary]:
    """REVIEW_TRACKS as tracks with real (quiet, low-rate) audio as long as their timelines."""
    import soundfile as sf

    from app.tools.samples import tone

    init_db()
    store = FolderStore(media_dir)
    seeded: list[TrackSummary] = []
    with session_scope() as s:
        for n, (title, artist, tagged_by, confidence, moods) in enumerate(REVIEW_TRACKS):
            seconds = 10.0 * max(1, len(moods))
            src = tmp_dir / f"review_{n}.wav"
            sf.write(src, tone(seconds, sr, 220 + 40 * n, amplitude=0.1), sr, subtype="PCM_16")
            sha = hashlib.sha256(src.read_bytes()).hexdigest()
            rel, _ = store.put_file(src, sha, "wav")
            valence, arousal = (float(np.mean(c)) for c in zip(*moods, strict=True)) if moods else (0.4, 0.4)
            quadrant = quadrant_of(valence, arousal)
            track = repository.add_track(
                s,
                title=title,
                artist=artist,
                album=None,
                duration_s=seconds,
                sha256=sha,
                media_path=rel,
                format="wav",
                quadrant=quadrant,
                valence=valence,
                arousal=arousal,
                probabilities={q: (0.7 if q == quadrant else 0.1) for q in ("Q1", "Q2", "Q3", "Q4")},
                tagged_by=tagged_by,
                confidence=confidence,
                timeline=[(10.0 * i, 10.0 * (i + 1), v, a) for i, (v, a) in enumerate(moods)],
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
    pitch decides valence and loudness arousal, segment by segment (about every 10 s, like the
    model: the timeline), so different synthesized files get different, predictable moods. The
    track's point is the segments' mean; its confidence is low near an axis, where a quadrant is
    a close call."""

    version = "stub-1"
    segment_s = 10.0

    @staticmethod
    def point(mono: np.ndarray, rate: int) -> tuple[float, float]:
        crossings = np.count_nonzero(np.diff(np.signbit(mono)))
        freq = crossings / 2 / (len(mono) / rate)
        valence = float(np.clip((freq - 400) / 300, -0.9, 0.9))
        arousal = float(np.clip((np.sqrt(np.mean(mono**2)) - 0.2) * 5, -0.9, 0.9))
        return valence, arousal

    def tag(self, path_or_array, sr=None):
        import soundfile as sf

        from app.emotions import quadrant_of
        from app.music import MoodTag
        from app.music.tagger import MoodPoint

        samples, rate = sf.read(str(path_or_array), always_2d=True)
        mono = samples.mean(axis=1)
        duration = len(mono) / rate
        edges = [float(e) for e in np.linspace(0.0, duration, max(1, round(duration / self.segment_s)) + 1)]
        timeline = tuple(
            MoodPoint(round(a, 2), round(b, 2), *self.point(mono[round(a * rate) : round(b * rate)], rate))
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        )
        valence = float(np.mean([p.valence for p in timeline]))
        arousal = float(np.mean([p.arousal for p in timeline]))
        quadrant = quadrant_of(valence, arousal)
        probs = {q: (0.85 if q == quadrant else 0.05) for q in ("Q1", "Q2", "Q3", "Q4")}
        confidence = min(0.95, 0.3 + min(abs(valence), abs(arousal)))
        return MoodTag(quadrant, probs, valence, arousal, self.version, confidence, timeline)


@contextmanager
def install_stub_tagger(monkeypatch) -> Iterator[StubTagger]:
    """Within the block, the pages' imports tag with the stub (MoodTagger.load's override)."""
    from app.music import MoodTagger

    # The stub lives in this process: analyse here rather than in worker processes.
    monkeypatch.setenv("MOODTUNE_ANALYSIS_WORKERS", "0")
    with MoodTagger.load.override(StubTagger()) as stub:
        yield stub
