"""What a case's events say its ``cases`` row and its reminder rows must be: the replay ``verify`` checks
every column against.

The events carry what the plan decided when it decided it: the opened event names the plan version,
the unit, the source and whether the subject is a minor; every event that enters a state carries the
deadline it set and the reminder rows it planned (``deadline``, ``reminders``). A later event in the same
visit that moves them (a resumed pause) carries them again: the latest one says what they are now.
Events from before those keys existed leave the columns they would prove unchecked.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import VERSIONED, Event, EventKind

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan
    from indsats.engine.privacy.crypto import Cipher

_MISSING = object()
# Columns no event proves (yet): the deadlines work's pause mark. Everything else is replayed.
UNCHECKED_COLUMNS = frozenset({"paused_at"})


def planned_reminders(planned: list[Any]) -> list[list[Any]]:
    """The ``reminders`` an entering event records: [level, kind, due_at ISO] per planned row."""
    return [[p.level, p.kind.value, to_iso(p.due_at)] for p in planned]


def to_iso(value: datetime | None) -> str | None:
    """A time as the events record it: UTC, whole seconds, ISO 8601."""
    if value is None:
        return None
    if value.tzinfo is timezone.utc:  # one UTC instant is written alike every time: remembered
        return _utc_iso(value)
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


@lru_cache(maxsize=4096)
def _utc_iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def replay(plan: Plan, events: list[Event]) -> dict[str, Any]:
    """The projection a case's events imply (a column is absent when no event proves it)."""
    state: str | None = None
    version = sent = level = 0
    acute = False
    closed_at = entered_at = activity_at = archived_at = purged_at = None
    deadline: Any = _MISSING
    for e in events:
        payload = e.payload if isinstance(e.payload, dict) else {}
        if e.kind in VERSIONED:
            version += 1
            activity_at = e.at
        if e.kind in (EventKind.opened, EventKind.advanced):
            state, entered_at, level = e.to_state, e.at, 0
            known = plan.states.get(state or "")
            closed_at = e.at if known is not None and known.final else None
            deadline = None if closed_at is not None else _MISSING  # a closed case has no deadline
        if "deadline" in payload:
            deadline = payload["deadline"]
        if e.kind is EventKind.recorded and e.trigger:
            t = plan.transition(e.trigger)
            acute = acute or bool(t and t.marks_acute)
        if e.kind in (EventKind.reminder_sent, EventKind.escalated):
            sent += 1
            if isinstance(payload.get("level"), int):
                level = max(level, payload["level"])
        if e.kind is EventKind.archived:
            archived_at = e.at
        if e.kind is EventKind.purged:
            purged_at = e.at
    last = events[-1] if events else None
    expected: dict[str, Any] = {
        "state": state,
        "is_open": state in plan.states and not plan.states[state].final,
        "acute": acute,
        "opened_by": events[0].actor if events else None,
        "opened_at": events[0].at if events else None,
        "state_entered_at": entered_at,
        "last_activity_at": activity_at,
        "closed_at": closed_at,
        "archived_at": archived_at,
        "purged_at": purged_at,
        "version": version,
        "reminders_sent": sent,
        "escalation_level": level,
        "last_seq": last.seq if last else 0,
        "last_hash": last.hash if last else None,
    }
    if deadline is not _MISSING:
        expected["deadline"] = deadline
    opened = events[0].payload if events and events[0].kind is EventKind.opened else None
    if isinstance(opened, dict):
        for column in ("source", "minor", "unit", "plan_id", "plan_version"):
            if column in opened:
                expected[column] = opened[column]
    return expected


def projection_breaks(plan: Plan, case: dict[str, Any], events: list[Event]) -> list[str]:
    """Every column of the case's row that is not what its events say."""
    expected = replay(plan, events)
    problems = [f"case {case['id']}: state '{expected['state']}' is not in plan {plan.id}"] if expected["state"] not in plan.states else []
    for key, value in expected.items():
        actual = case.get(key)
        if key == "deadline":
            actual = to_iso(actual)
        elif isinstance(actual, datetime):
            actual = actual.replace(microsecond=0)
        if actual != value:
            shown = value.isoformat() if isinstance(value, datetime) else value
            problems.append(f"case {case['id']}: '{key}' is {_show(case.get(key))} but its events say {shown!r}")
    return problems


def _show(value: Any) -> str:
    return repr(value.isoformat()) if isinstance(value, datetime) else repr(value)


def subject_breaks(case: dict[str, Any], events: list[Event], cipher: Cipher | None) -> tuple[list[str], int]:
    """The subject reference and its index against the opened event; (problems, 1 if it needed the key)."""
    if not events or events[0].kind is not EventKind.opened:
        return [], 0
    if case["purged_at"] is not None or any(e.kind is EventKind.purged for e in events):
        if case["subject_ref"] is not None or case["subject_index"] is not None:
            return [f"case {case['id']}: purged, yet it holds a subject reference"], 0
        return [], 0
    if cipher is None:
        return [], 1 if case["subject_ref"] is not None else 0
    opened = events[0].payload
    ref = opened.get("subject_ref") if isinstance(opened, dict) else None
    if ref is None:
        return [], 0  # the opened payload could not be read: its digest check reports that
    if case["subject_ref"] is None:
        return [f"case {case['id']}: 'subject_ref' is missing but its events name a subject"], 0
    from indsats.errors import NotAllowed

    try:
        stored = cipher.open(case["subject_ref"])
    except NotAllowed:
        return [f"case {case['id']}: 'subject_ref' does not open under the key (edited)"], 0
    problems = []
    if stored != ref:
        problems.append(f"case {case['id']}: 'subject_ref' is not the subject its opened event names (edited or swapped)")
    if case["subject_index"] not in cipher.indices(ref):
        problems.append(f"case {case['id']}: 'subject_index' is not the index of its subject (edited or swapped)")
    return problems, 0


def reminder_breaks(plan: Plan, case: dict[str, Any], events: list[Event], rows: list[dict[str, Any]]) -> list[str]:
    """The reminder rows of an open case against what its entering event planned."""
    if not case["is_open"] or not events:
        return []
    visit = next((e for e in reversed(events) if e.kind in (EventKind.opened, EventKind.advanced)), None)
    if visit is None:
        return []
    planned: list[Any] | None = None
    regraded: set[Any] = set()  # rows a change of the reports-to chain cancelled (a ``rechained`` event)
    for e in events[events.index(visit):]:
        if isinstance(e.payload, dict) and isinstance(e.payload.get("reminders"), list):
            planned = e.payload["reminders"]
        if e.kind is EventKind.rechained and isinstance(e.payload, dict):
            regraded.update(e.payload.get("cancelled_reminders") or [])
    cid, state = case["id"], visit.to_state
    # A case deadline's rows run across visits until their trigger meets them: not a state visit's rows.
    rows = [r for r in rows if not r.get("deadline")]
    current = [r for r in rows if r["entry_seq"] == visit.seq and r["kind"] != "acute"]
    problems: list[str] = []
    for row in current:
        if row["status"] == "cancelled" and row["id"] not in regraded:
            problems.append(
                f"case {cid}: the {row['kind']} at level {row['level']} was cancelled while the case is still in "
                f"'{state}' (edited)"
            )
    for row in rows:
        if row["entry_seq"] < visit.seq and row["kind"] != "acute" and row["status"] in ("pending", "held"):
            problems.append(f"case {cid}: a {row['kind']} for an earlier visit of '{row['state']}' is still pending (edited)")
    if planned is not None:
        have = {(r["level"], r["kind"], to_iso(r["due_at"])) for r in current}
        for level, kind, due in planned:
            if (level, kind, due) not in have:
                problems.append(f"case {cid}: the {kind} at level {level} due {due} that '{state}' planned is missing or moved (edited)")
    return problems


def case_deadline_breaks(plan: Plan, case: dict[str, Any], events: list[Event], rows: list[dict[str, Any]]) -> list[str]:
    """A case's case-deadline reminder rows against what its events planned: the event that started each
    deadline (``case_deadlines`` in its payload), and any later one that moved its rows (a resume, a
    ``rechained``) — the latest says what they are now. A deadline met (its ``met_by`` fired), or one whose
    case closed unless it outlives the closing, has nothing pending; one still running has nothing cancelled
    (but what a ``rechained`` event cancelled). Deadlines started before events recorded them are unchecked."""
    planned: dict[str, list[Any]] = {}
    met: set[str] = set()
    regraded: set[Any] = set()
    for e in events:
        payload = e.payload if isinstance(e.payload, dict) else {}
        recorded = payload.get("case_deadlines")
        if isinstance(recorded, dict):
            for name, value in recorded.items():
                if isinstance(value, dict) and isinstance(value.get("reminders"), list):
                    planned[name] = value["reminders"]
        if e.trigger:
            met.update(n for n, d in plan.case_deadlines.items() if d.met_by == e.trigger and n in planned)
        if e.kind is EventKind.rechained:
            regraded.update(payload.get("cancelled_reminders") or [])
    cid = case["id"]
    problems: list[str] = []
    for name, want in planned.items():
        mine = [r for r in rows if r.get("deadline") == name and r["kind"] != "acute"]
        outlives = name in plan.case_deadlines and plan.outlives_closing(name)
        running = name not in met and (case["is_open"] or outlives)
        for row in mine:
            if running and row["status"] == "cancelled" and row["id"] not in regraded:
                problems.append(f"case {cid}: the {row['kind']} at level {row['level']} of the case deadline "
                                f"'{name}' was cancelled while it still runs (edited)")
            if not running and row["status"] in ("pending", "held"):
                problems.append(f"case {cid}: a {row['kind']} of the case deadline '{name}' is still pending though "
                                f"the deadline was met or the case closed (edited)")
        have = {(r["level"], r["kind"], to_iso(r["due_at"])) for r in mine}
        for level, kind, due in want:
            if (level, kind, due) not in have:
                problems.append(f"case {cid}: the {kind} at level {level} due {due} that the case deadline '{name}' "
                                f"planned is missing or moved (edited)")
    return problems
