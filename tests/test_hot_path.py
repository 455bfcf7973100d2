"""The hot path near the driver (``indsats/storage/hot.py``): its column types are the tables', its
transition table is the Machine's, the organisation it keeps follows the organisation's changes, and a
command run on it imports neither SQLAlchemy nor YAML nor ``holidays``."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from indsats.adapters.plan_files import SHIPPED
from indsats.engine.plans.machine import fire, fire_on_machine
from indsats.engine.plans.schema import parse_plan
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

    from indsats.engine.context import Context


def test_the_hot_path_types_every_column_as_the_tables_do() -> None:
    from sqlalchemy import Boolean, Date

    from indsats.storage import models
    from indsats.storage.hot import TYPES

    for table, kinds in TYPES.items():
        expected = {}
        for column in getattr(models, table).c:
            if isinstance(column.type, models.UtcDateTime):
                expected[column.name] = "datetime"
            elif isinstance(column.type, Boolean):
                expected[column.name] = "bool"
            elif isinstance(column.type, Date):
                expected[column.name] = "date"
        assert kinds == expected, table


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_transition_table_says_what_the_machine_says_for_every_state_and_trigger(path: Path) -> None:
    plan = parse_plan(path.read_text(encoding="utf-8"), str(path))
    for state in plan.states:
        for t in plan.transitions:
            try:
                expected: Any = fire_on_machine(plan, state, t.trigger, "X-1")
            except Invalid as exc:
                expected = exc.message
            try:
                found: Any = fire(plan, state, t.trigger, "X-1")
            except Invalid as exc:
                found = exc.message
            assert found == expected, (state, t.trigger)


def test_a_change_to_the_organisation_is_seen_by_the_next_command(ctx: Context, case_in: Callable[..., str]) -> None:
    from indsats.engine.org.users import add_user

    case_in("leader_notified")  # the organisation is now kept by the database
    with ctx.db.unit_of_work(write=True, read_first=True) as uow:
        assert uow.repo.get_user("nova") is None
    add_user(ctx, actor="admin", login="nova", name="Nova", role="medarbejder", email="nova@example.org",
             reports_to="lea")
    with ctx.db.unit_of_work(write=True, read_first=True) as uow:
        found = uow.repo.get_user("nova")
        assert found is not None and found["reports_to"] == "lea"
        assert [g["role"] for g in uow.repo.grants_of("nova")] == ["medarbejder"]


def test_what_the_organisation_answered_is_not_kept_past_a_change_to_it(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    """One process, as the server: who may see and act follows a new leader at once, not the answers kept."""
    from indsats.engine.cases.service import advance
    from indsats.engine.org.users import edit_user
    from indsats.errors import NotFound

    first, second = case_in("leader_notified"), case_in("leader_notified")
    assert advance(ctx, actor="lea", case_id=first, trigger="notify_specialist").state == "specialist_notified"
    edit_user(ctx, actor="admin", login="emil", reports_to="leo")  # emil's leader is now leo
    with pytest.raises(NotFound):  # lea no longer stands above whoever must act, nor acted on it
        advance(ctx, actor="lea", case_id=second, trigger="notify_specialist")
    assert advance(ctx, actor="leo", case_id=second, trigger="notify_specialist").state == "specialist_notified"


def test_a_query_the_hot_path_lacks_runs_in_its_transaction(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    with ctx.db.unit_of_work(write=True, read_first=True) as uow:
        case = uow.repo.get_case(case_id)
        assert case is not None
        assert uow.repo.bump_version(case_id, case.version, ctx.clock.now()) is not None
        assert uow.repo.update_case(case_id, {"state": "decided"})
        # reminders_for is not a hot statement: the full repository answers, seeing the uncommitted change
        assert uow.repo.list_cases(state="decided")[0].id == case_id
        assert uow.repo.reminders_for(case_id)
    # never committed: nothing changed
    with ctx.db.unit_of_work() as uow:
        assert uow.repo.get_case(case_id).state == "suspected"  # type: ignore[union-attr]


def test_advance_on_the_command_line_imports_no_sqlalchemy_yaml_or_holidays(
    invoke: Callable[..., Result], cli_org: Any, cli_db_url: str, tmp_path: Path
) -> None:
    opened = invoke(["open", "radikalisering", "--subject", "REF-1"], user="emil")
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.splitlines()[-1]
    code = (
        "import sys\nfrom indsats.cli import main\n"
        f"try:\n    main(['advance', {case_id!r}, 'notify_leader'])\nexcept SystemExit as e:\n    code = e.code\n"
        "print(code, sorted(m for m in ('sqlalchemy', 'yaml', 'holidays') if m in sys.modules))\n"
    )
    env = {"INDSATS_USER": "emil", "INDSATS_DATABASE_URL": cli_db_url, "INDSATS_CONFIG": "",
           "INDSATS_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_stuck_on_the_command_line_reads_its_first_page_without_sqlalchemy(
    invoke: Callable[..., Result], cli_org: Any, cli_db_url: str, tmp_path: Path
) -> None:
    """The supervisor's list as people run it, a first page of overdue cases (50 by default; here 1 of 2, so the
    list goes on past the page): the hot path's statements, no SQLAlchemy."""
    ids = []
    for ref in ("REF-1", "REF-2"):
        opened = invoke(["open", "radikalisering", "--subject", ref], user="emil")
        assert opened.exit_code == 0, opened.output
        ids.append(opened.stdout.splitlines()[-1])
    code = (
        "import sys\nfrom indsats.cli import main\n"
        "try:\n    main(['stuck', '--at', '2030-01-07T09:00', '--limit', '1'])\nexcept SystemExit as e:\n"
        "    code = e.code\n"
        "print(code, sorted(m for m in ('sqlalchemy', 'yaml', 'holidays') if m in sys.modules))\n"
    )
    env = {"INDSATS_USER": "sup", "INDSATS_DATABASE_URL": cli_db_url, "INDSATS_CONFIG": "", "INDSATS_LANGUAGE": "en",
           "INDSATS_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "0 []", out.stdout + out.stderr
    assert [line.split("\t")[0] for line in lines[1:-1]] == ids[:1], out.stdout  # the earlier deadline first
