"""The step report's figures added up per local day as they happen: ``visit_days`` and ``escalation_days``.

Adding up ``state_visits`` for a report is a pass over millions of index entries at a million cases, so each
visit is also counted, in the transaction that leaves it, into one row per (plan, state, local day entered,
local day left, time bucket): how many visits, how many on time, their paused working time and how many were
paused. An escalation sent is counted per (plan, state, local day). A report over whole days then sums these
few rows and reads raw rows only for the part of its last day before its end (``now``).

The time bucket makes the median and 90th percentile exact without a walk of every visit: the buckets'
counts say which bucket holds the visit at a rank and how many come before it in the window, and the visit is
read from ``state_visits`` within that bucket's bounds only (``ix_state_visits_plan_id_state_time_us``).
Buckets are an eighth to a sixteenth of an octave of microseconds wide (``time_bucket``): a few per day pair.

Days are the report's days (local days in ``LOCAL_TZ``, as ``--since``/``--until`` give them), stored as
proleptic Gregorian ordinals. The same SQL is written once with ``?`` (psycopg gets ``%s``) and used by both
write paths (``storage/hot.py`` and the SQLAlchemy repositories), the migration that backfills (0008) and the
benchmark world. No SQLAlchemy here: the hot path imports this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timezone
from typing import Any

from indsats.engine.time.clock import LOCAL_TZ, as_utc, localize

VISIT_DAY_KEY = ("plan_id", "state", "entry_day", "left_day", "bucket")
VISIT_DAY_SUMS = ("visits", "on_time", "paused_us", "paused_visits")
ESCALATION_DAY_KEY = ("plan_id", "state", "day")

UPSERT_VISIT_DAY = (
    "INSERT INTO visit_days (plan_id, state, entry_day, left_day, bucket, visits, on_time, paused_us, paused_visits)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plan_id, state, entry_day, left_day, bucket) DO UPDATE SET"
    " visits = visit_days.visits + excluded.visits, on_time = visit_days.on_time + excluded.on_time,"
    " paused_us = visit_days.paused_us + excluded.paused_us,"
    " paused_visits = visit_days.paused_visits + excluded.paused_visits"
)
# One escalation (state, day, case id): its plan is its case's.
UPSERT_ESCALATION_DAY_OF_CASE = (
    "INSERT INTO escalation_days (plan_id, state, day, escalations) SELECT plan_id, ?, ?, 1 FROM cases WHERE id = ?"
    " ON CONFLICT (plan_id, state, day) DO UPDATE SET escalations = escalation_days.escalations + 1"
)
# Leaving the open visit returns what its day row needs.
LEAVE_VISIT = ("UPDATE state_visits SET left_at = ?, time_us = ? - paused_us, on_time = ?"
               " WHERE case_id = ? AND left_at IS NULL RETURNING plan_id, state, entered_at, time_us, paused_us, pauses")


def local_day(at: datetime) -> int:
    """The local day of an instant (aware), as its ordinal."""
    return at.astimezone(LOCAL_TZ).date().toordinal()


def day_start(day: int) -> datetime:
    """Local midnight starting the day (an ordinal), in UTC: as the report turns ``--since`` into an instant."""
    return as_utc(localize(datetime.combine(date.fromordinal(day), time()), LOCAL_TZ))


def time_bucket(us: int) -> int:
    """The bucket of a time in state (microseconds): below 16 one per value, above that 8 per octave, in order
    (a larger time never has a smaller bucket)."""
    if us < 16:
        return us
    shift = us.bit_length() - 4
    return shift * 8 + (us >> shift)  # us >> shift: the top four bits, 8..15


def bucket_bounds(bucket: int) -> tuple[int, int]:
    """The times (microseconds) of a bucket: ``lo <= time_us < hi``."""
    if bucket < 16:
        return bucket, bucket + 1
    shift, top = bucket // 8 - 1, bucket % 8 + 8
    return top << shift, (top + 1) << shift


def visit_day_values(plan_id: str, state: str, entered_at: datetime, left_at: datetime, time_us: int,
                     on_time: bool, paused_us: int, pauses: int) -> tuple[Any, ...]:
    """One left visit's parameters for ``UPSERT_VISIT_DAY``."""
    return (plan_id, state, local_day(entered_at), local_day(left_at), time_bucket(time_us), 1, int(bool(on_time)),
            int(paused_us), int(pauses > 0))


def escalation_day_params(events: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """``UPSERT_ESCALATION_DAY_OF_CASE`` parameters for the escalations among event rows being written."""
    return [(e["from_state"], local_day(e["at"]), e["case_id"]) for e in events
            if e.get("kind") == "escalated" and e.get("from_state") is not None]


def add_up_visits(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Day rows (key, then sums) of left visits given as ``visit_day_values`` arguments (the backfill)."""
    found: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        values = visit_day_values(*row)
        sums = found.get(values[:5])
        if sums is None:
            found[values[:5]] = list(values[5:])
        else:
            for i, v in enumerate(values[5:]):
                sums[i] += v
    return [(*key, *sums) for key, sums in sorted(found.items())]


def add_up_escalations(rows: Iterable[tuple[str, str, datetime]]) -> list[tuple[Any, ...]]:
    """Day rows of escalations given as (plan, state escalated, when)."""
    found: dict[tuple[str, str, int], int] = {}
    for plan_id, state, at in rows:
        key = (plan_id, state, local_day(at))
        found[key] = found.get(key, 0) + 1
    return [(*key, n) for key, n in sorted(found.items())]


# -- filling them in from what is there (migration 0008, the benchmark world) ------------------------

LEFT_VISITS = ("SELECT plan_id, state, entered_at, left_at, time_us, on_time, paused_us, pauses FROM state_visits"
               " WHERE left_at IS NOT NULL")
SENT_ESCALATIONS = ("SELECT c.plan_id, e.from_state, e.at FROM events e JOIN cases c ON c.id = e.case_id"
                    " WHERE e.kind = 'escalated' AND e.from_state IS NOT NULL")
INSERT_VISIT_DAYS = ("INSERT INTO visit_days (plan_id, state, entry_day, left_day, bucket, visits, on_time, paused_us,"
                     " paused_visits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_ESCALATION_DAYS = "INSERT INTO escalation_days (plan_id, state, day, escalations) VALUES (?, ?, ?, ?)"


def stored_time(value: Any) -> datetime:
    """A time as a driver hands it back (SQLite: text; psycopg: a naive datetime), aware UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc)


def fill_in(read: Callable[[str], Iterable[Any]], write: Callable[[str, list[tuple[Any, ...]]], None]) -> None:
    """Write the day rows of every visit left and every escalation sent into the (empty) day tables: ``read``
    runs a query and gives its rows, ``write`` runs an insert for each row (both with ``?`` parameters)."""
    visits = add_up_visits((p, s, stored_time(a), stored_time(b), t, o, u, k) for p, s, a, b, t, o, u, k
                           in read(LEFT_VISITS))
    for start in range(0, len(visits), 5000):
        write(INSERT_VISIT_DAYS, visits[start:start + 5000])
    sent = add_up_escalations((p, s, stored_time(at)) for p, s, at in read(SENT_ESCALATIONS))
    for start in range(0, len(sent), 5000):
        write(INSERT_ESCALATION_DAYS, sent[start:start + 5000])
