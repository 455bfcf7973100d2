"""The schema revision: checked on connect, shown by ``db status`` without writing, upgraded by ``init``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from sqlalchemy import text

from indsats.storage.database import Database
from indsats.storage.migrate import alembic_config
from indsats.storage.schema import expected_revision

FUTURE = "0099"


def migrate_to(url: str, revision: str) -> None:
    from alembic import command

    db = Database(url)
    db.create_file()
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)  # type: ignore[arg-type]
    db.dispose()


def stamp(url: str, revision: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    db.dispose()


def revision_of(url: str) -> str:
    db = Database(url)
    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    db.dispose()
    return str(found)


def test_the_expected_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    assert expected_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()  # type: ignore[arg-type]


def test_db_status_on_an_older_database_shows_both_revisions_and_writes_nothing(
    invoke: Callable[..., Result], cli_db_url: str
) -> None:
    migrate_to(cli_db_url, "0002")
    result = invoke(["db", "status", "--json"])
    assert result.exit_code == 7
    status = json.loads(result.output)
    assert (status["current"], status["expected"], status["state"], status["ok"]) == (
        "0002", expected_revision(), "older", False)
    assert revision_of(cli_db_url) == "0002"
    text_result = invoke(["db", "status"])
    assert "run 'indsats init' to upgrade" in text_result.output


def test_db_status_on_a_future_stamped_database_says_newer(invoke: Callable[..., Result], cli_db_url: str) -> None:
    assert invoke(["init"]).exit_code == 0
    stamp(cli_db_url, FUTURE)
    result = invoke(["db", "status", "--json"])
    assert result.exit_code == 7
    assert json.loads(result.output)["state"] == "newer"
    assert json.loads(result.output)["current"] == FUTURE


def test_db_status_on_a_current_database_exits_0(invoke: Callable[..., Result]) -> None:
    assert invoke(["init"]).exit_code == 0
    result = invoke(["db", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["state"] == "current"


def test_db_status_creates_no_database_file(invoke: Callable[..., Result], cli_db_url: str, tmp_path: Path) -> None:
    result = invoke(["db", "status", "--json"])
    assert result.exit_code == 7
    assert json.loads(result.output)["state"] == "missing"
    assert not (tmp_path / "cli.db").exists()


def test_a_command_on_an_older_database_says_to_run_init(invoke: Callable[..., Result], cli_db_url: str) -> None:
    migrate_to(cli_db_url, "0002")
    result = invoke(["verify"])
    assert result.exit_code == 7
    assert "is at schema revision 0002" in result.output
    assert "run 'indsats init' to upgrade" in result.output
    assert "no such column" not in result.output


def test_init_upgrades_an_older_database(invoke: Callable[..., Result], cli_db_url: str) -> None:
    migrate_to(cli_db_url, "0002")
    assert invoke(["init"]).exit_code == 0
    assert revision_of(cli_db_url) == expected_revision()
    assert invoke(["cases"]).exit_code == 0


def test_commands_and_init_refuse_a_database_written_by_a_newer_indsats(
    invoke: Callable[..., Result], cli_db_url: str
) -> None:
    assert invoke(["init"]).exit_code == 0
    stamp(cli_db_url, FUTURE)
    for args in (["cases"], ["init"], ["remind"]):
        result = invoke(args)
        assert result.exit_code == 7, (args, result.output)
        assert f"written by a newer indsats (revision {FUTURE}" in result.output
        assert "bug" not in result.output
    assert revision_of(cli_db_url) == FUTURE
