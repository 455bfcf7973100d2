"""Configuration: validated keys, the file named in errors, secrets kept private, and the precedence
flag > environment > config file > default."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from indsats.config import load_settings
from indsats.errors import BadConfig, Invalid


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_misspelled_key_exits_2_naming_the_key_and_the_file(invoke: Callable[..., Result], tmp_path: Path) -> None:
    config = write_config(tmp_path, 'databse_url = "sqlite:///elsewhere.db"\n')
    result = invoke(["cases"], INDSATS_CONFIG=str(config))
    assert result.exit_code == 2
    assert "unknown key 'databse_url'" in result.output
    assert str(config) in result.output
    assert "did you mean 'database_url'" in result.output
    assert "Traceback" not in result.output


def test_a_missing_config_file_named_by_indsats_config_is_an_error(invoke: Callable[..., Result], tmp_path: Path) -> None:
    result = invoke(["cases"], INDSATS_CONFIG=str(tmp_path / "nowhere.toml"))
    assert result.exit_code == 2
    assert "nowhere.toml" in result.output and "does not exist" in result.output


def test_an_empty_indsats_config_means_no_file(tmp_path: Path) -> None:
    settings = load_settings({"INDSATS_CONFIG": "", "INDSATS_DATA_DIR": str(tmp_path)})
    assert settings.config_file is None
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/indsats.db"


def test_a_config_file_with_a_password_must_be_private(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'smtp_url = "smtp://indsats:s3cret@mail.example.org?starttls=true"\n', 0o640)
    with pytest.raises(BadConfig) as raised:
        load_settings({"INDSATS_CONFIG": str(config)})
    assert "chmod 600" in raised.value.message and "0640" in raised.value.message
    assert "s3cret" not in raised.value.message
    config.chmod(0o600)
    assert load_settings({"INDSATS_CONFIG": str(config)}).smtp_url.endswith("starttls=true")  # type: ignore[union-attr]


def test_a_config_file_without_a_secret_may_be_readable(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'mail_from = "indsats@example.org"\n', 0o644)
    assert load_settings({"INDSATS_CONFIG": str(config)}).mail_from == "indsats@example.org"


def test_the_actor_and_the_key_cannot_come_from_a_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'user = "admin"\n')
    with pytest.raises(BadConfig, match="'user' cannot be set in a config file"):
        load_settings({"INDSATS_CONFIG": str(config)})


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, 'database_url = "sqlite:///from-file.db"\nmail_from = "file@example.org"\nlease_seconds = 60\n'
    )
    env = {"INDSATS_CONFIG": str(config), "INDSATS_DATABASE_URL": "sqlite:///from-env.db",
           "INDSATS_MAIL_FROM": "env@example.org"}
    assert load_settings(env, db="sqlite:///from-flag.db").database_url == "sqlite:///from-flag.db"
    settings = load_settings(env)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.mail_from == "env@example.org"
    assert settings.lease_seconds == 60  # from the file
    assert settings.busy_timeout_ms == 5000  # the default


def test_the_process_environment_is_read_above_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, 'mail_from = "file@example.org"\nlog_format = "json"\n')
    monkeypatch.setenv("INDSATS_CONFIG", str(config))
    monkeypatch.setenv("INDSATS_MAIL_FROM", "env@example.org")
    monkeypatch.delenv("INDSATS_LOG_FORMAT", raising=False)
    settings = load_settings()
    assert (settings.mail_from, settings.log_format, settings.config_file) == ("env@example.org", "json", config)


def test_a_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'busy_timeout_ms = "soon"\n')
    with pytest.raises(Invalid) as raised:
        load_settings({"INDSATS_CONFIG": str(config)})
    assert raised.value.message.startswith(f"busy_timeout_ms in {config}:")
    with pytest.raises(Invalid, match="INDSATS_LOG_FORMAT"):
        load_settings({"INDSATS_CONFIG": "", "INDSATS_LOG_FORMAT": "xml"})


def test_the_command_line_loads_pydantic_logging_and_prometheus_only_where_they_are_used() -> None:
    heavy = ("pydantic", "pydantic_settings", "logging", "apscheduler", "prometheus_client", "sqlalchemy")
    code = f"import sys, indsats.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
