"""After the organisation changes (a handover, a new leader), each running escalation is re-planned to the
depth of the reports-to chain it now climbs.

Recipients are resolved when a reminder fires, so the next escalation already goes to whoever now stands
above the person who must act; but how many levels a visit's rows climb was fixed when they were written
(``plan_reminders``). ``rechain`` re-grades them (``planning.regrade``): a deeper chain gets its missing
levels, a shallower one loses the rows above its top, and the repeat moves to the new top. Each case so
changed gets a ``rechained`` event naming the rows cancelled and the visit's rows as they now stand (what
``verify`` replays), written by whoever changed the organisation; it is not a step on the case.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log import journal
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.log.projection import to_iso
from indsats.engine.org.people import CaseFacts, organisation
from indsats.engine.reminders.planning import ReminderStatus, pending_row, plan_reminders, regrade, rule_of

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.org.people import Organisation
    from indsats.engine.reminders.reminder import Reminder
    from indsats.storage.repository import Repository


# Cases read together: their running case deadlines and reminder rows in one query each per chunk, not two
# queries per case (an organisation change re-plans every open case: 30,000 of them took 20 s one by one).
CHUNK = 500


def rechain(ctx: Context, repo: Repository, *, actor: str, at: datetime) -> int:
    """Re-plan the escalation rows of every running visit and case deadline; return how many cases changed."""
    cases = repo.list_cases(is_open=True) + repo.closed_cases_owing()
    orgs: dict[tuple[str, str], Organisation] = {}
    changed = 0
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start:start + CHUNK]
        ids = [case.id for case in chunk]
        running: dict[str, dict[str, Any]] = defaultdict(dict)
        for (case_id, name), row in repo.running_case_deadlines(ids).items():
            running[case_id][name] = row
        rows = repo.reminders_of_cases(ids)  # a case's own writes below touch no other case's rows
        for case in chunk:
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            changed += _rechain_case(ctx, repo, orgs[key], case, actor, at, running.get(case.id, {}),
                                     rows.get(case.id, []))
    return changed


def _rechain_case(ctx: Context, repo: Repository, org: Organisation, case: Case, actor: str, at: datetime,
                  running: dict[str, Any], rows_now: list[Reminder]) -> int:
    """``running``: the case's running case deadlines by name; ``rows_now``: its reminder rows, in id order."""
    plan = org.plan
    visits: dict[tuple[str | None, int], list[Any]] = defaultdict(list)
    for row in rows_now:
        visits[(row.deadline, row.entry_seq)].append(row)
    facts = CaseFacts.of(case)
    cancelled: list[int] = []
    levels_now: dict[str, int] = {}
    state_visit: int | None = None
    deadlines: dict[str, datetime] = {}
    for (name, entry_seq), rows in visits.items():
        state = rows[0].state
        due: datetime | None
        if name is None:
            if not case.is_open or state != case.state:
                continue  # a past visit
            spec, due = plan.states[state].responsible, case.deadline
        else:
            if name not in running or name not in plan.case_deadlines:
                continue  # met
            spec = plan.case_deadlines[name].responsible or plan.states[case.state].responsible
            due = running[name]["due_at"]
        rule = rule_of(plan, state, name)
        if spec is None or due is None or rule is None or rule.escalate_after is None:
            continue
        owners = org.responsible(spec, facts)
        repo.load_chains(owners)
        levels = org.escalation_levels(owners, facts.unit)
        planned = plan_reminders(plan, state, due, levels, ctx.calendar, case_deadline=name)
        change = regrade(rows, planned, levels)
        if not change.cancel and not change.add:
            continue
        repo.cancel_reminders(change.cancel)
        cancelled += change.cancel
        levels_now[name or state] = levels
        if name is None:
            state_visit = entry_seq
        else:
            deadlines[name] = due
        status = ReminderStatus.held.value if case.paused_at is not None else ReminderStatus.pending.value
        repo.insert_reminders(
            {**pending_row(case_id=case.id, state=state, entry_seq=entry_seq, level=p.level, kind=p.kind,
                           due_at=p.due_at, deadline=name), "status": status}
            for p in change.add
        )
    if not levels_now:
        return 0
    payload: dict[str, Any] = {"levels": levels_now, "cancelled_reminders": sorted(cancelled)}
    if state_visit is not None:  # the visit's rows as they stand now: what verify replays
        payload["reminders"] = [
            [r.level, r.kind, to_iso(r.due_at)]
            for r in repo.reminders_for(case.id)
            if r.entry_seq == state_visit and r.kind != "acute" and not r.deadline
            and r.status != ReminderStatus.cancelled.value
        ]
    if deadlines:  # each changed case deadline's rows as they stand now
        every = repo.reminders_for(case.id)
        payload["case_deadlines"] = {
            name: {"due_at": to_iso(due),
                   "reminders": [[r.level, r.kind, to_iso(r.due_at)] for r in every
                                 if r.deadline == name and r.status != ReminderStatus.cancelled.value]}
            for name, due in deadlines.items()
        }
    journal.append(repo, Draft(case_id=case.id, kind=EventKind.rechained, at=at, actor=actor,
                               from_state=case.state, to_state=case.state, payload=payload), os_login=ctx.os_login)
    return 1
