"""A reminder as the engine reads it: one row of the ``reminders`` table, as a frozen value.

The repository builds it; the sweep decides on it and writes changes back through the repository.
``recipients`` is the JSON list of logins written when it was sent (None before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from indsats.engine.row_value import RowValue


@dataclass(frozen=True, kw_only=True)
class RemindedCase(RowValue):
    """What the sweep reads of a reminder's case: its plan, where it stands and who is on it (the columns of
    ``cases`` it needs, not the whole row)."""

    id: str
    plan_id: str
    plan_version: str
    state: str
    is_open: bool
    deadline: datetime | None
    opened_by: str
    unit: str | None
    assignee: str | None


REMINDED_CASE_COLUMNS = ("id", "plan_id", "plan_version", "state", "is_open", "deadline", "opened_by", "unit", "assignee")


@dataclass(frozen=True, kw_only=True)
class Reminder(RowValue):
    """A due message about a stalled state (level 0), an escalation one leader up (level n), or an acute alert."""

    id: int
    case_id: str
    state: str
    entry_seq: int  # the event that entered the state: one visit
    level: int
    kind: str  # ReminderKind
    due_at: datetime
    status: str  # ReminderStatus
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    lease_until: datetime | None
    sent_at: datetime | None
    recipients: str | None
    last_error: str | None
    deadline: str | None = None  # the case deadline it is about; None for the state's own deadline
