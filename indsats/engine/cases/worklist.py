"""What I must act on now: the open cases whose current state is mine, soonest deadline first.

A read of the projection (no ``viewed`` event: it shows ids, states and deadlines, as ``cases`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.org.users import require_actor

if TYPE_CHECKING:
    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class WorkItem:
    """An open case waiting for the actor."""

    case_id: str
    plan_id: str
    state: str
    state_label: str
    deadline: datetime | None
    acute: bool
    escalation_level: int


def my_work(ctx: Context, *, actor: str) -> list[WorkItem]:
    """Open cases where ``actor`` is among those who must act now (or stands in for one as deputy),
    soonest deadline first (none last)."""
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        found = []
        orgs: dict[tuple[str, str], Organisation] = {}
        for case in repo.list_cases(is_open=True):
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            plan = orgs[key].plan
            spec = plan.states[case.state].responsible
            if spec is None:
                continue
            repo.load_chains([case.opened_by])
            owners = orgs[key].responsible(spec, CaseFacts.of(case))
            if not set(orgs[key].represented_by(me.login)) & set(owners):
                continue
            found.append(
                WorkItem(
                    case_id=case.id, plan_id=case.plan_id, state=case.state,
                    state_label=plan.states[case.state].label, deadline=case.deadline, acute=case.acute,
                    escalation_level=case.escalation_level,
                )
            )
    far = datetime.max.replace(tzinfo=None)
    return sorted(found, key=lambda w: (w.deadline.replace(tzinfo=None) if w.deadline else far, w.case_id))
