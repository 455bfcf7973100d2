"""Deactivating a user, and handing their duties over: nobody leaves with open cases stuck behind them.

``users deactivate LOGIN`` is refused (``Invalid``, listing the cases) while the person must act on, is
the caseworker of, opened, or is the leader named by the plan on an open case. With ``--handover-to``,
each such case gets a ``handed_over`` event, the person's reports report to the successor, cases they
were caseworker of are the successor's, and every duty still resolved through them (reminders resolve
their recipients when they fire, so the pending ones included) falls to the successor; the escalations
still to come are re-planned to the depth of the successor's chain (``rechain``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indsats.engine.log import journal
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.org.coverage import require_someone_left, who_can_act
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.org.rechain import rechain
from indsats.engine.org.users import User, load_user, record_user, require_admin, require_other_active, require_user
from indsats.engine.plans.schema import Relation
from indsats.errors import Conflict, Invalid
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.reminders.reminder import RemindedCase
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

_LEADERS = (Relation.opener_leader, Relation.opener_leader_leader)
# Why a person is needed on a case: kept in these words (the handover's event records them), shown translated.
MUST_ACT, OPENED_IT, CASEWORKER = N_("must act"), N_("opened it"), N_("caseworker")
LEADER_DUTIES = {Relation.opener_leader: N_("the opener leader"),
                 Relation.opener_leader_leader: N_("the opener leader leader")}


@dataclass(frozen=True, kw_only=True)
class Duty:
    """Why a person is needed on an open case."""

    case_id: str
    duties: tuple[str, ...]  # "must act", "caseworker", "opened it", "the opener leader", … (English: ``_()`` to show)


@dataclass(frozen=True, kw_only=True)
class Deactivation:
    user: User
    handed_over_to: str | None
    cases: list[Duty]
    reports_moved: list[str]


def duties_of(ctx: Context, repo: Repository, login: str, *, cases: list[RemindedCase] | None = None) -> list[Duty]:
    """The open cases that need ``login``, and why (a closed case too, while a duty that outlives its
    closing, a case deadline met by an ``after_close`` trigger, still runs on it). ``cases``: as ``who_can_act``
    takes it."""
    found = []
    orgs: dict[tuple[str, str], Organisation] = {}
    running: dict[str, list[str]] = defaultdict(list)
    for case_id, name in repo.unmet_case_deadlines():
        running[case_id].append(name)
    # Cases alike in all that _why reads of them (plan version, state, running deadlines, opener, unit,
    # caseworker) need login for the same reasons: worked out once (thousands of open cases are a few hundred such).
    seen: dict[tuple[object, ...], tuple[str, ...]] = {}
    for case in repo.cases_owed() if cases is None else cases:
        deadlines = running.get(case.id, [])
        alike = (case.plan_id, case.plan_version, case.state, case.is_open, tuple(sorted(deadlines)), case.opened_by,
                 case.unit, case.assignee)
        why = seen.get(alike)
        if why is None:
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            why = seen[alike] = tuple(_why(orgs[key], case, login, deadlines))
        if why:
            found.append(Duty(case_id=case.id, duties=why))
    return found


def _why(org: Organisation, case: Case | RemindedCase, login: str, deadlines: list[str]) -> list[str]:
    plan = org.plan
    facts = CaseFacts.of(case)
    why = []
    specs = [plan.states[case.state].responsible] if case.is_open else []
    for name in deadlines:
        if name in plan.case_deadlines and (case.is_open or plan.outlives_closing(name)):
            specs.append(plan.case_deadlines[name].responsible)
    if any(spec is not None and login in org.responsible(spec, facts) for spec in specs):
        why.append(MUST_ACT)
    if not case.is_open:
        return why  # a closed case needs only whoever must still act on it
    if case.opened_by == login:
        why.append(OPENED_IT)
    if case.assignee == login:
        why.append(CASEWORKER)
    for relation in _leader_relations(plan):
        if login in org.relation_holders(relation, facts):
            why.append(LEADER_DUTIES.get(relation, f"the {relation.value.replace('_', ' ')}"))
    return why


def _leader_relations(plan: Plan) -> list[Relation]:
    used = {s.responsible.relation for s in plan.states.values() if s.responsible is not None}
    used |= {a.relation for t in plan.transitions for a in t.allowed}
    return [r for r in _LEADERS if r in used]


def deactivate_user(ctx: Context, *, actor: str, login: str, handover_to: str | None = None) -> Deactivation:
    """Deactivate ``login``: refused while open cases need them, unless handed over to ``handover_to``."""
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        row = require_user(repo, login)
        if login == me.login:
            raise Invalid(_("you cannot deactivate yourself"))
        if not row["active"]:
            raise Invalid(_("user '{login}' is deactivated already").format(login=login))
        if handover_to is not None:
            require_other_active(repo, login, handover_to, as_what="successor")
        owed = repo.cases_owed()  # read once: deactivating changes users, never what the checks read of the cases
        duties = duties_of(ctx, repo, login, cases=owed)
        if duties and handover_to is None:
            raise Invalid(
                _("'{login}' is needed on {len} open case(s): {listed}. Hand them over: indsats users deactivate {login} --handover-to LOGIN").format(login=login, len=len(duties), listed=listed(duties))
            )
        before = who_can_act(ctx, repo, cases=owed)
        at = ctx.clock.now().replace(microsecond=0)
        moved = []
        if handover_to is not None:
            for report in repo.users_reporting_to(login):
                if report["login"] != handover_to:
                    repo.update_user(report["login"], {"reports_to": handover_to})
                    record_user(repo, at=at, actor=me.login, kind="handover", login=report["login"],
                                values={"reports_to": handover_to}, os_login=ctx.os_login)
                    moved.append(report["login"])
        values = {"active": False, "handed_over_to": handover_to}
        repo.update_user(login, values)
        record_user(repo, at=at, actor=me.login, kind="user_deactivated", login=login, values=values,
                    os_login=ctx.os_login)
        if handover_to is not None:
            # The successor must be able to do what the leaver had to: a duty held through a role alone
            # (every fagspecialist must act) falls to the successor only if they hold that role for the case.
            carried = {d.case_id for d in duties_of(ctx, repo, handover_to, cases=owed) if MUST_ACT in d.duties}
            left = [Duty(case_id=d.case_id, duties=(MUST_ACT,)) for d in duties
                    if MUST_ACT in d.duties and d.case_id not in carried]
            if left:
                raise Invalid(
                    _("'{handover_to}' would not have to act on {len} case(s) where '{login}' must act: {listed} (grant '{handover_to}' the role those steps need first: indsats users grant {handover_to} ROLE)").format(handover_to=handover_to, login=login, len=len(left), listed=listed(left))
                )
        # Beyond the person's own duties: nobody else's case may be left with nobody to act (a chain through them).
        require_someone_left(ctx, repo, before, cases=owed, fix=(
            _("Hand them over: indsats users deactivate {login} --handover-to LOGIN").format(login=login)
            if handover_to is None else
            _("Choose a successor who can act there, or grant '{handover_to}' the role those steps need first")
            .format(handover_to=handover_to)))
        for duty in duties:
            record_handover(repo, duty, me.login, login, handover_to, at,  # type: ignore[arg-type]
                            os_login=ctx.os_login)
        rechain(ctx, repo, actor=me.login, at=at)  # the escalations still to come climb the successor's chain, as deep as it goes
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return Deactivation(user=user, handed_over_to=handover_to, cases=duties, reports_moved=moved)


def listed(duties: list[Duty], most: int = 20) -> str:
    """The cases and why, for a refusal: "RAD-2026-0001 (must act); … and N more"."""
    shown = "; ".join("{case_id} ({words})".format(case_id=d.case_id, words=", ".join(map(_, d.duties)))
                      for d in duties[:most])
    return shown + (_(" and {count} more").format(count=len(duties) - most) if len(duties) > most else "")


def duties_lost(before: list[Duty], after: list[Duty]) -> list[Duty]:
    """The duties in ``before`` that ``after`` (the same person's, once something changed) no longer has."""
    still = {d.case_id: set(d.duties) for d in after}
    lost = []
    for duty in before:
        gone = tuple(w for w in duty.duties if w not in still.get(duty.case_id, set()))
        if gone:
            lost.append(Duty(case_id=duty.case_id, duties=gone))
    return lost


def record_handover(
    repo: Repository, duty: Duty, actor: str, login: str, successor: str, at: Any, *, reassign: bool = True,
    extra: dict[str, Any] | None = None, os_login: str | None = None,
) -> None:
    """A ``handed_over`` event on the duty's case; with ``reassign``, the successor becomes its caseworker if
    ``login`` was."""
    case = repo.get_case(duty.case_id)
    assert case is not None
    head = repo.bump_version(duty.case_id, case.version, at)
    if head is None:
        raise Conflict(_("case {case_id} was changed by someone else during the handover; nothing was written").format(case_id=duty.case_id))
    changes = {"assignee": successor} if reassign and case.assignee == login else {}
    draft = Draft(
        case_id=duty.case_id, kind=EventKind.handed_over, at=at, actor=actor, from_state=case.state,
        to_state=case.state, payload={"from": login, "to": successor, "duties": list(duty.duties), **(extra or {})},
    )
    journal.append(repo, draft, case_changes=changes, head=head, os_login=os_login)
