"""A case as the engine reads it: one row of the ``cases`` projection, as a frozen value with named attributes.

The repository builds it; use cases decide on it and write changes back through the repository (a
``Case`` is never mutated). ``subject_ref`` is the sealed token, never the reference in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from indsats.engine.row_value import RowValue

# Who raised the concern and who may open a case are the plan's word (``sources``, ``may_open``).


@dataclass(frozen=True, kw_only=True)
class Case(RowValue):
    """One concern raised under a plan: where it stands, its deadline, its counters and its chain head."""

    id: str
    plan_id: str
    plan_version: str
    state: str
    is_open: bool
    acute: bool
    minor: bool
    source: str
    subject_ref: str | None  # sealed (a Cipher token); None once purged
    subject_index: str | None  # keyed HMAC of the reference
    opened_by: str
    unit: str | None
    assignee: str | None = None  # the caseworker named with `indsats assign` (None: the opener)
    flags: str | None = None  # JSON list of the plan's flags set when the case opened
    opened_at: datetime
    state_entered_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    escalation_level: int
    reminders_sent: int
    last_activity_at: datetime
    paused_at: datetime | None = None
    pause_reason: str | None = None  # sealed (a Cipher token): free text
    archived_at: datetime | None = None
    purged_at: datetime | None = None
    version: int
    last_seq: int
    last_hash: str
