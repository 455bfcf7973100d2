"""Time in state, counted once: a visit to a state is a row written with the event entering the state and
completed by the one leaving it (working time in the state less its pauses, and whether it left by its
pause-shifted deadline), in the same unit of work. The step report adds these rows up; it never walks the log.

``replay_visits`` computes the same rows from a case's events (the migration that introduced them fills them in
for existing cases with it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import EventKind
from indsats.engine.reminders.planning import deadline_for, shifted

if TYPE_CHECKING:
    from collections.abc import Iterable

    from indsats.engine.cases.case import Case
    from indsats.engine.plans.schema import Plan
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.storage.repository import Repository

# The events a visit is made of: entries, moves on, pauses. (Escalations are counted from the log by kind.)
VISIT_KINDS = (EventKind.opened.value, EventKind.advanced.value, EventKind.paused.value, EventKind.resumed.value)


def microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def enter_state(repo: Repository, plan: Plan, *, case_id: str, entry_seq: int, state: str, at: datetime,
                deadline: datetime | None) -> None:
    """A case entered ``state`` (a final state is no visit: nothing waits there)."""
    if not plan.states[state].final:
        repo.insert_visits([visit_row(case_id, entry_seq, plan.id, state, at, deadline)])


def leave_state(repo: Repository, plan: Plan, case: Case, at: datetime, calendar: WorkingCalendar) -> None:
    """The case leaves its state at ``at``: its working time there (less pauses) and whether it was on time.

    The case's deadline is the visit's, already moved on by each pause (a paused case cannot move on)."""
    if plan.states[case.state].final:
        return
    spent = microseconds(calendar.working_time_between(case.state_entered_at, at))
    repo.leave_visit(case.id, left_at=at, working_us=spent, on_time=case.deadline is None or at <= case.deadline)


def visit_row(case_id: str, entry_seq: int, plan_id: str, state: str, entered_at: datetime,
              deadline: datetime | None) -> dict[str, Any]:
    return dict(case_id=case_id, entry_seq=entry_seq, plan_id=plan_id, state=state, entered_at=entered_at,
                deadline_at=deadline, left_at=None, time_us=None, on_time=None, paused_us=0, pauses=0)


def replay_visits(plan: Plan, rows: Iterable[dict[str, Any]], calendar: WorkingCalendar) -> list[dict[str, Any]]:
    """The visit rows of one case from its events (``case_id``, ``seq``, ``kind``, ``at``, ``from_state``,
    ``to_state``; in seq order): what entering, leaving, pausing and resuming write as they happen."""
    found: list[dict[str, Any]] = []
    visit: dict[str, Any] | None = None
    deadline: datetime | None = None  # the visit's, moved on by its pauses
    paused_from: datetime | None = None
    for row in rows:
        kind, at = row["kind"], row["at"]
        if kind == EventKind.paused.value:
            paused_from = at
            if visit is not None:
                visit["pauses"] += 1
            continue
        if kind == EventKind.resumed.value:
            if visit is not None and paused_from is not None:
                visit["paused_us"] += microseconds(calendar.working_time_between(paused_from, at))
                if deadline is not None:
                    deadline = shifted(plan, visit["state"], deadline, paused_from, at, calendar)
            paused_from = None
            continue
        if kind not in (EventKind.opened.value, EventKind.advanced.value):
            continue
        if visit is not None:
            spent = microseconds(calendar.working_time_between(visit["entered_at"], at))
            visit.update(left_at=at, time_us=spent - visit["paused_us"], on_time=deadline is None or at <= deadline)
            visit = None
        state = row["to_state"]
        entered = plan.states.get(state) if state is not None else None
        if entered is None or entered.final:
            continue
        deadline = deadline_for(plan, state, at, calendar)
        visit = visit_row(row["case_id"], row["seq"], plan.id, state, at, deadline)
        found.append(visit)
    return found
