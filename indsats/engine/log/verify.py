"""``verify``: replay every case's hash chain and its projection, and report each break."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any

from indsats.engine.privacy.crypto import SEALED, open_payload
from indsats.engine.log.events import VERSIONED, Event, EventKind, chain_breaks
from indsats.errors import NotAllowed

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.privacy.crypto import Cipher
    from indsats.engine.plans.schema import Plan


_KINDS = frozenset(k.value for k in EventKind)


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    cases: int
    events: int
    problems: list[str] = field(default_factory=list)
    unchecked_payloads: int = 0  # sealed payloads whose digest could not be checked without the key

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(ctx: Context) -> VerifyReport:
    """Check every case: the chain, and that the ``cases`` row is what its events say."""
    problems: list[str] = []
    n_cases = n_events = 0
    cipher = ctx.keys.optional()
    skipped: list[int] = []
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        rows = {c.id: c for c in repo.list_cases(is_open=None)}
        seen: set[str] = set()
        for case_id, group in groupby(repo.iter_events(), key=lambda r: r["case_id"]):
            raw = list(group)
            n_cases += 1
            n_events += len(raw)
            seen.add(case_id)
            odd = [r for r in raw if r["kind"] not in _KINDS]
            if odd:
                problems.append(f"case {case_id} event {odd[0]['seq']}: unknown kind '{odd[0]['kind']}' (edited)")
                continue
            events = [Event.from_row({**r, "payload": _plain(r["payload"], cipher, skipped)}) for r in raw]
            problems.extend(chain_breaks(events))
            case = rows.get(case_id)
            if case is None:
                problems.append(f"case {case_id}: events exist but the case row is missing")
                continue
            plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
            problems.extend(projection_breaks(plan, case, events))
        for case_id in sorted(set(rows) - seen):
            problems.append(f"case {case_id}: has no events (its history was removed)")
        # Case numbers are handed out in the transaction that opens the case: a gap is a removed case.
        for counter in repo.case_counters():
            for number in range(1, counter["last_number"] + 1):
                case_id = f"{counter['prefix']}-{counter['year']}-{number:04d}"
                if case_id not in rows:
                    problems.append(f"case {case_id}: was opened but is missing (removed)")
    return VerifyReport(cases=n_cases, events=n_events, problems=problems, unchecked_payloads=len(skipped))


def _plain(stored: dict[str, Any] | None, cipher: Cipher | None, skipped: list[int]) -> dict[str, Any] | None:
    """The payload the digest covers; without the key a sealed payload is left unchecked (the chain still is)."""
    if not stored or SEALED not in stored:
        return stored
    if cipher is None:
        skipped.append(1)
        return None
    try:
        return open_payload(stored, cipher)
    except (NotAllowed, ValueError):
        return {"unopenable": stored[SEALED]}  # edited ciphertext: the digest check reports it


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
            known = plan.states.get(state or "")
            if known is not None and known.final:
                closed_at = e.at
        if e.kind is EventKind.recorded and e.trigger:
            t = plan.transition(e.trigger)
            acute = acute or bool(t and t.marks_acute)
        if e.kind in (EventKind.reminder_sent, EventKind.escalated):
            sent += 1
    last = events[-1] if events else None
    return {
        "state": state,
        "is_open": state in plan.states and not plan.states[state].final,
        "acute": acute,
        "opened_by": events[0].actor if events else None,
        "closed_at": closed_at,
        "version": version,
        "reminders_sent": sent,
        "last_seq": last.seq if last else 0,
        "last_hash": last.hash if last else None,
    }


def projection_breaks(plan: Plan, case: Case, events: list[Event]) -> list[str]:
    expected = replay(plan, events)
    unknown = [f"case {case.id}: state '{expected['state']}' is not in plan {plan.id}"] if expected["state"] not in plan.states else []
    return unknown + [
        f"case {case.id}: '{key}' is {getattr(case, key)!r} but its events say {value!r}"
        for key, value in expected.items()
        if getattr(case, key) != value
    ]
