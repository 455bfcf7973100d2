"""``indsats backup``: a consistent copy of a SQLite database taken while others keep writing."""

from __future__ import annotations

import json
import stat
import threading
from typing import TYPE_CHECKING

import pytest

from indsats.engine.time.calendar import WorkingCalendar
from indsats.engine.cases.service import add_note
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import FixedClock
from indsats.engine.context import Context
from indsats.storage.database import Database

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """Only SQLite: backup copies a SQLite file (PostgreSQL has pg_dump)."""
    return sqlite_database


def test_a_backup_taken_while_notes_are_being_written_is_consistent_owner_only_and_verifies(
    invoke: Callable[..., Result], ctx: Context, case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_ids = [case_in("suspected") for _ in range(5)]
    stop = threading.Event()
    written = []

    def keep_writing() -> None:
        own = Context(db=Database(db_url), clock=FixedClock(ctx.clock.now()), catalog=PlanCatalog(PlanFolders()),
                      calendar=WorkingCalendar(), keys=ctx.keys)
        try:
            while not stop.is_set():
                written.append(add_note(own, actor="emil", case_id=case_ids[len(written) % 5], text="Ringede"))
        finally:
            own.db.dispose()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        before = len(written)
        result = invoke(["backup", str(tmp_path / "copy.db")], db_url=db_url)
        during = len(written)
    finally:
        stop.set()
        writer.join()

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Backed up {db_url} to {tmp_path / 'copy.db'}")
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    assert not (tmp_path / "copy.db-wal").exists()
    verified = invoke(["--db", str(tmp_path / "copy.db"), "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    # The copy is the database as of one commit taken during the backup: every note done before it started, and
    # at most the one being committed as it ended beyond those counted.
    notes_in_copy = json.loads(verified.stdout)["events"] - 5
    assert before <= notes_in_copy <= during + 1


def test_a_backup_never_overwrites_a_file(invoke: Callable[..., Result], org: object, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    target.write_text("yesterday's backup")

    result = invoke(["backup", str(target)], db_url=db_url)

    assert result.exit_code == 5
    assert result.stderr == f"Error: {target} already exists; a backup never overwrites a file: choose a new name\n"
    assert target.read_text() == "yesterday's backup"


def test_only_an_admin_may_back_up_the_database(
    invoke: Callable[..., Result], org: object, db_url: str, tmp_path: Path
) -> None:
    result = invoke(["backup", str(tmp_path / "copy.db")], user="sup", db_url=db_url)

    assert result.exit_code == 4
    assert "only an admin may back up the database" in result.stderr
    assert not (tmp_path / "copy.db").exists()


def test_a_postgresql_database_is_backed_up_with_pg_dump(invoke: Callable[..., Result], tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/indsats"

    result = invoke(["backup", str(tmp_path / "copy.db")], db_url=url)

    assert result.exit_code == 5
    assert result.stderr.count("\n") == 1 and "use pg_dump" in result.stderr
    assert not (tmp_path / "copy.db").exists()
