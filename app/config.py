"""Settings: environment variables first, then Streamlit secrets, then defaults; the model files.

On Streamlit Community Cloud the same names go in the app's secrets (see
`.streamlit/secrets.toml.example`). Streamlit is never imported here, so `app/` stays importable
(CLI, workers, tests) without it.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
CACHE_DIR = REPO_ROOT / ".cache"  # rebuildable working files (bench catalogs, training caches)

# Models are loaded only from the repository's own models/ folder, never from a user-given path.
MODELS_DIR = REPO_ROOT / "models"
FACE_MODEL_FILE = "face_expression.tflite"
# YuNet, converted from the yuface wheel by app.vision.convert_yunet.
FACE_DETECTOR_FILE = "face_detector_yunet.tflite"
MUSIC_MODEL_FILE = "music_mood.npz"
MUSICNN_MODEL_FILE = "musicnn_msd.tflite"
# Tracks shorter than this (stingers, jingles, fragments) are too short for the mood model's
# ~10 s segments: their tags are always listed for review, and listeners are not offered them
# until a curator has set their mood. Below the demo catalog's shortest clip (20 s). The default
# of Settings.fragment_below_s (MOODTUNE_FRAGMENT_BELOW_S; 0 treats no track as a fragment).
FRAGMENT_BELOW_S = 18.0

# Where Streamlit looks for secrets: the user's file, then the project's (which wins).
SECRETS_FILES = (Path.home() / ".streamlit" / "secrets.toml", REPO_ROOT / ".streamlit" / "secrets.toml")


class ConfigError(ValueError):
    """A setting is present but unusable (the message names it, never its value)."""


def _secrets() -> Any | None:
    """The Streamlit secrets, or None when there are none.

    In the Streamlit app (Streamlit already loaded) this is `st.secrets`, wherever the host keeps
    them; elsewhere (CLI, workers) the same secrets.toml files read directly."""
    st = sys.modules.get("streamlit")
    if st is not None:
        try:
            # load_if_toml_exists() is Streamlit's non-raising probe; plain access raises when
            # there is no secrets file at all.
            return st.secrets if st.secrets.load_if_toml_exists() else None
        except Exception:
            return None
    merged: dict[str, Any] = {}
    for path in SECRETS_FILES:
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue  # a missing or unreadable file holds no secrets, as for st.secrets
    return merged or None


def _lookup(secrets: Any | None, *names: str) -> Any | None:
    """First non-empty value among env vars `names`, then the same names (and lowercase) in secrets."""
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return value
    if secrets is not None:
        for name in names:
            for key in (name, name.lower()):
                try:
                    if key in secrets and secrets[key] not in (None, ""):
                        return secrets[key]
                except Exception:
                    continue
    return None


def _number(secrets: Any | None, name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = _lookup(secrets, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'zero or more' if allow_zero else 'positive'}")
    return value


def _ice_servers(secrets: Any | None) -> list[dict[str, Any]]:
    raw = _lookup(secrets, "MOODTUNE_ICE_SERVERS", "ice_servers")
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError("MOODTUNE_ICE_SERVERS must be a JSON list of ICE server objects") from None
    # st.secrets returns its own mapping types; normalise to plain dicts.
    if not isinstance(raw, (list, tuple)) or not all(hasattr(s, "keys") for s in raw):
        raise ConfigError("MOODTUNE_ICE_SERVERS must be a JSON list of ICE server objects")
    return [dict(s) for s in raw]


@dataclass(frozen=True)
class BucketSettings:
    """An S3-compatible bucket for the media (`MOODTUNE_MEDIA_URL=s3://bucket/prefix`)."""

    name: str
    prefix: str
    endpoint: str | None  # None: AWS itself; else e.g. https://<account>.r2.cloudflarestorage.com
    region: str
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}".rstrip("/")


def _media_bucket(secrets: Any | None) -> BucketSettings | None:
    raw = _lookup(secrets, "MOODTUNE_MEDIA_URL", "media_url")
    if raw is None:
        return None
    url = str(raw)
    if not url.startswith("s3://"):
        raise ConfigError("MOODTUNE_MEDIA_URL must be s3://bucket/prefix (a local folder is MOODTUNE_MEDIA_DIR)")
    name, _, prefix = url[len("s3://") :].partition("/")
    if not name:
        raise ConfigError("MOODTUNE_MEDIA_URL must name a bucket: s3://bucket/prefix")
    key_id = _lookup(secrets, "AWS_ACCESS_KEY_ID", "s3_access_key_id")
    secret = _lookup(secrets, "AWS_SECRET_ACCESS_KEY", "s3_secret_access_key")
    if (key_id is None) != (secret is None):
        raise ConfigError("give both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or neither)")
    endpoint = _lookup(secrets, "MOODTUNE_S3_ENDPOINT", "AWS_ENDPOINT_URL", "s3_endpoint")
    return BucketSettings(
        name=name,
        prefix=prefix.strip("/"),
        endpoint=str(endpoint).rstrip("/") if endpoint else None,
        region=str(_lookup(secrets, "AWS_REGION", "AWS_DEFAULT_REGION", "s3_region") or "us-east-1"),
        access_key_id=str(key_id) if key_id is not None else None,
        secret_access_key=str(secret) if secret is not None else None,
    )


def _curators(secrets: Any | None) -> tuple[str, ...]:
    raw = _lookup(secrets, "MOODTUNE_CURATORS", "curators")
    if raw is None:
        return ()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(sorted({str(item).strip().lower() for item in items if str(item).strip()}))


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    media_dir: Path  # the media folder; with a bucket, only its local staging area
    admin_password: str | None = field(repr=False)  # never printed
    ice_servers: tuple[dict[str, Any], ...] = ()
    import_root: Path | None = None
    max_upload_mb: float = 50.0
    max_duration_s: float = 900.0
    # Processes that analyse audio for imports and uploads; 0 analyses in the calling process.
    analysis_workers: int = 2
    media_bucket: BucketSettings | None = None  # set: audio lives in this bucket, not media_dir
    # Accounts (e-mail, lower case) that may curate when sign-in (st.login, [auth]) is configured.
    curators: tuple[str, ...] = ()
    # The header a reverse proxy in front of the app sets to the client's address (X-Forwarded-For,
    # X-Real-IP): only then can the login throttle tell proxied clients apart.
    trusted_proxy_header: str | None = None
    fragment_below_s: float = FRAGMENT_BELOW_S

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def get_settings() -> Settings:
    """Read the settings now (cheap; not cached so tests and reruns see changed env vars)."""
    secrets = _secrets()
    database_url = str(
        _lookup(secrets, "DATABASE_URL", "database_url") or _sqlite_url(DEFAULT_DATA_DIR / "moodtune.db")
    )
    media_dir = Path(str(_lookup(secrets, "MOODTUNE_MEDIA_DIR", "media_dir") or DEFAULT_DATA_DIR / "media"))
    if not media_dir.is_absolute():
        media_dir = REPO_ROOT / media_dir
    password = _lookup(secrets, "MOODTUNE_ADMIN_PASSWORD", "admin_password")
    import_root_raw = _lookup(secrets, "MOODTUNE_IMPORT_ROOT", "import_root")
    return Settings(
        database_url=database_url,
        media_dir=media_dir.resolve(),
        admin_password=str(password) if password is not None else None,
        ice_servers=tuple(_ice_servers(secrets)),
        import_root=Path(str(import_root_raw)).resolve() if import_root_raw else None,
        max_upload_mb=_number(secrets, "MOODTUNE_MAX_UPLOAD_MB", 50.0),
        max_duration_s=_number(secrets, "MOODTUNE_MAX_DURATION_S", 900.0),
        fragment_below_s=_number(secrets, "MOODTUNE_FRAGMENT_BELOW_S", FRAGMENT_BELOW_S, allow_zero=True),
        analysis_workers=int(_number(secrets, "MOODTUNE_ANALYSIS_WORKERS", 2, allow_zero=True)),
        media_bucket=_media_bucket(secrets),
        curators=_curators(secrets),
        trusted_proxy_header=str(_lookup(secrets, "MOODTUNE_TRUSTED_PROXY_HEADER", "trusted_proxy_header") or "")
        or None,
    )
