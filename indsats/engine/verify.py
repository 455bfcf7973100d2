"""``verify``: replay every case's hash chain and its projection, and report each break."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any

from indsats.engine.events import VERSIONED, Event, EventKind, chain_breaks

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plan import Plan


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    cases: int
    events: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(ctx: Context) -> VerifyReport:
    """Check every case: the chain, and that the ``cases`` row is what its events say."""
    problems: list[str] = []
    n_cases = n_events = 0
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        rows = {c["id"]: c for c in repo.list_cases(is_open=None)}
        seen: set[str] = set()
        for case_id, group in groupby(repo.iter_events(), key=lambda r: r["case_id"]):
            events = [Event.from_row(r) for r in group]
            n_cases += 1
            n_events += len(events)
            seen.add(case_id)
            problems.extend(chain_breaks(events))
            case = rows.get(case_id)
            if case is None:
                problems.append(f"case {case_id}: events exist but the case row is missing")
                continue
            plan = ctx.catalog.pinned(repo, case["plan_id"], case["plan_version"])
            problems.extend(projection_breaks(plan, case, events))
        for case_id in sorted(set(rows) - seen):
            problems.append(f"case {case_id}: has no events (its history was removed)")
    return VerifyReport(cases=n_cases, events=n_events, problems=problems)


def replay(plan: Plan, events: list[Event]) -> dict[str, Any]:
    """The projection a case's events imply."""
    state: str | None = None
    version = 0
    acute = False
    closed_at = None
    sent = 0
    for e in events:
        if e.kind in VERSIONED:
            version += 1
        if e.kind in (EventKind.opened, EventKind.advanced):
            state = e.to_state
            if state is not None and plan.states[state].final:
                closed_at = e.at
        if e.kind is EventKind.recorded and e.trigger:
            t = plan.transition(e.trigger)
            acute = acute or bool(t and t.marks_acute)
        if e.kind in (EventKind.reminder_sent, EventKind.escalated):
            sent += 1
    last = events[-1] if events else None
    return {
        "state": state,
        "is_open": state is not None and not plan.states[state].final,
        "acute": acute,
        "opened_by": events[0].actor if events else None,
        "closed_at": closed_at,
        "version": version,
        "reminders_sent": sent,
        "last_seq": last.seq if last else 0,
        "last_hash": last.hash if last else None,
    }


def projection_breaks(plan: Plan, case: dict[str, Any], events: list[Event]) -> list[str]:
    expected = replay(plan, events)
    return [
        f"case {case['id']}: '{key}' is {case[key]!r} but its events say {value!r}"
        for key, value in expected.items()
        if case[key] != value
    ]
