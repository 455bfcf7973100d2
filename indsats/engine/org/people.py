"""Who stands where, for one plan on one day: the plan's roles as granted, relations to a case, who must act
in a state, the reports-to chain above them, deputies and handovers.

Resolved against the registered users whenever asked (an escalation resolves "the leader of the person
who must act" when it fires, not when its row was written). A deactivated user who handed over is
represented by whoever took over; one who did not is nobody. A deputy, while the dates hold, receives
the person's messages and may act in their place.

>>> org = Organisation(repo, plan, today)                      # doctest: +SKIP
>>> org.responsible(plan.states["assessed"].responsible, CaseFacts.of(case))
['lea']
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from indsats.engine.plans.schema import Actor, Relation
from indsats.engine.time.clock import to_local

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.reminders.reminder import RemindedCase
    from indsats.engine.plans.schema import Plan
    from indsats.engine.ports import Clock, Directory

MAX_CHAIN = 12  # a reports-to chain longer than this is a cycle or a data error


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """What the organisation needs to know of a case: who opened it, its unit, its caseworker, who is on it."""

    opener: str
    unit: str | None = None
    assignee: str | None = None
    on_case: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, case: Case | RemindedCase, on_case: Iterable[str] = ()) -> CaseFacts:
        return cls(opener=case.opened_by, unit=case.unit, assignee=case.assignee, on_case=frozenset(on_case))


def deputy_active(user: dict[str, Any], today: date) -> bool:
    """Does the user's deputy stand in for them today (dates included; an open end is open)?"""
    if not user.get("deputy"):
        return False
    start, end = user.get("deputy_from"), user.get("deputy_until")
    return (start is None or start <= today) and (end is None or today <= end)


# What an organisation answered, kept beside the organisation it was worked out from (a directory's
# ``organisation_key``, replaced when users or grants change), per (plan id, version, day): a long-lived process
# (the server) asks the same questions about the same few people command after command.
_ANSWERS: weakref.WeakKeyDictionary[object, dict[tuple[str, str, date], dict[tuple[Any, ...], Any]]]
_ANSWERS = weakref.WeakKeyDictionary()
_MAX_ANSWERS = 10_000  # answers kept at most per organisation, plan and day (a few MB)
_answering = threading.Lock()  # for the per-plan tables; one answer is one dict operation
_MISSING = object()
_F = TypeVar("_F", bound=Callable[..., Any])


def organisation(directory: Directory, plan: Plan, clock: Clock) -> Organisation:
    """The organisation as ``plan`` sees it today (the local date: deputies' dates are local)."""
    return Organisation(directory, plan, to_local(clock.now()).date())


def _kept(method: _F) -> _F:
    """An answer of ``method`` (its arguments hashable) kept in the organisation's answers, when it keeps them; a
    set or list handed out as a copy, so that no caller changes what is kept."""
    name = method.__name__

    @functools.wraps(method)
    def kept(self: Organisation, *args: Any) -> Any:
        answers = self._answers
        if answers is None:
            return method(self, *args)
        key = (name, *args)
        try:
            found = answers.get(key, _MISSING)
        except TypeError:  # an argument that cannot be a key (a list): answered, not kept
            return method(self, *args)
        if found is _MISSING:
            if len(answers) >= _MAX_ANSWERS:
                answers.clear()
            found = answers[key] = method(self, *args)
        return found.copy() if isinstance(found, set | list) else found

    return kept  # type: ignore[return-value]


class Organisation:
    """The organisation as ``plan`` sees it on ``today``: only the plan's own roles count."""

    def __init__(self, directory: Directory, plan: Plan, today: date) -> None:
        self.directory = directory
        self.plan = plan
        self.today = today
        self._answers: dict[tuple[Any, ...], Any] | None = None
        key_of = getattr(directory, "organisation_key", None)
        key = None if key_of is None else key_of()
        if key is not None:
            asked = (plan.id, plan.version, today)
            per_plan = _ANSWERS.get(key)
            self._answers = None if per_plan is None else per_plan.get(asked)
            if self._answers is None:
                with _answering:
                    per_plan = _ANSWERS.setdefault(key, {})
                    for earlier in [k for k in per_plan if k[2] != today]:
                        del per_plan[earlier]  # another day's: deputies' dates may differ today
                    self._answers = per_plan.setdefault(asked, {})

    # -- people ------------------------------------------------------------------------------------

    @_kept
    def active(self, login: str | None) -> str | None:
        """The user who carries ``login``'s duties: themselves if active, whoever took over, or None."""
        current = login
        for _ in range(MAX_CHAIN):
            if current is None:
                return None
            user = self.directory.get_user(current)
            if user is None:
                return None
            if user["active"]:
                return current
            current = user.get("handed_over_to")
        return None

    @_kept
    def receiver(self, login: str) -> str | None:
        """Who gets ``login``'s messages today: their active deputy, else themselves (if active)."""
        carrier = self.active(login)
        if carrier is None:
            return None
        user = self.directory.get_user(carrier)
        if user is not None and deputy_active(user, self.today):
            deputy = self.active(user["deputy"])
            if deputy is not None:
                return deputy
        return carrier

    @_kept
    def represented_by(self, login: str) -> list[str]:
        """``login`` and everyone whose deputy ``login`` is today: the people ``login`` may act as."""
        found = [login]
        for user in self.directory.deputised_by(login):
            if user["active"] and deputy_active(user, self.today):
                found.append(user["login"])
        return found

    @_kept
    def roles_of(self, login: str, unit: str | None = None) -> set[str]:
        """The plan's roles ``login`` holds for a case in ``unit`` (a unit grant holds only in its unit)."""
        found = set()
        for grant in self.directory.grants_of(login):
            if grant["plan_id"] not in (self.plan.id, "*") or grant["role"] not in self.plan.roles:
                continue
            if grant["unit"] is None or grant["unit"] == unit:
                found.add(grant["role"])
        return found

    def has_role(self, login: str, role: str, unit: str | None = None) -> bool:
        return role in self.roles_of(login, unit)

    @_kept
    def holders(self, role: str, unit: str | None = None) -> list[str]:
        """The active users holding ``role`` in this plan for a case in ``unit``."""
        if role not in self.plan.roles:
            return []
        found = {
            row["login"]
            for row in self.directory.holders_of(role, self.plan.id)
            if row["grant_unit"] is None or row["grant_unit"] == unit
        }
        return sorted(found)

    @_kept
    def leader_of(self, login: str | None) -> str | None:
        """The nearest active leader above ``login`` (a handed-over leader's successor; none for one who left)."""
        if login is None:
            return None
        user = self.directory.get_user(login)
        return None if user is None else self.active(user["reports_to"])

    # -- relations and responsibility ----------------------------------------------------------------

    @_kept
    def relation_holders(self, relation: Relation, case: CaseFacts) -> set[str]:
        """The active logins that stand in ``relation`` to the case."""
        opener = self.active(case.opener)
        if relation is Relation.opener:
            return {opener} if opener else set()
        if relation is Relation.assignee:
            assignee = self.active(case.assignee) if case.assignee else opener
            return {assignee} if assignee else set()
        leader = self.leader_of(opener)
        if relation is Relation.opener_leader:
            return {leader} if leader else set()
        if relation is Relation.opener_leader_leader:
            top = self.leader_of(leader)
            return {top} if top else set()
        assignee = self.active(case.assignee) if case.assignee else None
        return {x for x in (opener, assignee, *(self.active(x) for x in case.on_case)) if x}

    def matches_as(self, actor: Actor, login: str, case: CaseFacts) -> bool:
        """Does ``login`` itself fit this actor spec (role and relation, where given)?"""
        if actor.role is not None and not self.has_role(login, actor.role, case.unit):
            return False
        if actor.relation is not None:
            return login in self.relation_holders(actor.relation, case)
        return True

    def acting_as(self, actors: Iterable[Actor], login: str, case: CaseFacts) -> str | None:
        """Whom ``login`` acts as under any of ``actors``: themselves, or a person they are deputy for; else None."""
        specs = list(actors)
        for person in self.represented_by(login):
            if any(self.matches_as(a, person, case) for a in specs):
                return person
        return None

    @_kept
    def responsible(self, actor: Actor, case: CaseFacts) -> list[str]:
        """Who must act: the relation's holder (checked against the role, if both are given), or everyone in the role."""
        if actor.relation is not None:
            holders = sorted(self.relation_holders(actor.relation, case))
            if actor.role is not None:
                # e.g. "the opener's leader, a leder": when a leader opened the case, their own leader is not
                # a leder; the nearest leder from the opener up the chain (the opener included) must act.
                fitting = [h for h in holders if self.has_role(h, actor.role, case.unit)]
                holders = fitting or self._nearest_with_role(case.opener, actor.role, case.unit) or holders
            return holders
        assert actor.role is not None
        return self.holders(actor.role, case.unit)

    def _nearest_with_role(self, start: str, role: str, unit: str | None) -> list[str]:
        current = self.active(start)
        for _ in range(MAX_CHAIN):
            if current is None:
                return []
            if self.has_role(current, role, unit):
                return [current]
            current = self.leader_of(current)
        return []

    # -- the chain above -----------------------------------------------------------------------------

    @_kept
    def chain_above(self, login: str, ceiling: str | None = None, unit: str | None = None) -> list[str]:
        """The active leaders above ``login``, nearest first, up to and including the first holding ``ceiling``."""
        chain: list[str] = []
        seen = {login}
        current = login
        for _ in range(MAX_CHAIN):
            leader = self.leader_of(current)
            if leader is None or leader in seen:
                break
            chain.append(leader)
            seen.add(leader)
            if ceiling is not None and self.has_role(leader, ceiling, unit):
                break
            current = leader
        return chain

    def escalation_levels(self, owners: Iterable[str], unit: str | None = None) -> int:
        """How many levels of escalation lie above the owners (the longest of their chains)."""
        ceiling = self.plan.escalation.ceiling
        return max((len(self.chain_above(o, ceiling, unit)) for o in owners), default=0)

    def recipients_at(self, owners: Iterable[str], level: int, unit: str | None = None) -> list[str]:
        """Who a reminder at ``level`` goes to: the owners at 0, else each one's level-th leader; deputies
        standing in receive in their place, and nobody deactivated ever does."""
        ceiling = self.plan.escalation.ceiling
        targets: set[str] = set()
        for owner in owners:
            if level == 0:
                targets.add(owner)
                continue
            chain = self.chain_above(owner, ceiling, unit)
            if chain:
                targets.add(chain[min(level, len(chain)) - 1])
        return sorted({r for r in (self.receiver(t) for t in targets) if r is not None})

    @_kept
    def must_act_and_above(self, actor: Actor | None, case: CaseFacts) -> set[str]:
        """Who must act on an open case, and every leader above them or above the employee who opened it."""
        owners = [] if actor is None else self.responsible(actor, case)
        found = set(owners)
        for owner in [*owners, case.opener]:
            found.update(self.chain_above(owner))
        return found
