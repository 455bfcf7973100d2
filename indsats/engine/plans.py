"""The plan author's use cases: list the plans, show one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from indsats.engine.clock import to_local

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plan import Plan


@dataclass(frozen=True, kw_only=True)
class PlanSummary:
    id: str
    title: str
    version: str
    path: str
    approved_on: date | None
    revision_due: date | None
    revision_overdue: bool


def list_plans(ctx: Context) -> list[PlanSummary]:
    today = to_local(ctx.clock.now()).date()
    found = []
    for plan_id, pf in sorted(ctx.catalog.files().items()):
        due = pf.plan.revision.due_on()
        found.append(
            PlanSummary(
                id=plan_id,
                title=pf.plan.title,
                version=pf.plan.version,
                path=str(pf.path),
                approved_on=pf.plan.revision.approved_on,
                revision_due=due,
                revision_overdue=due is None or due < today,
            )
        )
    return found


def get_plan(ctx: Context, plan_id: str) -> Plan:
    return ctx.catalog.get(plan_id).plan
