"""Checks a plan author runs before a plan goes live: structure, durations, and whether the registered
users can actually carry every case through it. Pure: takes the plan (and users as rows), returns findings.

>>> [f.message for f in check_plan(plan, users=None) if f.severity is Severity.error]   # doctest: +SKIP
["'orphan' cannot be reached from 'suspected'"]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from indsats.engine.cases.case import OPENER_ROLES
from indsats.engine.time.durations import parse_duration
from indsats.engine.org.people import chain_above
from indsats.engine.plans.schema import Relation
from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan

class Severity(str, Enum):
    """How bad a finding is: an error stops the plan, a warning is worth a look."""

    error = "error"
    warning = "warning"


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem found in a plan: where (a dotted path into the plan file) and what."""

    severity: Severity
    location: str
    message: str
    line: int | None = None

    def path(self) -> tuple[str | int, ...]:
        return tuple(int(p) if p.isdigit() else p for p in self.location.split(".") if p)


def _error(location: str, message: str) -> Finding:
    return Finding(severity=Severity.error, location=location, message=message)


def _warning(location: str, message: str) -> Finding:
    return Finding(severity=Severity.warning, location=location, message=message)


# -- the plan alone --------------------------------------------------------------------------------


def edges(plan: Plan) -> list[tuple[str, str, str]]:
    """Every (source, dest, trigger) a case can move along; ``*`` expanded to every open state."""
    open_states = [name for name, s in plan.states.items() if not s.final]
    found = []
    for t in plan.transitions:
        if t.dest is None:
            continue
        for source in open_states if "*" in t.source else t.source:
            if source in plan.states and not plan.states[source].final:
                found.append((source, t.dest, t.trigger))
    return found


def reachable(plan: Plan) -> set[str]:
    """The states a case can reach from ``initial`` (breadth first)."""
    seen = {plan.initial}
    queue = deque([plan.initial])
    out: dict[str, list[str]] = {}
    for source, dest, _ in edges(plan):
        out.setdefault(source, []).append(dest)
    while queue:
        for dest in out.get(queue.popleft(), []):
            if dest not in seen:
                seen.add(dest)
                queue.append(dest)
    return seen


def check_structure(plan: Plan) -> list[Finding]:
    found: list[Finding] = []
    seen = reachable(plan)
    for name in plan.states:
        if name not in seen:
            found.append(_error(f"states.{name}", f"'{name}' cannot be reached from '{plan.initial}'"))
    leaving = {source for source, dest, _ in edges(plan) if dest != source}
    for name, state in plan.states.items():
        if not state.final and name not in leaving:
            found.append(
                _error(f"states.{name}", f"'{name}' is not final but no trigger leads out of it (a case would stay forever)")
            )
    if not any(plan.states[s].final for s in seen if s in plan.states):
        found.append(_error("initial", f"no final state can be reached from '{plan.initial}'"))
    for index, t in enumerate(plan.transitions):
        for n, actor in enumerate(t.allowed):
            if actor.role is not None and actor.role not in plan.roles:
                found.append(
                    _error(f"transitions.{index}.allowed.{n}", f"'{t.trigger}' may be fired only by role '{actor.role}', which is not a role of the plan")
                )
    return found


def _duration_finding(location: str, text: Any) -> list[Finding]:
    if not isinstance(text, str):
        return [_error(location, "a duration is text such as '1 working day' or '24 hours'")]
    try:
        parse_duration(text)
    except Invalid as exc:
        return [_error(location, exc.message)]
    return []


def check_durations(data: Any) -> list[Finding]:
    """Every deadline, reminder and retry duration in raw plan data (before the schema stops at the first)."""
    if not isinstance(data, dict):
        return []
    found: list[Finding] = []
    states = data.get("states")
    if isinstance(states, dict):
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            if state.get("deadline") is not None:
                found.extend(_duration_finding(f"states.{name}.deadline", state["deadline"]))
            reminder = state.get("reminder")
            if isinstance(reminder, dict):
                for key in ("escalate_after", "repeat"):
                    if reminder.get(key) is not None:
                        found.extend(_duration_finding(f"states.{name}.reminder.{key}", reminder[key]))
    escalation = data.get("escalation")
    if isinstance(escalation, dict) and escalation.get("retry_after") is not None:
        found.extend(_duration_finding("escalation.retry_after", escalation["retry_after"]))
    return found


# -- the plan against the registered users -----------------------------------------------------------


class _Users:
    """A directory over rows already read (``people.Directory``)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.by_login = {r["login"]: r for r in rows}

    def get_user(self, login: str) -> dict[str, Any] | None:
        return self.by_login.get(login)

    def users_with_role(self, role: str) -> list[dict[str, Any]]:
        return [r for r in self.by_login.values() if r["role"] == role and r["active"]]


def check_users(plan: Plan, users: list[dict[str, Any]]) -> list[Finding]:
    directory = _Users(users)
    ceiling = plan.escalation.ceiling
    found: list[Finding] = []
    for name, state in plan.states.items():
        actor = state.responsible
        if actor is not None and actor.relation is None and actor.role and not directory.users_with_role(actor.role):
            found.append(
                _error(f"states.{name}.responsible", f"no active user has role '{actor.role}', so nobody must act in '{name}'")
            )
    for index, t in enumerate(plan.transitions):
        roles_only = [a.role for a in t.allowed if a.relation is None and a.role]
        if roles_only and len(roles_only) == len(t.allowed) and not any(directory.users_with_role(r) for r in roles_only):
            found.append(
                _warning(f"transitions.{index}.allowed", f"no active user has role {' or '.join(repr(r) for r in roles_only)}, so nobody may fire '{t.trigger}'")
            )
    if not directory.users_with_role(ceiling):
        found.append(_error("escalation.ceiling", f"no active user has the ceiling role '{ceiling}'; escalations have nowhere to end"))
    needs_leader = _states_needing(plan, Relation.opener_leader)
    for login, user in sorted(directory.by_login.items()):
        if not user["active"] or user["role"] not in OPENER_ROLES or user["role"] == ceiling:
            continue
        if not user.get("reports_to"):
            where = ", ".join(f"'{s}'" for s in needs_leader) or "escalation"
            message = f"active {user['role']} '{login}' has no reports-to: a case they open has nobody to act in {where}"
            make = _error if user["role"] == "medarbejder" else _warning
            found.append(make(f"users.{login}", message))
            continue
        chain = chain_above(directory, login, ceiling)
        top = directory.get_user(chain[-1]) if chain else None
        if top is None or top["role"] != ceiling:
            end = f"'{chain[-1]}'" if chain else "them"
            found.append(
                _warning(f"users.{login}", f"the escalation chain above '{login}' stops at {end} and never reaches a {ceiling}")
            )
    return found


def _states_needing(plan: Plan, relation: Relation) -> list[str]:
    return [n for n, s in plan.states.items() if s.responsible is not None and s.responsible.relation is relation]


def check_plan(plan: Plan, users: list[dict[str, Any]] | None) -> list[Finding]:
    """Everything wrong with ``plan``; with ``users`` (rows as the repository returns them), also whether
    the registered organisation can carry a case through it. Errors first, then warnings."""
    found = check_structure(plan)
    if users is not None:
        found.extend(check_users(plan, users))
    return sorted(found, key=lambda f: f.severity is not Severity.error)
