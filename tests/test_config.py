import pytest

from app.config import REPO_ROOT, ConfigError, get_settings


def test_defaults_live_under_the_repo_data_folder(monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("MOODTUNE_MEDIA_DIR")
    s = get_settings()
    assert s.database_url == f"sqlite:///{REPO_ROOT / 'data' / 'moodtune.db'}"
    assert s.media_dir == REPO_ROOT / "data" / "media"
    assert s.ice_servers == ()
    assert (s.max_upload_mb, s.max_duration_s) == (50.0, 900.0)


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "MOODTUNE_ICE_SERVERS", '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]'
    )
    monkeypatch.setenv("MOODTUNE_MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("MOODTUNE_ADMIN_PASSWORD", "s3cret-value")
    monkeypatch.setenv("MOODTUNE_IMPORT_ROOT", str(tmp_path))
    s = get_settings()
    assert s.ice_servers[0]["urls"] == ["turn:turn.example.org:3478"]
    assert s.max_upload_bytes == 5 * 1024 * 1024
    assert s.admin_password == "s3cret-value"
    assert s.import_root == tmp_path.resolve()
    assert "s3cret-value" not in repr(s)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOODTUNE_ICE_SERVERS", "not json"),
        ("MOODTUNE_ICE_SERVERS", '{"urls": "x"}'),
        ("MOODTUNE_MAX_UPLOAD_MB", "lots"),
        ("MOODTUNE_MAX_DURATION_S", "-1"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_settings()


def test_the_cli_reads_the_streamlit_secrets_file_without_streamlit(monkeypatch, tmp_path):
    import sys

    from app import config

    user, project = tmp_path / "user.toml", tmp_path / "project.toml"
    user.write_text('media_dir = "user-media"\nMOODTUNE_MAX_UPLOAD_MB = 7\n')
    project.write_text('database_url = "sqlite:///from-secrets.db"\nmedia_dir = "project-media"\n')
    monkeypatch.setattr(config, "SECRETS_FILES", (user, project, tmp_path / "missing.toml"))
    monkeypatch.delitem(sys.modules, "streamlit", raising=False)
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("MOODTUNE_MEDIA_DIR")
    s = get_settings()
    assert s.database_url == "sqlite:///from-secrets.db"
    assert s.media_dir == REPO_ROOT / "project-media"  # the project's file wins over the user's
    assert s.max_upload_mb == 7.0
    assert "streamlit" not in sys.modules
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")  # the environment comes first
    assert get_settings().database_url == "sqlite:///from-env.db"


def test_the_curators_list_is_read_without_regard_to_case_or_spaces(monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("MOODTUNE_CURATORS", " Ana@Example.org, bo@example.org ,,")
    assert get_settings().curators == ("ana@example.org", "bo@example.org")
