"""The service's own config file may set ``server`` (the thin-client setting) beside ``database_url``: the commands
that look after the installation (``init``, ``backup``, ``keys rotate``, ``worker``, and the service's own checks
``db status`` and ``health``) then run on the database it names, while every command on the data still goes
through the server. A person's settings that name no database keep the refusal (exit 4), as the server says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(("Error: ", "Fejl: ")), result.stderr
    return lines[0]


@pytest.fixture
def service(tmp_path: Path) -> dict[str, str | None]:
    """The environment of the service user: only INDSATS_CONFIG, naming a file with the database and a server."""
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        f'database_url = "{tmp_path / "srv" / "indsats.db"}"\n'
        f'data_dir = "{tmp_path / "srv"}"\n'
        f'server = "unix:{tmp_path / "run" / "indsats.sock"}"\n', encoding="utf-8")
    config.chmod(0o600)
    (tmp_path / "srv").mkdir()
    return {"INDSATS_CONFIG": str(config), "INDSATS_DATABASE_URL": None, "INDSATS_DATA_DIR": None,
            "INDSATS_SERVER": None}


def test_with_server_in_the_services_config_the_operator_commands_run_on_the_database_it_names(
    invoke: Invoke, service: dict[str, str | None], tmp_path: Path
) -> None:
    database = tmp_path / "srv" / "indsats.db"
    out = invoke(["init", "--json"], user="anna.admin", **service)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["admin"] == "anna.admin" and database.exists()
    assert invoke(["backup", "-o", str(tmp_path / "copy.db")], user="anna.admin", **service).exit_code == 0
    assert (tmp_path / "copy.db").exists()
    rotated = invoke(["keys", "rotate", "--json"], user="anna.admin", **service)
    assert rotated.exit_code == 0, rotated.output
    listed = invoke(["worker", "--list-jobs"], user="anna.admin", **service)
    assert listed.exit_code == 0 and "sweep" in listed.stdout, listed.output
    status = invoke(["db", "status", "--json"], user=None, **service)  # the unit's ExecStartPre, before the server
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["database"] == f"sqlite:///{database}"
    health = invoke(["health", "--json"], user=None, **service)
    assert json.loads(health.stdout)["checks"]["database"]["ok"] is True, health.output
    # Every command on the data still goes through the server (not running here: exit 7, naming it).
    error = one_error_line(invoke(["cases"], user=None, **service), 7)
    assert "cannot reach the server" in error
    assert "with a server you act as your OS login" in one_error_line(invoke(["cases"], user="anna.admin", **service), 4)


def test_a_database_named_in_the_environment_beside_indsats_server_counts_too(invoke: Invoke, tmp_path: Path) -> None:
    database = tmp_path / "named.db"
    done = invoke(["init"], user="anna.admin", INDSATS_SERVER=f"unix:{tmp_path / 'none.sock'}",
                  INDSATS_DATABASE_URL=str(database))
    assert done.exit_code == 0, done.output
    assert database.exists()


def test_settings_that_name_no_database_still_refuse_the_operator_commands_and_send_the_checks_to_the_server(
    invoke: Invoke, tmp_path: Path, danish: None
) -> None:
    config = tmp_path / "person.toml"
    config.write_text(f'server = "unix:{tmp_path / "run" / "indsats.sock"}"\n', encoding="utf-8")
    person = {"INDSATS_CONFIG": str(config), "INDSATS_DATABASE_URL": None, "INDSATS_SERVER": None}
    for args in (["init"], ["backup", "-o", str(tmp_path / "copy.db")], ["keys", "rotate"], ["worker"]):
        error = one_error_line(invoke(args, user=None, **person), 4)
        assert "--db" in error and "database_url" in error and "direkte på databasen" in error, (args, error)
    assert not (tmp_path / "data").exists()  # no stray database in the person's data directory
    for args in (["db", "status"], ["health"]):
        assert "serveren" in one_error_line(invoke(args, user=None, **person), 7)  # they asked the server
