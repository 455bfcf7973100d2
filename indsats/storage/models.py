"""The tables, as SQLAlchemy Core: users, plans (pinned text), cases (the projection), events, reminders.

Core rather than the ORM: the hot paths (advance, sweep, stuck) are a handful of statements each, and
``import sqlalchemy.orm`` alone costs a coordinator a fifth of a second per command.
Times are stored as naive UTC and handed back aware (``UtcDateTime``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, stored as naive UTC, an aware UTC datetime out. Naive input is a bug."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime passed to the database")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


users = Table(
    "users",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(32)),  # the installation's own role (admin, supervisor); plan roles are grants
    Column("email", String(254)),
    Column("reports_to", String(64), ForeignKey("users.login")),
    Column("unit", String(100)),
    # A deputy receives and may act in the person's place from deputy_from to deputy_until (local dates,
    # both included; open-ended when NULL), resolved when a reminder fires or someone acts.
    Column("deputy", String(64), ForeignKey("users.login")),
    Column("deputy_from", Date),
    Column("deputy_until", Date),
    Column("active", Boolean, nullable=False),
    # Deactivated with a handover: every duty that still names this user falls to that one.
    Column("handed_over_to", String(64), ForeignKey("users.login")),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_users_deputy", "deputy"),
)

# A role of a plan held by a user, optionally only for cases of one unit. plan_id '*': every plan that
# declares the role (what a user's single role meant before roles were granted per plan).
grants = Table(
    "grants",
    metadata,
    Column("login", String(64), ForeignKey("users.login"), primary_key=True),
    Column("plan_id", String(64), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("unit", String(100)),
    Column("granted_at", UtcDateTime, nullable=False),
    Index("ix_grants_plan_id_role", "plan_id", "role"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", String(16), primary_key=True),
    Column("text", Text, nullable=False),
    Column("first_used_at", UtcDateTime, nullable=False),
)

case_counters = Table(
    "case_counters",
    metadata,
    Column("prefix", String(8), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("plan_id", String(64), nullable=False),
    Column("plan_version", String(16), nullable=False),
    Column("state", String(64), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("acute", Boolean, nullable=False),
    Column("minor", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("subject_ref", Text),  # encrypted (a Cipher token); NULL once purged
    Column("subject_index", String(64)),  # keyed HMAC of the reference: find a subject's cases without decrypting
    Column("opened_by", String(64), ForeignKey("users.login"), nullable=False),
    Column("unit", String(100)),
    Column("assignee", String(64)),  # the caseworker named with `indsats assign` (None: the opener)
    Column("flags", Text),  # JSON list of the plan's flags set when the case opened
    Column("opened_at", UtcDateTime, nullable=False),
    Column("state_entered_at", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("escalation_level", Integer, nullable=False),
    Column("reminders_sent", Integer, nullable=False),
    Column("last_activity_at", UtcDateTime, nullable=False),
    # Pausing the clock ("waiting for the police"): when set, reminders are held; deadlines shift on resume.
    Column("paused_at", UtcDateTime),
    Column("pause_reason", Text),  # encrypted (a Cipher token): free text
    Column("archived_at", UtcDateTime),  # written to an archive file (retention), so it may be purged
    Column("purged_at", UtcDateTime),  # personal data removed; the skeleton stays for statistics
    Column("version", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Index("ix_cases_open_deadline", "is_open", "deadline"),
    Index("ix_cases_plan_state", "plan_id", "state"),
    # Open cases per state (supervision) read only the is_open range of this index, never the closed rows.
    Index("ix_cases_open_plan_state", "is_open", "plan_id", "state"),
    Index("ix_cases_opened_by", "opened_by"),
    # Whether a case is open, and its plan, for a join from its rows elsewhere (the report's running deadlines)
    # without reading the case's row. SQLite writes it only when a case is opened or closed; PostgreSQL, like
    # every index of the table, on each update that changes an indexed column (state, deadline: each advance).
    Index("ix_cases_id_is_open_plan_id", "id", "is_open", "plan_id"),
    Index("ix_cases_subject_index", "subject_index"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64)),
    Column("trigger", String(64)),
    Column("from_state", String(64)),
    Column("to_state", String(64)),
    Column("payload", Text),  # canonical JSON; NULL once purged (the digest stays)
    Column("payload_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq"),
    Index("ix_events_kind_at", "kind", "at"),
    Index("ix_events_actor_kind", "actor", "kind"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False),
    Column("state", String(64), nullable=False),
    Column("entry_seq", Integer, nullable=False),  # the event that entered the state: one visit
    Column("level", Integer, nullable=False),  # 0 = whoever must act, n = n leaders up
    Column("kind", String(16), nullable=False),  # ReminderKind
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # ReminderStatus
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64)),
    Column("lease_until", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("recipients", Text),  # JSON list of logins, resolved when it fires
    Column("last_error", Text),
    Column("deadline", String(64)),  # the case deadline the row is about; NULL for the state's own deadline
    Index("ix_reminders_status_next", "status", "next_attempt_at"),
    Index("ix_reminders_case_status", "case_id", "status"),
)

# The organisation chain: one hash-chained row per change to users and grants (who changed what, when).
org_events = Table(
    "org_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64)),
    Column("target", String(64), nullable=False),  # the login (or grant) changed
    Column("payload", Text, nullable=False),  # canonical JSON: {"table", "key", "values" | "removed"}
    Column("payload_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Signed checkpoints: the body is canonical JSON (time, counts, Merkle root, org head, counters, previous seal).
seals = Table(
    "seals",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("signature", String(128), nullable=False),  # Ed25519 over the body, base64
)

# Each case's chain head as the latest seal covered it (the leaves of that seal's Merkle root).
seal_heads = Table(
    "seal_heads",
    metadata,
    Column("case_id", String(32), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("seal_seq", Integer, nullable=False),
)

# Which encryption key the data is under: one 'current' row; a 'next' row while a rotation runs.
key_fingerprints = Table(
    "key_fingerprints",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # current | next | retired
    Column("since", UtcDateTime, nullable=False),
)

# A plan's case deadlines started on a case (from its opening or a trigger), until their trigger meets them.
case_deadlines = Table(
    "case_deadlines",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("started_seq", Integer, nullable=False),  # the event that started it
    Column("due_at", UtcDateTime, nullable=False),  # shifted by pauses
    Column("met_at", UtcDateTime),
    # Unmet deadlines by due time (stuck), and what the report counts of them, from this alone.
    Index("ix_case_deadlines_met_at_due_at_started_at", "met_at", "due_at", "started_at", "name", "case_id"),
    # The report's counts per deadline, one name's entries each, from this alone.
    Index("ix_case_deadlines_name_started_at", "name", "started_at", "met_at", "due_at"),
)

# One row per visit to a state, for the step report: written with the event entering the state, completed with
# the one leaving it, so time in state is counted once (working time, less the visit's pauses), never per report.
state_visits = Table(
    "state_visits",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("entry_seq", Integer, primary_key=True),  # the event that entered the state
    Column("plan_id", String(64), nullable=False),
    Column("state", String(64), nullable=False),
    Column("entered_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime),  # the state's deadline counted from the entry, before any pause
    Column("left_at", UtcDateTime),  # NULL while the case is in the state
    Column("time_us", BigInteger),  # working time in the state less its pauses, in microseconds; set when left
    Column("on_time", Boolean),  # left by its (pause-shifted) deadline; set when left
    Column("paused_us", BigInteger, nullable=False),  # working time the visit spent paused
    Column("pauses", Integer, nullable=False),  # pauses begun in the visit
    # Median and 90th percentile walk this in time order, per plan and state, without reading the table.
    Index("ix_state_visits_plan_id_state_time_us", "plan_id", "state", "time_us", "entered_at", "left_at"),
    # The report's sums per plan and state read this alone (a tenth of the time of reading the table's rows).
    Index("ix_state_visits_plan_id_state_left_at", "plan_id", "state", "left_at", "entered_at", "on_time", "paused_us",
          "pauses"),
    # Visits not left (or left after a window's end): whether they were late at the end, per plan and state in
    # the index's own order (no sort of every open visit), from this alone.
    Index("ix_state_visits_left_at_plan_id_state", "left_at", "plan_id", "state", "entered_at", "pauses", "deadline_at"),
)

# The step report's figures per local day, kept as visits are left and escalations sent (see
# ``indsats.storage.visit_days``): a report over whole days sums these rows instead of every visit.
visit_days = Table(
    "visit_days",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("state", String(64), primary_key=True),
    Column("entry_day", Integer, primary_key=True),  # local day entered (ordinal)
    Column("left_day", Integer, primary_key=True),  # local day left (ordinal)
    Column("bucket", Integer, primary_key=True),  # of the time in state (``visit_days.time_bucket``)
    Column("visits", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("paused_us", BigInteger, nullable=False),
    Column("paused_visits", Integer, nullable=False),  # visits paused at least once
)
escalation_days = Table(
    "escalation_days",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("state", String(64), primary_key=True),  # the state escalated
    Column("day", Integer, primary_key=True),  # local day sent (ordinal)
    Column("escalations", Integer, nullable=False),
)
