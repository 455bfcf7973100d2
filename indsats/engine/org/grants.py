"""Grants: a user holds a role of a plan (``users grant LOGIN ROLE [--plan PLAN] [--unit UNIT]``).

Visibility, responsibility, reminders and contacts follow the grants of the case's plan only: a
specialist granted ``fagspecialist`` in the radicalisation plan is nobody in the child-welfare plan.
Without ``--plan``, a grant is made in every plan on offer that declares the role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.org.users import (
    EVERY_PLAN, User, declaring_plans, load_user, record_grant, require_admin, require_user,
)
from indsats.engine.plans.schema import INSTALLATION_ROLES
from indsats.errors import Invalid, NotFound

if TYPE_CHECKING:
    from indsats.engine.context import Context


def _plans_for(ctx: Context, role: str, plan_id: str | None) -> list[str]:
    if role in INSTALLATION_ROLES:
        raise Invalid(f"'{role}' is the installation's own role, not granted per plan")
    if plan_id is None:
        found = declaring_plans(ctx, role)
        if not found:
            raise Invalid(f"no plan declares the role '{role}'")
        return found
    plan = ctx.catalog.get(plan_id).plan
    if role not in plan.roles:
        raise Invalid(f"plan '{plan_id}' has no role '{role}' (its roles: {', '.join(plan.roles)})")
    return [plan_id]


def grant_role(
    ctx: Context, *, actor: str, login: str, role: str, plan_id: str | None = None, unit: str | None = None
) -> User:
    """Grant ``role`` in ``plan_id`` (else in every plan declaring it), optionally only in ``unit``.

    Granting again replaces the unit of an existing grant.
    """
    plans = _plans_for(ctx, role, plan_id)
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        require_user(repo, login)
        now = ctx.clock.now()
        for plan in plans:
            repo.delete_grants(login, role, plan)
            grant = dict(login=login, plan_id=plan, role=role, unit=unit or None, granted_at=now)
            repo.insert_grant(grant)
            record_grant(repo, at=now, actor=me.login, kind="grant_added", grant=grant)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


def revoke_role(ctx: Context, *, actor: str, login: str, role: str, plan_id: str | None = None) -> User:
    """Take ``role`` away in ``plan_id``, or in every plan (``NotFound`` if the user did not hold it there)."""
    if plan_id is not None:
        ctx.catalog.get(plan_id)  # an unknown plan is NotFound, naming the plans
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        require_user(repo, login)
        held = {g["plan_id"] for g in repo.grants_of(login) if g["role"] == role}
        if plan_id is not None and plan_id not in held and EVERY_PLAN in held:
            raise Invalid(
                f"'{login}' holds '{role}' in every plan declaring it; revoke it there (without --plan) "
                f"and grant it again in the plans where it should stay"
            )
        gone = sorted(p for p in held if plan_id is None or p == plan_id)
        if not repo.delete_grants(login, role, plan_id):
            where = f" in plan '{plan_id}'" if plan_id else ""
            raise NotFound(f"'{login}' holds no role '{role}'{where}")
        for plan in gone:
            record_grant(repo, at=ctx.clock.now(), actor=me.login, kind="grant_revoked",
                         grant={"login": login, "plan_id": plan, "role": role}, removed=True)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user
