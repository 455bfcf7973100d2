"""``indsats tasks``: what I must act on now, across cases and plans, soonest deadline first.

A task is an open case whose current state I must act in (myself, or as the deputy of someone who must),
with the triggers that move it on and the exact command for each; or a running case deadline of a case I
must meet (its ``met_by`` trigger; on a closed case too when the duty outlives the closing). Nothing else:
cases I merely see, or lead someone on, are not my tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from indsats.engine.cases.service import on_case_logins
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.org.users import require_actor
from indsats.engine.reminders.planning import time_between

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Actor, Transition


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
        # A case deadline is a step of its own (the leader's leader's assessment), on a closed case too
        # while it outlives the closing.
        running: dict[str, list[dict[str, Any]]] = {}
        for row in repo.case_deadlines_of_plan():
            if row["met_at"] is None:
                running.setdefault(row["case_id"], []).append(row)
        closed = [c for c in repo.get_cases(running).values() if not c.is_open]
        for case in [*repo.list_cases(is_open=True), *closed]:
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            org = orgs[key]
            plan = org.plan
            steps: list[tuple[Transition, datetime | None, str | None]] = []
            spec = plan.states[case.state].responsible
            if case.is_open and spec is not None and _mine(org, me.login, spec, case):
                steps += [(t, case.deadline, None) for t in plan.transitions_from(case.state)
                          if t.dest is not None and t.dest != case.state]  # recorded-only triggers are not due steps
            for row in running.get(case.id, []):
                name = row["name"]
                rule = plan.case_deadlines.get(name)
                if rule is None or (not case.is_open and not plan.outlives_closing(name)):
                    continue
                t = plan.transition(rule.met_by)
                who = rule.responsible or spec
                if t is None or t not in plan.transitions_from(case.state) or who is None:
                    continue
                if _mine(org, me.login, who, case) and all(t.trigger != s[0].trigger for s in steps):
                    steps.append((t, row["due_at"], name))
            if not steps:
                continue
            facts = CaseFacts.of(case, on_case_logins(repo, org, plan, case))
            for t, deadline, name in steps:
                person = org.acting_as(t.allowed, me.login, facts)
                if person is None:
                    continue
                left = None if deadline is None else time_between(plan, case.state, now, deadline, ctx.calendar, name)
                sets = "".join(f" --set {n}=…" for n, f in t.fields.items() if f.required)
                found.append(
                    Task(
                        case_id=case.id, plan_id=plan.id, state=case.state,
                        state_label=plan.states[case.state].label, deadline=deadline, time_left=left,
                        time_left_text=None if left is None else ctx.calendar.describe(left),
                        acting_for=None if person == me.login else person, trigger=t.trigger, label=t.label,
                        command=f"indsats advance {case.id} {t.trigger}{sets}" + (" --note …" if t.note_required else ""),
                    )
                )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda t: (t.deadline or far, t.case_id, t.trigger))


def _mine(org: Organisation, login: str, spec: Actor, case: Case) -> bool:
    """Must ``login`` (themselves, or as someone's deputy) act for ``spec`` on the case?"""
    owners = set(org.responsible(spec, CaseFacts.of(case)))
    return any(p in owners for p in org.represented_by(login))
