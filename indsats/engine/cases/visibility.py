"""Need to know: who may see a case. Everyone else is told it does not exist.

A user sees a case if they opened it, acted on it, must act on it, stand in the reports-to chain
above someone who must act on it (or above the employee who opened it), or hold ``supervisor``, ``fagspecialist`` or ``admin``. The
existence of a case is itself sensitive, so a refusal is ``NotFound``, never "forbidden".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.org import people
from indsats.engine.log.events import ACTING
from indsats.errors import NotFound

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.engine.org.users import User
    from indsats.storage.repository import Repository

SEES_ALL = frozenset({"supervisor", "fagspecialist", "admin"})


def case_not_found(case_id: str) -> NotFound:
    return NotFound(f"no case '{case_id}' (or it is not one you may see)")


def require_visible(ctx: Context, repo: Repository, me: User, case_id: str) -> tuple[Case, Plan]:
    """The case row and its pinned plan, if the case exists and ``me`` may see it; else ``NotFound``."""
    case = repo.get_case(case_id)
    if case is None:
        raise case_not_found(case_id)
    repo.load_chains([case.opened_by])
    plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
    if not may_see(repo, me, case, plan):
        raise case_not_found(case_id)
    return case, plan


def may_see(repo: Repository, me: User, case: Case, plan: Plan) -> bool:
    if me.role in SEES_ALL or case.opened_by == me.login:
        return True
    if me.login in must_act_and_above(repo, case, plan):
        return True
    return me.login in repo.case_actors(case.id, ACTING)  # a query, so last


def must_act_and_above(repo: Repository, case: Case, plan: Plan) -> set[str]:
    """Who must act on an open case, and every leader above them or above the employee who opened it."""
    spec = plan.states[case.state].responsible
    owners = [] if spec is None or not case.is_open else people.responsible(repo, spec, case.opened_by)
    found = set(owners)
    for owner in [*owners, case.opened_by]:
        found.update(people.chain_above(repo, owner, ceiling_role=""))
    return found
