"""Which reminder and escalation rows a state change creates, and when they fall due. Pure.

Entering a state with a deadline plans: a notice to whoever must act, now (unless the plan turns it
off for the state); a warning ``warn_before`` the deadline (by default half a working day before a
working-time deadline); a reminder at the deadline (level 0); then one escalation per level up the
reports-to chain, each ``escalate_after`` later, up to the plan's ceiling. The top level repeats every
``repeat``; the sweep re-arms it after each delivery. Notices and warnings never escalate or repeat.
A plan's case deadlines (``case_deadlines``) plan the same rows, from their own start.
Rows on a working-time deadline fall due within working hours (a deadline at closing at that closing);
acute alerts fall due at once, at any hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from indsats.engine.time.durations import Duration, parse_duration

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan
    from indsats.engine.time.calendar import WorkingCalendar


class ReminderKind(str, Enum):
    """Why a message goes out."""

    notice = "notice"  # to whoever must act, when the state becomes theirs
    warning = "warning"  # to whoever must act, before the deadline
    reminder = "reminder"  # to whoever must act, at the deadline
    escalation = "escalation"  # to a leader above them
    acute = "acute"  # the whole chain, at once, at any hour


# Told on time: these go to whoever must act and never climb or repeat.
AHEAD = frozenset({ReminderKind.notice.value, ReminderKind.warning.value})


class ReminderStatus(str, Enum):
    """Where a reminder row stands."""

    pending = "pending"
    held = "held"  # the case is paused; pending again, shifted, on resume
    sent = "sent"
    failed = "failed"  # gave up after the plan's max attempts; stays visible in `stuck`
    cancelled = "cancelled"  # the case left the state first (or met the case deadline)


@dataclass(frozen=True, kw_only=True)
class PlannedReminder:
    """A reminder row to write."""

    level: int
    kind: ReminderKind
    due_at: datetime


def pending_row(
    *,
    case_id: str,
    state: str,
    entry_seq: int,
    level: int,
    kind: ReminderKind | str,
    due_at: datetime,
    deadline: str | None = None,
) -> dict[str, Any]:
    """The ``reminders`` row of a reminder planned for one visit of a state: pending, due at ``due_at``."""
    return {
        "case_id": case_id,
        "state": state,
        "deadline": deadline,  # the case deadline the row is about; None for the state's own deadline
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


@dataclass(frozen=True, kw_only=True)
class DeadlineRule:
    """A deadline as the plan states it: a state's, or a case deadline's."""

    duration: Duration
    statutory: bool = False
    published: bool = False
    warn_before: Duration | None = None
    escalate_after: Duration | None = None
    repeat: Duration | None = None

    @property
    def working(self) -> bool:
        return self.duration.working


# (plan id, version, state, case deadline) → its rule: read off the plan once per plan version.
_RULES: dict[tuple[str, str, str, str | None], DeadlineRule | None] = {}


def rule_of(plan: Plan, state: str, case_deadline: str | None = None) -> DeadlineRule | None:
    """The rule of a case deadline (by name), else of ``state``'s deadline; None when there is none."""
    key = (plan.id, plan.version, state, case_deadline)
    try:
        return _RULES[key]
    except KeyError:
        rule = _RULES[key] = _read_rule(plan, state, case_deadline)
        return rule


def _read_rule(plan: Plan, state: str, case_deadline: str | None) -> DeadlineRule | None:
    spec = plan.case_deadlines[case_deadline] if case_deadline is not None else plan.states[state]
    text = spec.within if case_deadline is not None else spec.deadline  # type: ignore[union-attr]
    if not text:
        return None
    rule = spec.reminder
    return DeadlineRule(
        duration=parse_duration(text),
        statutory=spec.statutory,
        published=spec.published,
        warn_before=parse_duration(spec.warn_before) if spec.warn_before else None,
        escalate_after=parse_duration(rule.escalate_after) if rule else None,
        repeat=parse_duration(rule.repeat) if rule else None,
    )


def deadline_for(
    plan: Plan, state: str, entered_at: datetime, calendar: WorkingCalendar, case_deadline: str | None = None
) -> datetime | None:
    """When the deadline falls, counted from entering the state (or from the case deadline's start)."""
    rule = rule_of(plan, state, case_deadline)
    return None if rule is None else calendar.add(entered_at, rule.duration, statutory=rule.statutory)


def is_working_time(plan: Plan, state: str, case_deadline: str | None = None) -> bool:
    rule = rule_of(plan, state, case_deadline)
    return bool(rule and rule.working)


def time_between(
    plan: Plan, state: str, a: datetime, b: datetime, calendar: WorkingCalendar, case_deadline: str | None = None
) -> timedelta:
    """How long from ``a`` to ``b`` counts: working time on a working-time deadline, else elapsed."""
    return calendar.working_time_between(a, b) if is_working_time(plan, state, case_deadline) else b - a


def warning_at(rule: DeadlineRule, deadline: datetime, calendar: WorkingCalendar) -> datetime | None:
    """When to warn before ``deadline``: ``warn_before`` it, or half a working day (of the deadline's own
    day) before a working-time deadline; None for an elapsed deadline without ``warn_before``."""
    if rule.warn_before is not None:
        return calendar.subtract(deadline, rule.warn_before, statutory=rule.statutory)
    if not rule.working:
        return None
    cal = calendar.legal if rule.statutory else calendar
    opening = cal.opening(cal.local_day(deadline))
    if opening is None:
        return None
    return cal.subtract_working_time(deadline, (opening[1] - opening[0]) / 2)


def plan_reminders(
    plan: Plan,
    state: str,
    deadline: datetime | None,
    levels: int,
    calendar: WorkingCalendar,
    *,
    entered_at: datetime | None = None,
    case_deadline: str | None = None,
) -> list[PlannedReminder]:
    """The rows entering ``state`` (or starting a case deadline) writes at ``entered_at``: a notice (states
    only, unless turned off), a warning if it falls after ``entered_at``, level 0 at the deadline, then one
    per escalation level."""
    rule = rule_of(plan, state, case_deadline)
    if deadline is None or rule is None:
        return []
    working = rule.working
    planned: list[PlannedReminder] = []
    if entered_at is not None and case_deadline is None and plan.states[state].notice:
        planned.append(PlannedReminder(level=0, kind=ReminderKind.notice, due_at=_deliverable(entered_at, working, calendar)))
    warn = warning_at(rule, deadline, calendar)
    if warn is not None and (entered_at is None or warn > entered_at) and warn < deadline:
        planned.append(PlannedReminder(level=0, kind=ReminderKind.warning, due_at=_deliverable(warn, working, calendar)))
    planned.append(PlannedReminder(level=0, kind=ReminderKind.reminder, due_at=_deliverable(deadline, working, calendar)))
    if rule.escalate_after is None:
        return planned
    due = deadline
    for level in range(1, levels + 1):
        due = calendar.add(due, rule.escalate_after)
        planned.append(
            PlannedReminder(level=level, kind=ReminderKind.escalation, due_at=_deliverable(due, working, calendar))
        )
    return planned


def acute_alerts(levels: int, now: datetime) -> list[PlannedReminder]:
    """An acute event alerts the whole chain at once."""
    return [PlannedReminder(level=level, kind=ReminderKind.acute, due_at=now) for level in range(levels + 1)]


def next_repeat(
    plan: Plan,
    state: str,
    last_due: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    case_deadline: str | None = None,
) -> datetime | None:
    """The next repeat at the top of the chain: the first repeat time after ``now``.

    Skipping every repeat time already past is what makes a sweep after downtime send one message,
    not one per missed repeat.
    """
    rule = rule_of(plan, state, case_deadline)
    if rule is None or rule.repeat is None:
        return None
    due = calendar.add(last_due, rule.repeat)
    for _ in range(10_000):
        if due > now:
            break
        due = calendar.add(due, rule.repeat)
    return _deliverable(due, rule.working, calendar)


def shifted(
    plan: Plan,
    state: str,
    at: datetime,
    paused_from: datetime,
    paused_until: datetime,
    calendar: WorkingCalendar,
    case_deadline: str | None = None,
) -> datetime:
    """``at`` (a deadline or a reminder's due time) after a pause, moved as its deadline counts time."""
    rule = rule_of(plan, state, case_deadline)
    if rule is None:
        return at + (paused_until - paused_from)
    moved = calendar.shift(at, paused_from, paused_until, rule.duration, statutory=rule.statutory)
    return _deliverable(moved, rule.working, calendar)


def retry_at(plan: Plan, attempts: int, now: datetime) -> datetime:
    """Back off after a failed delivery: retry_after, doubling per attempt, at most a day."""
    base = parse_duration(plan.escalation.retry_after).elapsed
    return now + min(base * (2 ** max(attempts - 1, 0)), timedelta(days=1))


def _deliverable(due: datetime, working: bool, calendar: WorkingCalendar) -> datetime:
    # A deadline at the end of a day is reminded at that closing, not the next morning.
    return calendar.deliverable(due) if working else due


@dataclass(frozen=True, kw_only=True)
class Regraded:
    """How one visit's escalation rows change for a new depth: the rows to cancel, and the rows to add."""

    cancel: list[int]  # reminder ids
    add: list[PlannedReminder]


_CLIMBING = frozenset({ReminderKind.reminder.value, ReminderKind.escalation.value})
_WAITING = frozenset({ReminderStatus.pending.value, ReminderStatus.held.value})
_DONE = frozenset({ReminderStatus.sent.value, ReminderStatus.failed.value})


def regrade(rows: list[Any], planned: list[PlannedReminder], levels: int) -> Regraded:
    """Re-plan one visit's escalation (its ``reminder``/``escalation`` rows, any status: objects with ``id``,
    ``level``, ``kind``, ``status``, ``due_at``) for a chain now ``levels`` deep, ``planned`` being what
    ``plan_reminders`` plans at that depth. Nothing changes when the depth is the same.

    Deeper: the missing levels are added at their planned times, and a repeat already re-armed at the old top
    is cancelled (the new top repeats). Shallower: the pending rows above the new top are cancelled; if the
    new top was reached already, its repeat takes the place of the first cancelled row.
    """
    climbing = [r for r in rows if r.kind in _CLIMBING]
    if not climbing:
        return Regraded(cancel=[], add=[])
    old = max(r.level for r in climbing)
    if old == levels:
        return Regraded(cancel=[], add=[])
    waiting = [r for r in climbing if r.status in _WAITING]
    done = {r.level for r in climbing if r.status in _DONE}
    if levels > old:
        repeats = [r.id for r in waiting if r.level == old and old in done]
        return Regraded(cancel=repeats, add=[p for p in planned if old < p.level <= levels])
    above = [r for r in waiting if r.level > levels]
    add = []
    if above and levels in done and not any(r.level == levels for r in waiting):
        first = min(r.due_at for r in above)
        add = [PlannedReminder(level=levels, kind=ReminderKind.escalation if levels else ReminderKind.reminder,
                               due_at=first)]
    return Regraded(cancel=[r.id for r in above], add=add)
