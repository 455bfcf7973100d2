"""Settings, read once at the edge and passed down: env vars, then an optional TOML config file.

| setting | env var | config key | default |
| --- | --- | --- | --- |
| database | INDSATS_DATABASE_URL (or --db) | database_url | SQLite file in the user's data directory |
| data directory | INDSATS_DATA_DIR | data_dir | platformdirs user data dir for "indsats" |
| extra plans | INDSATS_PLANS_DIR | plans_dir | none (the shipped plans only) |
| SMTP | INDSATS_SMTP_URL | smtp_url | none: messages go to the outbox file |
| sender | INDSATS_MAIL_FROM | mail_from | indsats@localhost |
| outbox | INDSATS_OUTBOX | outbox | <data dir>/outbox.jsonl |
| busy timeout | INDSATS_BUSY_TIMEOUT_MS | busy_timeout_ms | 5000 |
| reminder lease | INDSATS_LEASE_SECONDS | lease_seconds | 300 |
| the actor | INDSATS_USER | (none) | the OS login |
| encryption key file | INDSATS_KEY_FILE | key_file | <data dir>/indsats.key (made by `init`) |
| encryption key | INDSATS_KEY | (none) | none (the key file is used) |
| calendar | (none) | [calendar] table | Danish calendar, Mon–Thu 08–16, Fri 08–13:30 |
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indsats.errors import Invalid


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the installation configures."""

    database_url: str
    data_dir: Path
    plans_dir: Path | None = None
    smtp_url: str | None = None
    mail_from: str = "indsats@localhost"
    outbox: Path
    busy_timeout_ms: int = 5000
    lease_seconds: float = 300.0  # how long a sweep's claim on a reminder lasts before another may take it over
    user: str
    calendar: Mapping[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    key_file: Path
    key: str | None = field(default=None, repr=False)


def database_url_from(value: str) -> str:
    """Accept a URL or a plain path to a SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def load_settings(env: Mapping[str, str] | None = None, *, db: str | None = None) -> Settings:
    """Read the settings from ``env`` (default: the process environment) and the config file."""
    env = os.environ if env is None else env
    config_path = _config_path(env)
    file_values: dict[str, Any] = {}
    if config_path is not None and config_path.exists():
        try:
            file_values = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise Invalid(f"{config_path}: cannot read the config file: {exc}") from None

    def pick(env_name: str, key: str) -> Any:
        return env.get(env_name) or file_values.get(key)

    data_dir = Path(pick("INDSATS_DATA_DIR", "data_dir") or _default_data_dir()).expanduser()
    url = db or pick("INDSATS_DATABASE_URL", "database_url") or str(data_dir / "indsats.db")
    plans_dir = pick("INDSATS_PLANS_DIR", "plans_dir")
    outbox = pick("INDSATS_OUTBOX", "outbox")
    busy = pick("INDSATS_BUSY_TIMEOUT_MS", "busy_timeout_ms") or 5000
    try:
        busy_ms = int(busy)
    except ValueError:
        raise Invalid(f"INDSATS_BUSY_TIMEOUT_MS must be a whole number of milliseconds, not '{busy}'") from None
    lease = pick("INDSATS_LEASE_SECONDS", "lease_seconds") or 300
    try:
        lease_seconds = float(lease)
    except ValueError:
        lease_seconds = -1.0
    if not lease_seconds > 0:
        raise Invalid(f"INDSATS_LEASE_SECONDS must be a positive number of seconds, not '{lease}'")
    calendar = file_values.get("calendar", {})
    if not isinstance(calendar, Mapping):
        raise Invalid(f"{config_path}: [calendar] must be a table")
    return Settings(
        database_url=database_url_from(str(url)),
        data_dir=data_dir,
        plans_dir=Path(plans_dir).expanduser() if plans_dir else None,
        smtp_url=pick("INDSATS_SMTP_URL", "smtp_url") or None,
        mail_from=pick("INDSATS_MAIL_FROM", "mail_from") or "indsats@localhost",
        outbox=Path(outbox).expanduser() if outbox else data_dir / "outbox.jsonl",
        busy_timeout_ms=busy_ms,
        lease_seconds=lease_seconds,
        user=env.get("INDSATS_USER") or _os_login(),
        calendar=calendar,
        config_file=config_path,
        key_file=Path(pick("INDSATS_KEY_FILE", "key_file") or data_dir / "indsats.key").expanduser(),
        key=env.get("INDSATS_KEY") or None,
    )


def _config_path(env: Mapping[str, str]) -> Path | None:
    if env.get("INDSATS_CONFIG"):
        return Path(env["INDSATS_CONFIG"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("indsats")) / "config.toml"


def _default_data_dir() -> str:
    from platformdirs import user_data_dir

    return user_data_dir("indsats")


def _os_login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
