"""A reminder as the engine reads it: one row of the ``reminders`` table, as a frozen value.

The repository builds it; the sweep decides on it and writes changes back through the repository.
``recipients`` is the JSON list of logins written when it was sent (None before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

_new = object.__new__


@dataclass(frozen=True, kw_only=True)
class Reminder:
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

    @classmethod
    def from_row(cls, row: Any) -> Reminder:
        """The reminder a ``reminders`` row holds; like ``Case.from_row``, skips the frozen ``__init__``."""
        reminder = _new(cls)
        reminder.__dict__.update(row)
        return reminder

    # -- transitional ---------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """TRANSITIONAL, to be removed: ``reminder["status"]`` as ``reminder.status``, for code written
        against the row dicts while the tree moves to attributes. New code uses attributes."""
        try:
            return self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """TRANSITIONAL, to be removed with ``__getitem__``: ``reminder.get("sent_at")`` as ``reminder.sent_at``."""
        return self.__dict__.get(key, default)
