"""Need to know: who may see a case. Everyone else is told it does not exist.

A user sees a case if they opened it, are its caseworker, acted on it, must act on it, stand in the
reports-to chain above someone who must act on it (or above the employee who opened it), hold a role
the case's plan says sees all of its cases, or hold the installation's ``supervisor`` or ``admin``.
A deputy, while standing in, sees what the person they stand in for sees. The existence of a case is
itself sensitive, so a refusal is ``NotFound``, never "forbidden".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.i18n import _
from indsats.engine.log.events import ACTING
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.errors import NotFound

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.org.users import User
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

SEES_EVERY_PLAN = frozenset({"supervisor", "admin"})  # the installation's own roles
__all__ = ["SEES_EVERY_PLAN", "case_not_found", "may_see", "must_act_and_above", "organisation", "require_visible"]


def case_not_found(case_id: str) -> NotFound:
    return NotFound(_("no case '{case_id}' (or it is not one you may see)").format(case_id=case_id))


def require_visible(ctx: Context, repo: Repository, me: User, case_id: str) -> tuple[Case, Plan]:
    """The case and its pinned plan, if the case exists and ``me`` may see it; else ``NotFound``."""
    case = repo.get_case(case_id)
    if case is None:
        raise case_not_found(case_id)
    repo.load_chains([case.opened_by, case.assignee])
    plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
    if not may_see(repo, me, case, plan, organisation(repo, plan, ctx.clock)):
        raise case_not_found(case_id)
    return case, plan


def may_see(repo: Repository, me: User, case: Case, plan: Plan, org: Organisation) -> bool:
    if me.installation_role in SEES_EVERY_PLAN:
        return True
    people = org.represented_by(me.login)
    if case.opened_by in people or case.assignee in people:
        return True
    if any(org.roles_of(p, case.unit) & set(plan.sees_all) for p in people):
        return True
    if set(people) & must_act_and_above(org, case, plan):
        return True
    return bool(set(people) & repo.case_actors(case.id, ACTING))  # a query, so last


def must_act_and_above(org: Organisation, case: Case, plan: Plan) -> set[str]:
    """Who must act on an open case, and every leader above them or above the employee who opened it."""
    spec = plan.states[case.state].responsible if case.is_open else None
    return org.must_act_and_above(spec, CaseFacts.of(case))
