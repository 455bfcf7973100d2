"""Checks a plan author runs before a plan goes live: structure, durations, and whether the registered
users can actually carry every case through it. Pure: takes the plan (and users as rows), returns findings.

>>> [f.message for f in check_plan(plan, users=None) if f.severity is Severity.error]   # doctest: +SKIP
["'orphan' cannot be reached from 'suspected'"]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Any

from indsats.i18n import _
from indsats.engine.time.durations import parse_duration
from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.plans.schema import INSTALLATION_ROLES, Relation
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


def reachable(plan: Plan, start: str | None = None, *, without: str | None = None) -> set[str]:
    """The states a case can reach from ``start`` (else ``initial``), breadth first; never through ``without``."""
    start = plan.initial if start is None else start
    seen = {start}
    queue = deque([start])
    out: dict[str, list[str]] = {}
    for source, dest, _trigger in edges(plan):
        out.setdefault(source, []).append(dest)
    while queue:
        for dest in out.get(queue.popleft(), []):
            if dest != without and dest not in seen:
                seen.add(dest)
                queue.append(dest)
    return seen


def check_structure(plan: Plan) -> list[Finding]:
    found: list[Finding] = []
    seen = reachable(plan)
    for name in plan.states:
        if name not in seen:
            found.append(_error(f"states.{name}", _("'{name}' cannot be reached from '{initial}'").format(name=name, initial=plan.initial)))
    leaving = {source for source, dest, _ in edges(plan) if dest != source}
    for name, state in plan.states.items():
        if not state.final and name not in leaving:
            found.append(
                _error(f"states.{name}", _("'{name}' is not final but no trigger leads out of it (a case would stay forever)").format(name=name))
            )
    if not any(plan.states[s].final for s in seen if s in plan.states):
        found.append(_error("initial", _("no final state can be reached from '{initial}'").format(initial=plan.initial)))
    for index, t in enumerate(plan.transitions):
        for n, actor in enumerate(t.allowed):
            if actor.role is not None and actor.role not in plan.roles:
                found.append(
                    _error(f"transitions.{index}.allowed.{n}", _("'{trigger}' may be fired only by role '{role}', which is not a role of the plan").format(trigger=t.trigger, role=actor.role))
                )
    return found


def _duration_finding(location: str, text: Any) -> list[Finding]:
    if not isinstance(text, str):
        return [_error(location, _("a duration is text such as '1 working day' or '24 hours'"))]
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


def unavoidable_states(plan: Plan, start: str | None = None) -> list[str]:
    """The open states every path from ``start`` (else ``initial``) to a final state passes through, ``start``
    included: the steps a case there cannot get to its end without."""
    start = plan.initial if start is None else start
    finals = set(plan.final_states)
    ahead = reachable(plan, start)
    if not ahead & finals:  # a case caught where no way leads to an end: only where it stands counts
        return [start]
    return [name for name, state in plan.states.items()
            if not state.final and (name == start or name in ahead and not reachable(plan, start, without=name) & finals)]


class _Users:
    """A directory over rows already read (``ports.Directory``). A row's plan ``role`` (the shape before
    grants) counts as that role in every plan, when no grants are given."""

    def __init__(self, rows: list[dict[str, Any]], grants: list[dict[str, Any]] | None) -> None:
        self.by_login = {r["login"]: {**r, "role": r["role"] if r["role"] in INSTALLATION_ROLES else None} for r in rows}
        if grants is None:
            grants = [
                {"login": r["login"], "plan_id": "*", "role": r["role"], "unit": None}
                for r in rows
                if r.get("role") and r["role"] not in INSTALLATION_ROLES
            ]
        self.grants: dict[str, list[dict[str, Any]]] = {}
        for g in grants:
            self.grants.setdefault(g["login"], []).append(g)

    def get_user(self, login: str) -> dict[str, Any] | None:
        return self.by_login.get(login)

    def grants_of(self, login: str) -> list[dict[str, Any]]:
        return list(self.grants.get(login, []))

    def holders_of(self, role: str, plan_id: str) -> list[dict[str, Any]]:
        return [
            {**self.by_login[g["login"]], "grant_unit": g["unit"]}
            for login, held in sorted(self.grants.items())
            for g in held
            if g["role"] == role and g["plan_id"] in (plan_id, "*") and self.by_login.get(login, {}).get("active")
        ]

    def deputised_by(self, login: str) -> list[dict[str, Any]]:
        return [r for r in self.by_login.values() if r.get("deputy") == login]


def check_users(
    plan: Plan, users: list[dict[str, Any]], grants: list[dict[str, Any]] | None = None, today: date | None = None
) -> list[Finding]:
    """Whether today's organisation can carry a case through ``plan``: someone in every role-held state,
    a leader for everyone who may open a case where the plan needs one, a chain up to the ceiling."""
    org = Organisation(_Users(users, grants), plan, today or date.min)
    directory = org.directory
    assert isinstance(directory, _Users)
    ceiling = plan.escalation.ceiling
    found: list[Finding] = []
    for name, state in plan.states.items():
        actor = state.responsible
        if actor is not None and actor.relation is None and actor.role and not org.holders(actor.role):
            found.append(
                _error(f"states.{name}.responsible", _("no active user has role '{role}', so nobody must act in '{name}'").format(role=actor.role, name=name))
            )
    for index, t in enumerate(plan.transitions):
        roles_only = [a.role for a in t.allowed if a.relation is None and a.role]
        if roles_only and len(roles_only) == len(t.allowed) and not any(org.holders(r) for r in roles_only):
            found.append(
                _warning(f"transitions.{index}.allowed", _("no active user has role {listed}, so nobody may fire '{trigger}'").format(listed=_(" or ").join(repr(r) for r in roles_only), trigger=t.trigger))
            )
    if ceiling is not None and not org.holders(ceiling):
        found.append(_error("escalation.ceiling", _("no active user has the ceiling role '{ceiling}'; escalations have nowhere to end").format(ceiling=ceiling)))
    unavoidable = unavoidable_states(plan)
    for login, user in sorted(directory.by_login.items()):
        opens = sorted(org.roles_of(login, user.get("unit")) & set(plan.may_open))
        if not user["active"] or not opens or (ceiling is not None and org.has_role(login, ceiling)):
            continue
        facts = CaseFacts(opener=login, unit=user.get("unit"))
        # A state held by a role alone is reported once, above; here, the ones that depend on who opens.
        stops = [
            s for s in unavoidable
            if (spec := plan.states[s].responsible) is not None and spec.relation is not None
            and not org.responsible(spec, facts)
        ]
        what = ", ".join(opens)
        if org.leader_of(login) is None:
            needs = [n for n in plan.states if n in stops or _needs_leader(plan, n)]
            where = ", ".join(f"'{s}'" for s in needs) or _("escalation")
            message = _("active {what} '{login}' has no reports-to: a case they open has nobody to act in {where}").format(what=what, login=login, where=where)
            found.append((_error if stops else _warning)(f"users.{login}", message))
            continue
        if stops:
            where = ", ".join(f"'{s}'" for s in stops)
            found.append(_error(f"users.{login}", _("a case '{login}' opens has nobody to act in {where}").format(login=login, where=where)))
        chain = org.chain_above(login, ceiling, user.get("unit"))
        if ceiling is not None and (not chain or not org.has_role(chain[-1], ceiling)):
            end = f"'{chain[-1]}'" if chain else _("them")
            found.append(
                _warning(f"users.{login}", _("the escalation chain above '{login}' stops at {end} and never reaches a {ceiling}").format(login=login, end=end, ceiling=ceiling))
            )
    return found


def _needs_leader(plan: Plan, state: str) -> bool:
    spec = plan.states[state].responsible
    return spec is not None and spec.relation in (Relation.opener_leader, Relation.opener_leader_leader)


def check_plan(
    plan: Plan,
    users: list[dict[str, Any]] | None,
    grants: list[dict[str, Any]] | None = None,
    today: date | None = None,
) -> list[Finding]:
    """Everything wrong with ``plan``; with ``users`` (rows as the repository returns them) and their
    ``grants``, also whether the registered organisation can carry a case through it. Errors first."""
    found = check_structure(plan)
    if users is not None:
        found.extend(check_users(plan, users, grants, today))
    return sorted(found, key=lambda f: f.severity is not Severity.error)
