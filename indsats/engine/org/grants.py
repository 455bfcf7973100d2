"""Grants: a user holds a role of a plan (``users grant LOGIN ROLE [--plan PLAN] [--unit UNIT]``).

Visibility, responsibility, reminders and contacts follow the grants of the case's plan only: a
specialist granted ``fagspecialist`` in the radicalisation plan is nobody in the child-welfare plan.
Without ``--plan``, a grant is made in every plan on offer that declares the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.org.coverage import require_someone_left, who_can_act
from indsats.engine.org.handover import Duty, duties_lost, duties_of, listed, record_handover
from indsats.engine.org.rechain import rechain
from indsats.engine.org.users import (
    EVERY_PLAN, User, declaring_plans, load_user, record_grant, require_admin, require_other_active, require_user,
)
from indsats.engine.plans.schema import INSTALLATION_ROLES
from indsats.errors import Invalid, NotFound
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context


def _plans_for(ctx: Context, role: str, plan_id: str | None) -> list[str]:
    if role in INSTALLATION_ROLES:
        raise Invalid(_("'{role}' is the installation's own role, not granted per plan").format(role=role))
    if plan_id is None:
        found = declaring_plans(ctx, role)
        if not found:
            raise Invalid(_("no plan declares the role '{role}'").format(role=role))
        return found
    plan = ctx.catalog.get(plan_id).plan
    if role not in plan.roles:
        raise Invalid(_("plan '{plan_id}' has no role '{role}' (its roles: {value})").format(plan_id=plan_id, role=role, value=', '.join(plan.roles)))
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
        replacing = any(g["role"] == role and g["plan_id"] in plans for g in repo.grants_of(login))
        owed = repo.cases_owed()  # read once: a grant changes grants, never what the checks read of the cases
        before = duties_of(ctx, repo, login, cases=owed) if replacing else []
        served = who_can_act(ctx, repo, cases=owed)  # a grant can change who stands where too ("a leder, the opener's leader")
        for plan in plans:
            repo.delete_grants(login, role, plan)
            grant = dict(login=login, plan_id=plan, role=role, unit=unit or None, granted_at=now)
            repo.insert_grant(grant)
            record_grant(repo, at=now, actor=me.login, kind="grant_added", grant=grant, os_login=ctx.os_login)
        # Granting again replaces the grant's unit: a narrower unit must not take the person off open cases.
        lost = duties_lost(before, duties_of(ctx, repo, login, cases=owed)) if replacing else []
        if lost:
            raise Invalid(
                _("'{login}' is needed through '{role}' on {len} open case(s) outside the new unit: {listed}. Hand them over first: indsats users revoke {login} {role} --handover-to LOGIN, then grant the role again").format(login=login, role=role, len=len(lost), listed=listed(lost))
            )
        require_someone_left(ctx, repo, served, cases=owed, fix=_(
            "Hand them over first: indsats users revoke {login} {role} --handover-to LOGIN, then grant the role "
            "again").format(login=login, role=role))
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


@dataclass(frozen=True, kw_only=True)
class Revocation:
    user: User
    handed_over_to: str | None
    cases: list[Duty]  # the open cases whose duties went with the grant (to ``handed_over_to``)


def revoke_role(
    ctx: Context, *, actor: str, login: str, role: str, plan_id: str | None = None, handover_to: str | None = None
) -> Revocation:
    """Take ``role`` away in ``plan_id``, or in every plan (``NotFound`` if the user did not hold it there).

    Refused (``Invalid``, listing the cases) when open cases need ``login`` through that grant (the duties
    ``users deactivate`` checks, which the revoke would take away), unless handed over: ``handover_to`` is
    granted the role where ``login`` loses it (if not held there already), must then carry each of those
    duties, and each case gets a ``handed_over`` event.
    """
    if plan_id is not None:
        ctx.catalog.get(plan_id)  # an unknown plan is NotFound, naming the plans
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        require_user(repo, login)
        if handover_to is not None:
            require_other_active(repo, login, handover_to, as_what="successor")
        held = {g["plan_id"]: g for g in repo.grants_of(login) if g["role"] == role}
        if plan_id is not None and plan_id not in held and EVERY_PLAN in held:
            raise Invalid(
                _("'{login}' holds '{role}' in every plan declaring it; revoke it there (without --plan) and grant it again in the plans where it should stay").format(login=login, role=role)
            )
        gone = sorted(p for p in held if plan_id is None or p == plan_id)
        owed = repo.cases_owed()  # read once, as in grant_role (handovers add events, not case columns)
        before = duties_of(ctx, repo, login, cases=owed)
        served = who_can_act(ctx, repo, cases=owed)
        if not repo.delete_grants(login, role, plan_id):
            where = _(" in plan '{plan}'").format(plan=plan_id) if plan_id else ""
            raise NotFound(_("'{login}' holds no role '{role}'{where}").format(login=login, role=role, where=where))
        now = ctx.clock.now().replace(microsecond=0)
        for plan in gone:
            record_grant(repo, at=now, actor=me.login, kind="grant_revoked",
                         grant={"login": login, "plan_id": plan, "role": role}, removed=True,
                         os_login=ctx.os_login)
        lost = duties_lost(before, duties_of(ctx, repo, login, cases=owed))
        if lost and handover_to is None:
            command = f"indsats users revoke {login} {role}" + (f" --plan {plan_id}" if plan_id else "")
            raise Invalid(
                _("'{login}' is needed through '{role}' on {len} open case(s): {listed}. Hand them over: {command} --handover-to LOGIN").format(login=login, role=role, len=len(lost), listed=listed(lost), command=command)
            )
        if lost and handover_to is not None:
            theirs = {g["plan_id"] for g in repo.grants_of(handover_to) if g["role"] == role}
            for plan in gone:
                if plan not in theirs and EVERY_PLAN not in theirs:
                    grant = dict(login=handover_to, plan_id=plan, role=role, unit=held[plan]["unit"], granted_at=now)
                    repo.insert_grant(grant)
                    record_grant(repo, at=now, actor=me.login, kind="grant_added", grant=grant,
                                 os_login=ctx.os_login)
            carried = {d.case_id: set(d.duties) for d in duties_of(ctx, repo, handover_to, cases=owed)}
            left = [d for d in lost if not set(d.duties) <= carried.get(d.case_id, set())]
            if left:
                raise Invalid(
                    _("'{handover_to}' would not carry the duties '{login}' loses with '{role}' on {len} case(s): {listed} (those follow the reports-to chain or the caseworker: change them with 'indsats users edit --reports-to' or 'indsats assign' first)").format(handover_to=handover_to, login=login, role=role, len=len(left), listed=listed(left))
                )
            for duty in lost:
                record_handover(repo, duty, me.login, login, handover_to, now, reassign=False,
                                extra={"role": role}, os_login=ctx.os_login)
        # Beyond the person's own duties: a step the plan gives "a leder, the opener's leader" falls back to
        # whoever stands there even without the role, who could then not act.
        require_someone_left(ctx, repo, served, cases=owed, fix=_(
            "Change who the plan names there first ('indsats users edit LOGIN --reports-to LOGIN', "
            "'indsats assign'), or let those cases move on"))
        if lost and handover_to is not None:
            rechain(ctx, repo, actor=me.login, at=now)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return Revocation(user=user, handed_over_to=handover_to if lost else None, cases=lost)
