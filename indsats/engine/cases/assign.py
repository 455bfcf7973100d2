"""``indsats assign CASE LOGIN``: name the case's caseworker (the plan's ``relation: assignee``).

Until someone is assigned, the caseworker is whoever opened the case. The one assigned must hold a role
of the case's plan; those who may assign are the installation's admin and supervisor, whoever holds a
role that sees every case of the plan, and the leaders above the employee who opened it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.cases.service import Outcome
from indsats.engine.cases.visibility import SEES_EVERY_PLAN, require_visible
from indsats.engine.log import journal
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.org.people import organisation
from indsats.engine.org.users import require_actor, require_user
from indsats.errors import Conflict, Invalid, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context


def assign_case(ctx: Context, *, actor: str, case_id: str, login: str, note: str | None = None) -> Outcome:
    """Make ``login`` the caseworker of an open case; an ``assigned`` event records it."""
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        if not case.is_open:
            raise Invalid(_("case {case_id} is closed; nobody can be assigned to it").format(case_id=case_id))
        org = organisation(repo, plan, ctx.clock)
        people = org.represented_by(me.login)
        overseeing = me.installation_role in SEES_EVERY_PLAN or any(
            org.roles_of(p, case.unit) & set(plan.sees_all) for p in people
        )
        if not overseeing and not set(people) & set(org.chain_above(case.opened_by)):
            raise NotAllowed(
                _("only a leader above the opener, a role that sees every case of plan '{id}', or a supervisor may assign case {case_id}").format(id=plan.id, case_id=case_id)
            )
        target = require_user(repo, login)
        if not target["active"]:
            raise Invalid(_("'{login}' is deactivated; assign an active user").format(login=login))
        if not org.roles_of(login, case.unit):
            raise Invalid(_("'{login}' holds no role in plan '{id}' (an admin grants one: indsats users grant)").format(login=login, id=plan.id))
        if case.assignee == login:
            raise Invalid(_("'{login}' is the caseworker of {case_id} already").format(login=login, case_id=case_id))
    payload = {"assignee": login, **({"note": note} if note else {})}
    cipher = ctx.keys.cipher() if journal.needs_key(payload) else None
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        at = ctx.clock.now().replace(microsecond=0)
        head = repo.bump_version(case_id, case.version, at)
        if head is None:
            raise Conflict(_("case {case_id} was changed by someone else while you were assigning; nothing was written").format(case_id=case_id))
        draft = Draft(
            case_id=case_id, kind=EventKind.assigned, at=at, actor=me.login, from_state=case.state,
            to_state=case.state, payload=payload,
        )
        event = journal.append(repo, draft, cipher=cipher, case_changes={"assignee": login}, head=head,
                               os_login=ctx.os_login)
        uow.commit()
    return Outcome(
        case_id=case_id, trigger=None, from_state=case.state, state=case.state, is_open=True,
        deadline=case.deadline, event_seq=event.seq,
    )
