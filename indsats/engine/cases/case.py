"""A case as the engine reads it: one row of the ``cases`` projection, as a frozen value with named attributes.

The repository builds it; use cases decide on it and write changes back through the repository (a
``Case`` is never mutated). ``subject_ref`` is the sealed token, never the reference in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Who raised the concern (``indsats open --source``); stored on the case.
SOURCES = ("employee", "parent", "neighbour", "citizen", "hotline", "anonymous", "other")
# Who may open a case (``indsats open``).
OPENER_ROLES = ("medarbejder", "leder", "fagspecialist", "socialchef")

_new = object.__new__


@dataclass(frozen=True, kw_only=True)
class Case:
    """One concern raised under a plan: where it stands, its deadline, its counters and its chain head."""

    id: str
    plan_id: str
    plan_version: str
    state: str
    is_open: bool
    acute: bool
    minor: bool
    source: str
    subject_ref: str | None  # sealed (Fernet token); None once purged
    subject_index: str | None  # keyed HMAC of the reference
    opened_by: str
    unit: str | None
    opened_at: datetime
    state_entered_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    escalation_level: int
    reminders_sent: int
    last_activity_at: datetime
    paused_at: datetime | None = None
    archived_at: datetime | None = None
    purged_at: datetime | None = None
    version: int
    last_seq: int
    last_hash: str

    @classmethod
    def from_row(cls, row: Any) -> Case:
        """The case a ``cases`` row holds (every column, as the table types it).

        The row is complete and typed by the table, so the field-by-field frozen ``__init__`` (about
        20 µs for 25 fields, on every case a sweep or ``stuck`` reads) is skipped: the values go
        straight into the instance. ``tests/test_typed_rows.py`` keeps the fields and the columns equal.
        """
        case = _new(cls)
        case.__dict__.update(row)
        return case

    # -- transitional ---------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """TRANSITIONAL, to be removed: ``case["state"]`` as ``case.state``, for code written against the
        row dicts while the tree moves to attributes. New code uses attributes."""
        try:
            return self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """TRANSITIONAL, to be removed with ``__getitem__``: ``case.get("unit")`` as ``case.unit``."""
        return self.__dict__.get(key, default)
