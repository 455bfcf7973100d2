"""Settings, read once at the edge and passed down, checked field by field (no pydantic: every command reads them).

Precedence: a command-line flag, then the environment (``INDSATS_*``), then the TOML config file,
then the default. The config file is ``INDSATS_CONFIG`` (an empty value: no file at all) or else
``~/.config/indsats/config.toml`` if it exists. A key the file may not hold is refused with the key
and the file named (exit 2); so is an ``INDSATS_CONFIG`` naming a file that does not exist, and a file
holding a secret (a password in a URL) that group or others may read.

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
| log level / format | INDSATS_LOG_LEVEL / INDSATS_LOG_FORMAT (or --log-…) | log_level / log_format | INFO / text |
| metrics port | INDSATS_METRICS_PORT (or --metrics-port) | metrics_port | none (no metrics served) |
| the actor | INDSATS_USER (direct mode only) | (none) | the OS login, from the uid (never USER/LOGNAME) |
| the server | INDSATS_SERVER | server | none: work directly on the database; `unix:/path/to/indsats.sock` |
| encryption key file | INDSATS_KEY_FILE | key_file | <data dir>/indsats.key (made by `init`) |
| encryption key | INDSATS_KEY | (none) | none (the key file is used) |
| seal signing key | INDSATS_SIGNING_KEY_FILE | signing_key_file | indsats-signing.key beside the key file (made by `init`) |
| seal public key | INDSATS_SEAL_PUBLIC_KEY_FILE | seal_public_key_file | the signing key file's name + `.pub` |
| seal file | INDSATS_SEAL_FILE | seal_file | <data dir>/seals.jsonl (copy it elsewhere) |
| calendar | (none) | [calendar] table | Danish calendar, Mon–Thu 08–16, Fri 08–13:30 |
| worker schedule | (none) | [schedule] table | sweep every 60 s, verify 02:00, retention 03:00, statistics 04:00, … |
| language of every message | INDSATS_LANGUAGE | language | da (Danish, as the shipped plans); or en |
| OIDC provider (web login, bearer tokens) | INDSATS_OIDC_ISSUER | oidc_issuer | none: no web login |
| OIDC client id | INDSATS_OIDC_CLIENT_ID | oidc_client_id | none |
| OIDC client secret file | INDSATS_OIDC_CLIENT_SECRET_FILE | oidc_client_secret_file | none (a public client, PKCE only) |
| claim holding the login | INDSATS_OIDC_LOGIN_CLAIM | oidc_login_claim | preferred_username |
| audience of bearer tokens | INDSATS_OIDC_AUDIENCE | oidc_audience | the client id |
| the web view's public URL | INDSATS_PUBLIC_URL | public_url | as the request arrived |
| web session signing key file | INDSATS_SESSION_KEY_FILE | session_key_file | a new key at each server start |
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from indsats.i18n import _
from indsats.errors import BadConfig, Invalid, SecretReadable
from indsats.locations import config_path_from, os_login

__all__ = ["Settings", "config_path_from", "database_url_from", "load_settings", "os_login", "read_config_file"]

ENV_PREFIX = "INDSATS_"
# Settings that only the environment gives: who is acting, and a key that should never sit in a file.
ENV_ONLY = frozenset({"user", "key"})
# Not settings at all: what load_settings() records about where they came from.
DERIVED = frozenset({"config_file"})
# Tables: only the config file gives them.
FILE_ONLY = frozenset({"calendar", "schedule"})
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]
Language = Literal["da", "en"]  # indsats.i18n.LANGUAGES


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the installation configures."""

    database_url: str
    data_dir: Path
    plans_dir: Path | None = None
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "indsats@localhost"
    outbox: Path
    busy_timeout_ms: int = 5000
    lease_seconds: float = 300.0  # how long a sweep's claim on a reminder lasts before another may take it over
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    metrics_port: int | None = None
    language: Language = "da"  # what people read: help, tables, show, errors, reports, the plan document, e-mails
    user: str
    server: str | None = None  # `unix:/path`: every command goes to that `indsats server` (indsats.locations)
    calendar: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    key_file: Path
    key: str | None = field(default=None, repr=False)
    # The web view (indsats server --listen): the municipality's OIDC provider and this client at it.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_file: Path | None = None
    oidc_login_claim: str = "preferred_username"
    oidc_audience: str | None = None
    public_url: str | None = None
    session_key_file: Path | None = None
    signing_key_file: Path | None = None  # None: beside the key file (see ``signing_key_path``)
    seal_public_key_file: Path | None = None
    seal_file: Path | None = None

    @property
    def signing_key_path(self) -> Path:
        return (self.signing_key_file or self.key_file.with_name("indsats-signing.key")).expanduser()

    @property
    def seal_public_key_path(self) -> Path:
        path = self.signing_key_path
        return (self.seal_public_key_file or path.with_name(path.name + ".pub")).expanduser()

    @property
    def seal_file_path(self) -> Path:
        return (self.seal_file or self.data_dir / "seals.jsonl").expanduser()


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))
_TYPES: dict[str, Any] = typing.get_type_hints(Settings)


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    found = {name: environ.get(ENV_PREFIX + name.upper()) for name in FIELDS if name not in DERIVED | FILE_ONLY}
    return {name: value for name, value in found.items() if value}  # an empty variable is as good as unset


def _derive_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """Defaults that depend on other settings: everything lives in the data directory."""
    data_dir = Path(values.get("data_dir") or _default_data_dir()).expanduser()
    values["data_dir"] = data_dir
    values["database_url"] = database_url_from(str(values.get("database_url") or data_dir / "indsats.db"))
    values["outbox"] = Path(values.get("outbox") or data_dir / "outbox.jsonl").expanduser()
    values["key_file"] = Path(values.get("key_file") or data_dir / "indsats.key").expanduser()
    if values.get("plans_dir"):
        values["plans_dir"] = Path(values["plans_dir"]).expanduser()
    values.setdefault("user", os_login())  # the uid's login, never USER/LOGNAME
    return values


def _coerce(name: str, value: Any) -> Any:
    """``value`` as the field's type (text from the environment, TOML values from the file); ValueError if not."""
    kind = _TYPES[name]
    if typing.get_origin(kind) in (types.UnionType, typing.Union):  # X | None
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if name == "log_level" and isinstance(value, str):
        value = value.upper()
    if name == "language" and isinstance(value, str):
        value = value.strip().lower()
    if typing.get_origin(kind) is Literal:
        allowed = typing.get_args(kind)
        if value not in allowed:
            quoted = ", ".join(f"'{a}'" for a in allowed).rsplit(", ", 1)
            raise ValueError(_("Input should be {allowed}").format(allowed=_(" or ").join(quoted)))
        return value
    if typing.get_origin(kind) is dict or kind is dict:
        if not isinstance(value, Mapping):
            raise ValueError(_("Input should be a valid dictionary"))
        return dict(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(_("Input should be a valid string"))
        return value
    if kind is Path:
        if not isinstance(value, str | Path):
            raise ValueError(_("Input should be a valid path"))
        return Path(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | str) or (
            isinstance(value, str) and not value.strip().lstrip("+-").isdigit()
        ):
            raise ValueError(_("Input should be a valid integer, unable to parse string as an integer"))
        return int(value)
    if kind is float:
        try:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(_("Input should be a valid number, unable to parse string as a number")) from None
    raise AssertionError(f"no coercion for setting {name}: {kind}")


def _check(name: str, value: Any) -> None:
    if name == "busy_timeout_ms" and value <= 0:
        raise ValueError(_("must be a positive whole number of milliseconds"))
    if name == "lease_seconds" and not value > 0:
        raise ValueError(_("must be a positive number of seconds"))
    if name == "metrics_port" and value is not None and not 1 <= value <= 65535:
        raise ValueError(_("must be a port number from 1 to 65535"))


def database_url_from(value: str) -> str:
    """Accept a URL or a plain path to a SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def load_settings(env: Mapping[str, str] | None = None, *, db: str | None = None) -> Settings:
    """Read the settings: ``db`` (the --db flag), the environment, the config file, the defaults.

    :param env: the environment to read instead of the process environment (tests).
    :raises BadConfig: an unknown key in the config file, a missing INDSATS_CONFIG file, a readable secret.
    :raises Invalid: a setting with a bad value.
    """
    environ = os.environ if env is None else env
    config_path = config_path_from(environ)
    file_values = read_config_file(config_path) if config_path is not None else {}
    for name, given in file_values.items():  # a value of the wrong type in the file, even one overridden
        try:
            _coerce(name, given)
        except ValueError as exc:
            raise _bad_value(name, str(exc), given, config_path, file_values) from None
    flags: dict[str, Any] = {"database_url": db} if db else {}
    # Flags > environment > config file; then the defaults that depend on other settings.
    values = _derive_defaults({**file_values, **_env_values(environ), **flags})
    for name in FIELDS:
        if name not in values:
            continue
        given = values[name]
        try:
            values[name] = _coerce(name, given)
            _check(name, values[name])
        except ValueError as exc:
            raise _bad_value(name, str(exc), given, config_path, file_values) from None
    return Settings(**values, config_file=config_path)


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's values, checked: known keys only, and private (0600) when it holds a secret."""
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadConfig(_("{path}: cannot read the config file: {error}").format(path=path, error=exc)) from None
    known = set(FIELDS) - ENV_ONLY - DERIVED
    for key in values:
        if key in ENV_ONLY:
            raise BadConfig(_("{path}: '{key}' cannot be set in a config file (use {variable})").format(
                path=path, key=key, variable=f"INDSATS_{key.upper()}"))
        if key not in known:
            raise BadConfig(_("{path}: unknown key '{key}'{suggestion}").format(path=path, key=key,
                                                                                suggestion=_suggestion(key, known)))
    for table in ("calendar", "schedule"):
        if table in values and not isinstance(values[table], Mapping):
            raise BadConfig(_("{path}: [{table}] must be a table").format(path=path, table=table))
    secrets = [key for key in ("smtp_url", "database_url") if _has_password(values.get(key))]
    if secrets:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretReadable(_("{path} holds a secret (the password in {keys}) and is readable by others "
                                   "(mode {mode}): run 'chmod 600 {path}'").format(
                path=path, keys=", ".join(secrets), mode=f"{mode:04o}"))
    return values


def _has_password(url: Any) -> bool:
    if not isinstance(url, str) or "://" not in url:
        return False
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return "@" in url


def _suggestion(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    if close:
        return _(" (did you mean '{key}'?)").format(key=close[0])
    return _(" (known: {keys})").format(keys=", ".join(sorted(known)))


def _bad_value(name: str, message: str, given: Any, path: Path | None, file_values: Mapping[str, Any]) -> Invalid:
    where = (_("{name} in {path}").format(name=name, path=path) if name in file_values and path is not None
             else f"{ENV_PREFIX}{name.upper()}")
    secret = name in ("smtp_url", "database_url", "key") or isinstance(given, dict)
    shown = "" if secret else _(", not '{given}'").format(given=given)
    return Invalid(f"{where}: {message}{shown}")


def _default_data_dir() -> str:
    from platformdirs import user_data_dir

    return user_data_dir("indsats")
