"""A plan's case deadlines on one case: which a command starts, which it meets, and the rows they write.

A case deadline runs beside the per-state ones, from the case's opening or from a trigger, until its
``met_by`` trigger is fired; moving from state to state does not touch it. It has its own reminders and
escalation (to whoever it names as responsible, else whoever must act in the case's state at the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log.projection import planned_reminders, to_iso
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.reminders.planning import PlannedReminder, deadline_for, pending_row, plan_reminders

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

OPENED = "opened"


@dataclass(frozen=True, kw_only=True)
class Starting:
    """A case deadline a command starts: when it falls due and the reminder rows it plans."""

    name: str
    due: datetime
    planned: list[PlannedReminder]


def deadlines_starting(
    ctx: Context,
    repo: Repository,
    plan: Plan,
    case_id: str,
    facts: CaseFacts,
    *,
    started_by: str,
    state: str,
    at: datetime,
) -> list[Starting]:
    """The case deadlines that run from ``started_by`` ('opened' or a trigger) and have not started yet,
    planned (nothing written: the starting event records them, then ``write_started`` stores them)."""
    names = [n for n, d in plan.case_deadlines.items() if d.start == started_by]
    if not names:
        return []
    started = {row["name"] for row in repo.case_deadlines_for(case_id)} if started_by != OPENED else set()
    fresh = [n for n in names if n not in started]
    if fresh and started_by != OPENED:
        # A duty already done before its deadline would start (its ``met_by`` recorded earlier) never runs.
        fired = repo.fired_triggers(case_id)
        fresh = [n for n in fresh if plan.case_deadlines[n].met_by not in fired]
    found = []
    for name in fresh:
        due = deadline_for(plan, state, at, ctx.calendar, name)
        assert due is not None
        levels = levels_for(repo, organisation(repo, plan, ctx.clock), name, state, facts)
        planned = plan_reminders(plan, state, due, levels, ctx.calendar, entered_at=at, case_deadline=name)
        found.append(Starting(name=name, due=due, planned=planned))
    return found


def started_payload(starting: list[Starting]) -> dict[str, Any]:
    """What the starting event records of them (``verify`` checks their reminder rows against it)."""
    if not starting:
        return {}
    return {"case_deadlines": {s.name: {"due_at": to_iso(s.due), "reminders": planned_reminders(s.planned)}
                               for s in starting}}


def write_started(repo: Repository, case_id: str, state: str, seq: int, at: datetime, starting: list[Starting]) -> None:
    """Store the case deadlines ``deadlines_starting`` planned, and their reminder rows."""
    for s in starting:
        repo.insert_case_deadline(
            dict(case_id=case_id, name=s.name, started_at=at, started_seq=seq, due_at=s.due, met_at=None)
        )
        repo.insert_reminders(rows(case_id, state, seq, s.planned, s.name))


def meet_deadlines(repo: Repository, plan: Plan, case_id: str, trigger: str, at: datetime) -> list[str]:
    """Mark the running case deadlines that ``trigger`` meets as met, and cancel their reminders."""
    names = [n for n, d in plan.case_deadlines.items() if d.met_by == trigger]
    met = []
    for name in names:
        if repo.meet_case_deadline(case_id, name, at):
            met.append(name)
    return met


def levels_for(repo: Repository, org: Organisation, name: str, state: str, facts: CaseFacts) -> int:
    """How many leaders above whoever answers for the case deadline its escalations may climb to."""
    plan = org.plan
    spec = plan.case_deadlines[name].responsible or plan.states[state].responsible
    owners = [] if spec is None else org.responsible(spec, facts)
    repo.load_chains(owners)
    return org.escalation_levels(owners, facts.unit)


def rows(case_id: str, state: str, entry_seq: int, planned: list[Any], deadline: str | None = None) -> list[dict[str, Any]]:
    """Reminder rows to insert for ``planned`` reminders (of a state visit, or of a case deadline)."""
    return [
        pending_row(case_id=case_id, state=state, entry_seq=entry_seq, level=p.level, kind=p.kind, due_at=p.due_at,
                    deadline=deadline)
        for p in planned
    ]
