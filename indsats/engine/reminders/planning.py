"""Which reminder and escalation rows a state change creates, and when they fall due. Pure.

Entering a state with a deadline plans: a reminder to whoever must act at the deadline (level 0),
then one escalation per level up the reports-to chain, each ``escalate_after`` later, up to the plan's
ceiling. The top level repeats every ``repeat``; the sweep re-arms it after each delivery. Rows on a
working-time deadline fall due within working hours; acute alerts fall due at once, at any hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from indsats.engine.time.durations import parse_duration

if TYPE_CHECKING:
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.engine.plans.schema import Plan


class ReminderKind(str, Enum):
    """Why a message goes out."""

    reminder = "reminder"  # to whoever must act
    escalation = "escalation"  # to a leader above them
    acute = "acute"  # the whole chain, at once, at any hour


class ReminderStatus(str, Enum):
    """Where a reminder row stands."""

    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the plan's max attempts; stays visible in `stuck`
    cancelled = "cancelled"  # the case left the state first


@dataclass(frozen=True, kw_only=True)
class PlannedReminder:
    """A reminder row to write."""

    level: int
    kind: ReminderKind
    due_at: datetime


def pending_row(
    *, case_id: str, state: str, entry_seq: int, level: int, kind: ReminderKind | str, due_at: datetime
) -> dict[str, Any]:
    """The ``reminders`` row of a reminder planned for one visit of a state: pending, due at ``due_at``."""
    return {
        "case_id": case_id,
        "state": state,
        "entry_seq": entry_seq,
        "level": level,
        "kind": kind.value if isinstance(kind, ReminderKind) else kind,
        "due_at": due_at,
        "status": ReminderStatus.pending.value,
        "attempts": 0,
        "next_attempt_at": due_at,
        "claimed_by": None,
        "lease_until": None,
        "sent_at": None,
        "recipients": None,
        "last_error": None,
    }


def deadline_for(plan: Plan, state: str, entered_at: datetime, calendar: WorkingCalendar) -> datetime | None:
    """When the state's deadline falls, counted from entering it."""
    duration = plan.deadline_of(state)
    statutory = plan.states[state].statutory
    return None if duration is None else calendar.add(entered_at, duration, statutory=statutory)


def is_working_time(plan: Plan, state: str) -> bool:
    duration = plan.deadline_of(state)
    return bool(duration and duration.working)


def time_between(plan: Plan, state: str, a: datetime, b: datetime, calendar: WorkingCalendar) -> timedelta:
    """How long from ``a`` to ``b`` counts in ``state``: working time on a working-time deadline, else elapsed."""
    return calendar.working_time_between(a, b) if is_working_time(plan, state) else b - a


def plan_reminders(
    plan: Plan, state: str, deadline: datetime | None, levels: int, calendar: WorkingCalendar
) -> list[PlannedReminder]:
    """The rows entering ``state`` writes: level 0 at the deadline, then one per escalation level."""
    rule = plan.states[state].reminder
    if deadline is None:
        return []
    working = is_working_time(plan, state)
    planned = [PlannedReminder(level=0, kind=ReminderKind.reminder, due_at=_deliverable(deadline, working, calendar))]
    if rule is None:
        return planned
    step = parse_duration(rule.escalate_after)
    due = deadline
    for level in range(1, levels + 1):
        due = calendar.add(due, step)
        planned.append(
            PlannedReminder(level=level, kind=ReminderKind.escalation, due_at=_deliverable(due, working, calendar))
        )
    return planned


def acute_alerts(levels: int, now: datetime) -> list[PlannedReminder]:
    """An acute event alerts the whole chain at once."""
    return [PlannedReminder(level=level, kind=ReminderKind.acute, due_at=now) for level in range(levels + 1)]


def next_repeat(
    plan: Plan, state: str, last_due: datetime, now: datetime, calendar: WorkingCalendar
) -> datetime | None:
    """The next repeat at the top of the chain: the first repeat time after ``now``.

    Skipping every repeat time already past is what makes a sweep after downtime send one message,
    not one per missed repeat.
    """
    rule = plan.states[state].reminder
    if rule is None:
        return None
    step = parse_duration(rule.repeat)
    due = calendar.add(last_due, step)
    for _ in range(10_000):
        if due > now:
            break
        due = calendar.add(due, step)
    return _deliverable(due, is_working_time(plan, state), calendar)


def retry_at(plan: Plan, attempts: int, now: datetime) -> datetime:
    """Back off after a failed delivery: retry_after, doubling per attempt, at most a day."""
    base = parse_duration(plan.escalation.retry_after).elapsed
    return now + min(base * (2 ** max(attempts - 1, 0)), timedelta(days=1))


def _deliverable(due: datetime, working: bool, calendar: WorkingCalendar) -> datetime:
    # A deadline at the end of a day is reminded at that closing, not the next morning.
    return calendar.deliverable(due) if working else due
