"""Which cases are stuck now: past their state's deadline (most overdue first), with failed reminders, past a
case deadline, or paused. Read through the open-deadline index in keyset pages, one case at a time.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from indsats.engine.cases.views import Person, log_view, person_in
from indsats.engine.cases.visibility import may_see, organisation
from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.org.users import require_actor
from indsats.engine.reminders.planning import is_working_time, rule_of, time_between
from indsats.engine.time.clock import as_utc
from indsats.errors import Invalid, NotAllowed
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.org.users import User
    from indsats.engine.time.durations import Duration
    from indsats.storage.repository import Repository

_BATCH = 500


class StuckReason(str, Enum):
    """Why a case is on the stuck list."""

    overdue = "overdue"
    delivery_failed = "delivery failed"
    case_deadline = "case deadline overdue"  # a deadline of the whole case (e.g. a receipt) has passed
    paused = "paused"  # waiting on someone outside; its deadlines stand still

    def text(self) -> str:
        """The reason as a person reads it, in the current language (the value is what --json gives)."""
        return _(_REASON_WORDS[self.value])


_REASON_WORDS = {
    "overdue": N_("overdue"),
    "delivery failed": N_("delivery failed"),
    "case deadline overdue": N_("case deadline overdue"),
    "paused": N_("paused"),
}


@dataclass(frozen=True, kw_only=True)
class StuckCase:
    """An open case past its state's deadline, or one whose reminders could not be delivered."""

    case_id: str
    plan_id: str
    unit: str | None
    state: str
    state_label: str
    must_act: list[Person]
    deadline: datetime | None
    working_time: bool
    overdue_by: timedelta | None  # working time for working-time deadlines; None when not overdue
    overdue_text: str | None
    escalation_level: int
    reminders_sent: int
    last_activity_at: datetime
    failed_reminders: int
    reason: StuckReason
    paused_since: datetime | None = None
    pause_reason: str | None = None
    case_deadline: str | None = None  # the overdue case deadline's label


# -- stuck -------------------------------------------------------------------------------------------


def stuck_cases(ctx: Context, *, actor: str, **filters: Any) -> list[StuckCase]:
    """``iter_stuck`` as a list (the web view, the report page, the server's answer).

    :param filters: those of ``iter_stuck``.
    """
    return list(iter_stuck(ctx, actor=actor, **filters))


def iter_stuck(
    ctx: Context,
    *,
    actor: str,
    at: datetime | None = None,
    plan_id: str | None = None,
    unit: str | None = None,
    role: str | None = None,
    overdue_by: Duration | None = None,
    limit: int | None = None,
) -> Iterator[StuckCase]:
    """Open cases past their deadline at ``at`` (most overdue first), then those with failed reminders,
    those past a case deadline, and the paused ones; one at a time, read in pages (keyset), so listing a
    million cases holds one page in memory, not the list. Checks who is asking before the first case.

    :param role: only cases where someone in this role must act.
    :param overdue_by: only cases overdue by at least this much (on the calendar, for working time).
    :param limit: at most this many cases.
    """
    if limit is not None and limit < 1:
        raise Invalid(_("limit must be at least 1, not {limit}").format(limit=limit))
    at = ctx.clock.now() if at is None else as_utc(at)
    rows = _stuck_rows(ctx, actor, at, plan_id, unit, role, overdue_by, limit)
    next(rows)  # who is asking is checked here: NotAllowed before the first case, not at it
    return cast("Iterator[StuckCase]", rows)


def _stuck_rows(
    ctx: Context,
    actor: str,
    at: datetime,
    plan_id: str | None,
    unit: str | None,
    role: str | None,
    overdue_by: Duration | None,
    limit: int | None,
) -> Iterator[StuckCase | None]:
    """``iter_stuck``'s rows in one read transaction, after a ``None`` once the actor has been checked (on the hot
    path: a first page of overdue cases needs no SQLAlchemy; what it lacks, the full repository answers)."""
    with ctx.db.unit_of_work(hot=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        _require_overseer(ctx, repo, me)
        yield None
        plans: dict[tuple[str, str], Organisation] = {}
        people: dict[tuple[str, str, str, str | None], Person] = {}  # the same few people act on most cases

        def check(case: Case, failed: int, case_deadline: tuple[str, datetime] | None = None,
                  late_only: Duration | None = overdue_by) -> StuckCase | None:
            return _stuck(ctx, repo, plans, people, me, case, at, role, late_only, failed, case_deadline)

        def others() -> Iterator[StuckCase | None]:
            """After the overdue ones: failed reminders, case deadlines passed, paused (each case once)."""
            for case, failed in repo.cases_with_failed_reminders(plan_id=plan_id, unit=unit, not_overdue_at=at):
                yield check(case, failed)
            # A duty that outlives the decision (met by an after_close trigger) is stuck on a closed case too.
            outliving = [(pf.plan.id, name) for pf in ctx.catalog.files().values()
                         for name in pf.plan.deadlines_outliving_closing()]
            for case, name, due_at in repo.overdue_case_deadlines(at=at, plan_id=plan_id, unit=unit,
                                                                  only_otherwise_fine=True, outliving=outliving):
                yield check(case, 0, (name, due_at))
            paused = repo.paused_cases(plan_id=plan_id, unit=unit)
            failed_counts = repo.failed_reminder_counts(c.id for c in paused)
            for case in paused:
                yield check(case, failed_counts.get(case.id, 0), late_only=None)

        listed = 0
        for item in itertools.chain(_overdue(ctx, repo, at, plan_id, unit, limit, check), others()):
            if item is None:
                continue
            yield item
            listed += 1
            if limit is not None and listed >= limit:
                return


def _overdue(
    ctx: Context,
    repo: Repository,
    at: datetime,
    plan_id: str | None,
    unit: str | None,
    limit: int | None,
    check: Callable[[Case, int], StuckCase | None],
) -> Iterator[StuckCase]:
    """The open cases past their state's deadline, most overdue first (ties: earliest deadline, then id).

    Pages come in deadline order, and how overdue a case is falls as its deadline rises for one way of counting
    (working time, or elapsed). A case found is held until no case still unread can be more overdue: at most a
    page when every pinned plan counts its deadlines alike, more where working and elapsed deadlines mix.
    """
    bound = _overdue_bound(ctx, repo, at)
    waiting: list[tuple[timedelta, datetime, str, StuckCase]] = []
    after: tuple[datetime, str] | None = None
    # With a limit, the first page is only as large as the limit: most cases are usually kept.
    size = _BATCH if limit is None else min(limit, _BATCH)
    while True:
        page = repo.overdue_cases(at=at, plan_id=plan_id, unit=unit, after=after, limit=size)
        failed = repo.failed_reminder_counts(c.id for c in page)
        for case in page:
            if case.paused_at is not None:
                continue  # listed as paused, at the end
            item = check(case, failed.get(case.id, 0))
            if item is not None:
                assert item.deadline is not None and item.overdue_by is not None  # found past its deadline
                heapq.heappush(waiting, (-item.overdue_by, item.deadline, item.case_id, item))
        if len(page) < size:
            break
        last = page[-1]
        assert last.deadline is not None  # an overdue case has a deadline
        after = (last.deadline, last.id)
        size = _BATCH
        most_still_unread = bound(last.deadline)
        while waiting and -waiting[0][0] >= most_still_unread:
            yield heapq.heappop(waiting)[-1]
    while waiting:
        yield heapq.heappop(waiting)[-1]


def _overdue_bound(ctx: Context, repo: Repository, at: datetime) -> Callable[[datetime], timedelta]:
    """How overdue at most, at ``at``, a case with a deadline at or after the given one can be: working time
    since it, unless a pinned plan has a state whose deadline counts elapsed time."""
    elapsed = False
    for plan_id, version in repo.pinned_versions():
        plan = ctx.catalog.pinned(repo, plan_id, version)
        rules = [rule_of(plan, name) for name, state in plan.states.items() if not state.final]
        if any(rule is not None and not rule.working for rule in rules):
            elapsed = True
            break
    if elapsed:
        return lambda deadline: at - deadline
    return lambda deadline: ctx.calendar.working_time_between(deadline, at)


def export_stuck(ctx: Context, *, actor: str, via: str, **filters: Any) -> list[StuckCase]:
    """``stuck_cases`` for an export that leaves the system (a CSV file): each listed case gets a ``viewed``
    event (command ``stuck-export``), so a list that sits in a mailbox is still in the access log.

    :param filters: those of ``stuck_cases``.
    """
    found = stuck_cases(ctx, actor=actor, **filters)
    if found:
        with ctx.db.unit_of_work(write=True) as uow:
            now = ctx.clock.now()
            for item in found:
                case = uow.repo.get_case(item.case_id)
                assert case is not None, f"case {item.case_id} vanished between the list and its log"
                log_view(uow.repo, case, actor, "stuck-export", now, via=via, os_login=ctx.os_login)
            uow.commit()
    return found


def _require_overseer(ctx: Context, repo: Repository, me: User) -> None:
    """Who may ask what is stuck: the installation's roles, leaders (someone reports to them), and whoever holds
    a role a plan says sees all its cases or ends its escalation. Each still sees only what need-to-know allows."""
    if me.installation_role is not None or repo.users_reporting_to(me.login):
        return
    for pf in ctx.catalog.files().values():
        plan = pf.plan
        overseeing = {*plan.sees_all, *([plan.escalation.ceiling] if plan.escalation.ceiling else [])}
        if organisation(repo, plan, ctx.clock).roles_of(me.login, me.unit) & overseeing:
            return
    raise NotAllowed(_("'{login}' cannot list stuck cases: that is for supervisors and leaders").format(login=me.login))


def _stuck(
    ctx: Context,
    repo: Repository,
    plans: dict[tuple[str, str], Organisation],
    people: dict[tuple[str, str, str, str | None], Person],
    me: User,
    case: Case,
    at: datetime,
    role: str | None,
    overdue_by: Duration | None,
    failed: int,
    case_deadline: tuple[str, datetime] | None = None,
) -> StuckCase | None:
    key = (case.plan_id, case.plan_version)
    if key not in plans:
        plans[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
    org = plans[key]
    plan = org.plan
    if not may_see(repo, me, case, plan, org):
        return None
    state = plan.states[case.state]
    name = None if case_deadline is None else case_deadline[0]
    spec = state.responsible
    if name is not None and name in plan.case_deadlines:
        if not case.is_open and not plan.outlives_closing(name):
            return None
        spec = plan.case_deadlines[name].responsible or spec  # whoever the case deadline's reminders go to
    must_act: list[Person] = []
    if spec is not None:
        owners = org.responsible(spec, CaseFacts.of(case))
        for login in owners:
            known = (*key, login, case.unit)
            if known not in people:
                people[known] = person_in(repo, org, login, case.unit)
            must_act.append(people[known])
    if role is not None and not (
        any(role in p.role.split(", ") for p in must_act) or (spec is not None and spec.role == role)
    ):
        return None
    deadline = case.deadline if case_deadline is None else case_deadline[1]
    working = is_working_time(plan, case.state, name)
    paused_since = case.paused_at
    late: timedelta | None = None
    if deadline is not None and deadline < at and paused_since is None:
        late = time_between(plan, case.state, deadline, at, ctx.calendar, name)
    if overdue_by is not None and (late is None or deadline is None or ctx.calendar.add(deadline, overdue_by) > at):
        return None
    if paused_since is not None:
        reason = StuckReason.paused
    elif late is not None:
        reason = StuckReason.overdue if name is None else StuckReason.case_deadline
    else:
        reason = StuckReason.delivery_failed
    sealed_reason = case.pause_reason
    return StuckCase(
        case_id=case.id,
        plan_id=case.plan_id,
        unit=case.unit,
        state=case.state,
        state_label=state.label,
        must_act=must_act,
        deadline=deadline,
        working_time=working,
        overdue_by=late,
        overdue_text=None if late is None else ctx.calendar.describe(late),
        escalation_level=case.escalation_level,
        reminders_sent=case.reminders_sent,
        last_activity_at=case.last_activity_at,
        failed_reminders=failed,
        reason=reason,
        paused_since=paused_since,
        pause_reason=None if sealed_reason is None else ctx.keys.cipher().open(sealed_reason),
        case_deadline=None if name is None else plan.case_deadlines[name].label,
    )
