"""``indsats tasks``: what I must act on now, across cases and plans, soonest deadline first.

A task is an open case whose current state I must act in (myself, or as the deputy of someone who must),
with the triggers that move it on and the exact command for each. Nothing else: cases I merely see, or
lead someone on, are not my tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from indsats.engine.cases.service import on_case_logins
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.org.users import require_actor
from indsats.engine.reminders.planning import time_between

if TYPE_CHECKING:
    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class Task:
    """One step that is mine: the case, where it stands, by when, and what to run."""

    case_id: str
    plan_id: str
    state: str
    state_label: str
    deadline: datetime | None
    time_left: timedelta | None  # negative when overdue
    time_left_text: str | None
    acting_for: str | None  # the person I stand in for as deputy, if it is theirs
    trigger: str
    label: str
    command: str


def my_tasks(ctx: Context, *, actor: str) -> list[Task]:
    now = ctx.clock.now()
    found: list[Task] = []
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        orgs: dict[tuple[str, str], Organisation] = {}
        for case in repo.list_cases(is_open=True):
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            org = orgs[key]
            plan = org.plan
            spec = plan.states[case.state].responsible
            if spec is None:
                continue
            owners = set(org.responsible(spec, CaseFacts.of(case)))
            mine = [p for p in org.represented_by(me.login) if p in owners]
            if not mine:
                continue
            facts = CaseFacts.of(case, on_case_logins(repo, org, plan, case))
            left = None if case.deadline is None else time_between(plan, case.state, now, case.deadline, ctx.calendar)
            for t in plan.transitions_from(case.state):
                if t.dest is None or t.dest == case.state:
                    continue  # recorded-only triggers (acute, …) are possible, not the step that is due
                person = org.acting_as(t.allowed, me.login, facts)
                if person is None:
                    continue
                sets = "".join(f" --set {n}=…" for n, f in t.fields.items() if f.required)
                found.append(
                    Task(
                        case_id=case.id, plan_id=plan.id, state=case.state,
                        state_label=plan.states[case.state].label, deadline=case.deadline, time_left=left,
                        time_left_text=None if left is None else ctx.calendar.describe(left),
                        acting_for=None if person == me.login else person, trigger=t.trigger, label=t.label,
                        command=f"indsats advance {case.id} {t.trigger}{sets}" + (" --note …" if t.note_required else ""),
                    )
                )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda t: (t.deadline or far, t.case_id, t.trigger))
