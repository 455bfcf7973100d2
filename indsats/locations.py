"""What the command line knows before (and, through a server, instead of) its settings: who the OS says you
are, which config file applies, and which server to send commands to. Standard library only (plus
platformdirs), so the thin client never loads the settings model (pydantic).

>>> server_address({"INDSATS_SERVER": "unix:/run/indsats/indsats.sock", "INDSATS_CONFIG": ""})
'unix:/run/indsats/indsats.sock'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from indsats.errors import BadConfig

def os_login() -> str:
    """The login of the process's real uid, from the password database (SSSD/AD on a municipal server).

    Never ``USER`` or ``LOGNAME``: anyone can set those (``getpass.getuser`` reads them first)."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return ""


def config_path_from(env: Mapping[str, str]) -> Path | None:
    """The config file to read: INDSATS_CONFIG (must exist; empty means none), else the user's, if present."""
    named = env.get("INDSATS_CONFIG")
    if named is not None:
        if not named.strip():
            return None
        path = Path(named).expanduser()
        if not path.is_file():
            from indsats.i18n import _

            raise BadConfig(_("INDSATS_CONFIG names {path}, which does not exist (set INDSATS_CONFIG to an empty "
                              "value to use no config file)").format(path=path))
        return path
    from platformdirs import user_config_dir

    path = Path(user_config_dir("indsats")) / "config.toml"
    return path if path.is_file() else None


def server_address(env: Mapping[str, str]) -> str | None:
    """``INDSATS_SERVER``, else the config file's ``server`` key, else None (direct mode)."""
    if env.get("INDSATS_SERVER"):
        return env["INDSATS_SERVER"]
    value = _config_value(env, "server")
    return str(value) if value else None


def names_database(env: Mapping[str, str]) -> bool:
    """Whether a database is named (``INDSATS_DATABASE_URL``, or the config file's ``database_url``) rather than
    left to the default file in the data directory: where the commands that look after the installation run
    even when a server is set (``Obj.context``)."""
    return bool(env.get("INDSATS_DATABASE_URL") or _config_value(env, "database_url"))


def _config_value(env: Mapping[str, str], key: str) -> object:
    path = config_path_from(env)
    if path is None:
        return None
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get(key)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        from indsats.i18n import _

        raise BadConfig(_("{path}: cannot read the config file: {error}").format(path=path, error=exc)) from None
