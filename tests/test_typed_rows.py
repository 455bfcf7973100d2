"""The repository hands the engine typed values: a ``Case`` and a ``Reminder`` hold exactly their table's columns."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from indsats.engine.cases.case import Case
from indsats.engine.cases.service import open_case
from indsats.engine.reminders.reminder import REMINDED_CASE_COLUMNS, RemindedCase, Reminder
from indsats.storage.models import cases, reminders

from conftest import PLAN

if TYPE_CHECKING:
    from indsats.engine.context import Context


@pytest.mark.parametrize(("value", "table"), [(Case, cases), (Reminder, reminders)])
def test_the_value_has_one_field_per_column_of_its_table(value: type, table: object) -> None:
    assert [f.name for f in dataclasses.fields(value)] == [c.name for c in table.columns]  # type: ignore[attr-defined]


def test_what_the_sweep_reads_of_a_case_is_the_case_s_own_columns_and_values(ctx: Context, org: object) -> None:
    assert [f.name for f in dataclasses.fields(RemindedCase)] == list(REMINDED_CASE_COLUMNS)
    assert set(REMINDED_CASE_COLUMNS) <= {c.name for c in cases.columns}
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-3").case_id
    for hot in (False, True):
        with ctx.db.unit_of_work(hot=hot) as uow:
            case = uow.repo.get_case(case_id)
            reminded = uow.repo.reminded_cases([case_id, "RAD-0000-none"])
        assert case is not None and list(reminded) == [case_id]
        assert {name: getattr(reminded[case_id], name) for name in REMINDED_CASE_COLUMNS} == {
            name: getattr(case, name) for name in REMINDED_CASE_COLUMNS}


def test_the_repository_builds_a_frozen_case_and_its_reminders(ctx: Context, org: object) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-1").case_id
    with ctx.db.unit_of_work() as uow:
        case = uow.repo.get_case(case_id)
        rows = uow.repo.reminders_for(case_id)
        listed = uow.repo.list_cases(is_open=True)
    assert isinstance(case, Case) and listed == [case]
    assert (case.id, case.plan_id, case.state, case.is_open, case.version) == (case_id, PLAN, "suspected", True, 1)
    assert case.subject_ref is not None and "REF-1" not in case.subject_ref  # sealed, never in the clear
    assert rows and all(isinstance(r, Reminder) and r.case_id == case_id and r.status == "pending" for r in rows)
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.state = "decided"  # type: ignore[misc]


def test_the_transitional_item_access_reads_the_same_attributes(ctx: Context, org: object) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-2").case_id
    with ctx.db.unit_of_work() as uow:
        case = uow.repo.get_case(case_id)
        reminder = uow.repo.reminders_for(case_id)[0]
    assert case is not None
    assert (case["state"], case.get("unit"), case.get("no_such_column", "x")) == (case.state, case.unit, "x")
    assert (reminder["status"], reminder.get("level")) == (reminder.status, reminder.level)
    with pytest.raises(KeyError):
        case["no_such_column"]
