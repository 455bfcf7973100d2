"""Who stands where: relations to a case, who must act in a state, and the reports-to chain above them.

Resolved against the registered users whenever asked (an escalation resolves "the leader of the person
who must act" when it fires, not when its row was written), and a leader who is inactive and has named
a deputy is replaced by the deputy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from indsats.engine.plans.schema import Actor, Relation
from indsats.engine.ports import Directory

MAX_CHAIN = 12  # a reports-to chain longer than this is a cycle or a data error


def leader_of(directory: Directory, login: str | None) -> str | None:
    """The login's reports-to, or None."""
    if login is None:
        return None
    user = directory.get_user(login)
    return user["reports_to"] if user else None


def relation_holders(directory: Directory, relation: Relation, opener: str, on_case: Iterable[str] = ()) -> set[str]:
    """The logins that stand in ``relation`` to a case opened by ``opener``."""
    if relation is Relation.opener:
        return {opener}
    leader = leader_of(directory, opener)
    if relation is Relation.opener_leader:
        return {leader} if leader else set()
    if relation is Relation.opener_leader_leader:
        top = leader_of(directory, leader)
        return {top} if top else set()
    return {opener, *on_case}


def matches(directory: Directory, actor: Actor, user: dict[str, Any], opener: str, on_case: Iterable[str]) -> bool:
    """Does ``user`` fit this actor spec (role and relation, where given)?"""
    if actor.role is not None and user["role"] != actor.role:
        return False
    if actor.relation is not None:
        return user["login"] in relation_holders(directory, actor.relation, opener, on_case)
    return True


def responsible(directory: Directory, actor: Actor, opener: str) -> list[str]:
    """Who must act: the relation's holder (checked against the role, if both are given), or everyone in the role."""
    if actor.relation is not None:
        holders = sorted(relation_holders(directory, actor.relation, opener))
        if actor.role is not None:
            # e.g. "the opener's leader, a leder": when a leader opened the case, their own leader is not
            # a leder; the nearest leder from the opener up the chain (the opener included) must act.
            fitting = [h for h in holders if _role(directory, h) == actor.role]
            holders = fitting or _nearest_with_role(directory, opener, actor.role) or holders
        return [_stand_in(directory, login) for login in holders]
    assert actor.role is not None
    return [u["login"] for u in directory.users_with_role(actor.role)]


def chain_above(directory: Directory, login: str, ceiling_role: str) -> list[str]:
    """The leaders above ``login``, nearest first, up to and including the first with ``ceiling_role``."""
    chain: list[str] = []
    current = login
    seen = {login}
    for _ in range(MAX_CHAIN):
        leader = leader_of(directory, current)
        if leader is None or leader in seen:
            break
        chain.append(_stand_in(directory, leader))
        seen.add(leader)
        user = directory.get_user(leader)
        if user is None or user["role"] == ceiling_role:
            break
        current = leader
    return chain


def escalation_levels(directory: Directory, owners: Iterable[str], ceiling_role: str) -> int:
    """How many levels of escalation lie above the owners (the longest of their chains)."""
    return max((len(chain_above(directory, o, ceiling_role)) for o in owners), default=0)


def recipients_at(directory: Directory, owners: Iterable[str], level: int, ceiling_role: str) -> list[str]:
    """Who a reminder at ``level`` goes to: the owners themselves at 0, else each one's level-th leader."""
    if level == 0:
        return sorted({_stand_in(directory, o) for o in owners})
    found: set[str] = set()
    for owner in owners:
        chain = chain_above(directory, owner, ceiling_role)
        if chain:
            found.add(chain[min(level, len(chain)) - 1])
    return sorted(found)


def _role(directory: Directory, login: str) -> str | None:
    user = directory.get_user(login)
    return user["role"] if user else None


def _nearest_with_role(directory: Directory, start: str, role: str) -> list[str]:
    current: str | None = start
    for _ in range(MAX_CHAIN):
        if current is None:
            return []
        if _role(directory, current) == role:
            return [current]
        current = leader_of(directory, current)
    return []


def _stand_in(directory: Directory, login: str) -> str:
    """An inactive user who named a deputy is represented by the deputy."""
    user = directory.get_user(login)
    if user is not None and not user["active"] and user.get("deputy"):
        return str(user["deputy"])
    return login
