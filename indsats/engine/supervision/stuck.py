"""Which cases are stuck now: past their state's deadline (most overdue first), with failed reminders, past a
case deadline, or paused. Read through the open-deadline index in keyset pages, one case at a time.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import threading
import weakref
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from indsats.engine.cases.views import Person, log_view, person_in
from indsats.engine.cases.visibility import SEES_EVERY_PLAN, may_see, organisation
from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.org.users import require_actor
from indsats.engine.reminders.planning import is_working_time, rule_of
from indsats.engine.time.clock import as_utc, to_local
from indsats.errors import Invalid, NotAllowed
from indsats.i18n import N_, _, language

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.org.users import User
    from indsats.engine.plans.schema import Actor, Plan
    from indsats.engine.time.durations import Duration
    from indsats.storage.repositories.cases import OverdueRow
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
        lister = _Lister(ctx, repo, me, at, role, overdue_by)
        check = lister.of_case

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
                yield check(case, failed_counts.get(case.id, 0), late_only=False)

        listed = 0
        for item in itertools.chain(_overdue(ctx, repo, lister, at, plan_id, unit, limit), others()):
            if item is None:
                continue
            yield item
            listed += 1
            if limit is not None and listed >= limit:
                return


def _overdue(
    ctx: Context,
    repo: Repository,
    lister: _Lister,
    at: datetime,
    plan_id: str | None,
    unit: str | None,
    limit: int | None,
) -> Iterator[StuckCase]:
    """The open cases past their state's deadline, most overdue first (ties: earliest deadline, then id).

    Pages come in deadline order, and how overdue a case is falls as its deadline rises for one way of counting
    (working time, or elapsed). A case found is held until no case still unread can be more overdue: at most a
    page when every pinned plan counts its deadlines alike, more where working and elapsed deadlines mix.
    Whoever sees every case reads the pages as the list shows them (``overdue_rows``); anyone else reads whole
    cases, which need-to-know decides on one at a time.
    """
    bound, alike = _overdue_bound(ctx, repo, lister)
    waiting: list[tuple[timedelta, datetime, str, StuckCase]] = []
    push, pop = heapq.heappush, heapq.heappop
    # With a limit, the first page is only as large as the limit: most cases are usually kept.
    size = _BATCH if limit is None else min(limit, _BATCH)
    if lister.sees_every_case:
        # Pages of rows as the list shows them; one deadline's cases come in the order of the index, not by id,
        # so a case is let out only when it comes before every case still unread: more overdue than the last
        # one read could be, or as overdue with an earlier deadline. One row more than a page lets a page out.
        # Where every deadline counts alike, a page comes nearly in the list's order: sorted, not heaped.
        page_after: tuple[datetime, Any] | None = None
        while True:
            rows = repo.overdue_rows(at=at, plan_id=plan_id, unit=unit, after=page_after, limit=size + 1)
            if alike:
                waiting += lister.overdue(rows)
                waiting.sort()
            else:
                for entry in lister.overdue(rows):
                    push(waiting, entry)
            if len(rows) <= size:
                break
            last = rows[-1]
            page_after = (last[10], last[12])
            size = _BATCH
            less_unread, last_deadline = -bound(last[10]), last[10]
            if alike:  # the sorted entries before (how overdue the last could be, its deadline)
                out = bisect.bisect_left(waiting, (less_unread, last_deadline))
                yield from [entry[-1] for entry in waiting[:out]]
                del waiting[:out]
            else:
                while waiting and (waiting[0][0] < less_unread or (
                        waiting[0][0] == less_unread and waiting[0][1] < last_deadline)):
                    yield pop(waiting)[-1]
        if alike:
            yield from [entry[-1] for entry in waiting]
            return
    else:
        after: tuple[datetime, str] | None = None
        while True:
            page = repo.overdue_cases(at=at, plan_id=plan_id, unit=unit, after=after, limit=size)
            failed = repo.failed_reminder_counts(c.id for c in page)
            for case in page:
                if case.paused_at is not None:
                    continue  # listed as paused, at the end
                found = lister.of_case(case, failed.get(case.id, 0))
                if found is not None:
                    assert found.deadline is not None and found.overdue_by is not None  # found past its deadline
                    push(waiting, (-found.overdue_by, found.deadline, found.case_id, found))
            if len(page) < size:
                break
            deadline = page[-1].deadline
            assert deadline is not None  # an overdue case has a deadline
            after = (deadline, page[-1].id)
            size = _BATCH
            most_still_unread = bound(deadline)
            while waiting and -waiting[0][0] >= most_still_unread:
                yield pop(waiting)[-1]
    while waiting:
        yield pop(waiting)[-1]


def _overdue_bound(ctx: Context, repo: Repository, lister: _Lister) -> tuple[Callable[[datetime], timedelta], bool]:
    """How overdue at most, at the list's time, a case with a deadline at or after the given one can be: working
    time since it, unless a pinned plan has a state whose deadline counts elapsed time; and whether every pinned
    plan's deadlines count alike (all working time, or all elapsed)."""
    pinned = tuple(repo.pinned_versions())
    counting = _COUNTING.get(pinned)
    if counting is None:
        working = elapsed = False
        for plan_id, version in pinned:
            plan = ctx.catalog.pinned(repo, plan_id, version)
            for name, state in plan.states.items():
                rule = None if state.final else rule_of(plan, name)
                if rule is not None:
                    working, elapsed = working or rule.working, elapsed or not rule.working
        counting = _COUNTING[pinned] = (working, elapsed)
    working, elapsed = counting
    if elapsed:
        at = lister.at
        return (lambda deadline: at - deadline), not working
    return lister.working_time_to_at, True


# The pinned plan versions -> whether any of their open states' deadlines count working time, and elapsed time.
_COUNTING: dict[tuple[tuple[str, str], ...], tuple[bool, bool]] = {}


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


@dataclass(frozen=True, kw_only=True)
class _StateView:
    """What a listed case shows of its plan, state and case deadline (read once per plan version)."""

    plan: Plan
    label: str
    spec: Actor | None  # who must act: the state's, or the case deadline's reminders' recipients
    working: bool  # counted in working time
    case_deadline_label: str | None
    listed: dict[str, Any]  # an overdue case of this state as a ``StuckCase``'s fields, the case's own left empty


# (plan id, version, state, case deadline) -> its view: a pinned version never changes.
_VIEWS: dict[tuple[str, str, str, str | None], _StateView] = {}
# Who must act, resolved against one organisation (its ``organisation_key``, kept only while that is current),
# per (day, language, role asked for), per (plan id, version, state, case deadline, opener, unit, assignee):
# the people, or None when none of them is in the role asked for. Most of a million cases share a few of these.
_OwnersKey = tuple[str, str, str, "str | None", str, "str | None", "str | None"]
_RESOLVED: weakref.WeakKeyDictionary[object, dict[tuple[date, str, str | None], dict[_OwnersKey, list[Person] | None]]]
_RESOLVED = weakref.WeakKeyDictionary()
_MAX_RESOLVED = 100_000  # openers × units × states kept at most, per organisation and day
_resolving = threading.Lock()


class _Lister:
    """One list's rows: each plan's organisation, who must act and the people named (kept beside the organisation
    they were resolved against), each deadline's day, worked out once rather than per case."""

    def __init__(self, ctx: Context, repo: Repository, me: User, at: datetime, role: str | None,
                 overdue_by: Duration | None) -> None:
        self.ctx, self.repo, self.me, self.at = ctx, repo, me, at
        self.role, self.overdue_by = role, overdue_by
        self.sees_every_case = me.installation_role in SEES_EVERY_PLAN  # need-to-know has nothing to decide
        self.working_time_to_at = ctx.calendar.working_time_to(at)
        self.describe = _DESCRIBERS.get(language()) or _DESCRIBERS.setdefault(language(), ctx.calendar.describer())
        self.today = to_local(ctx.clock.now()).date()  # as ``organisation`` has it (deputies' dates are local)
        self._orgs: dict[tuple[str, str], Organisation] = {}
        self._people: dict[tuple[str, str, str, str | None], Person] = {}  # the same few people act on most cases
        self._owners: dict[_OwnersKey, list[Person] | None] = {}
        # (plan id, version, state, opener, unit, assignee) -> the state's view and who must act, in this list
        self._seen: dict[tuple[str, str, str, str, str | None, str | None], tuple[_StateView, list[Person] | None]] = {}
        key = repo.organisation_key()
        if key is not None:
            with _resolving:
                per_day = _RESOLVED.get(key)
                if per_day is None:
                    per_day = _RESOLVED[key] = {}
                asked = (self.today, language(), role)
                found = per_day.get(asked)
                if found is None:
                    for earlier in [k for k in per_day if k[0] != self.today]:
                        del per_day[earlier]  # resolved on another day: deputies' dates may differ today
                    found = per_day[asked] = {}
                elif len(found) > _MAX_RESOLVED:
                    found.clear()
                self._owners = found

    def overdue(self, rows: list[OverdueRow]) -> list[tuple[timedelta, datetime, str, StuckCase]]:
        """The unpaused open cases past their state's deadline (as ``overdue_rows`` reads them) that pass the
        filters, for one who sees every case, each after its place in the list (how much overdue, negated; the
        deadline; the id). The list's hot loop: what repeats is looked up, not worked out."""
        found: list[tuple[timedelta, datetime, str, StuckCase]] = []
        append, seen, look_up = found.append, self._seen, self._overdue_view
        at, overdue_by, add = self.at, self.overdue_by, self.ctx.calendar.add
        since, describe, new, set_values = self.working_time_to_at, self.describe, _new, object.__setattr__
        for case_id, plan_id, version, state, opener, unit, assignee, level, sent, failed, deadline, activity, _place in rows:
            view, owners = seen.get((plan_id, version, state, opener, unit, assignee)) or look_up(
                plan_id, version, state, opener, unit, assignee)
            if owners is None or (overdue_by is not None and add(deadline, overdue_by) > at):
                continue
            late = since(deadline) if view.working else at - deadline
            values = view.listed.copy()  # the fields in their order, the state's already filled in
            values["case_id"] = case_id
            values["unit"] = unit
            values["must_act"] = [*owners]
            values["deadline"] = deadline
            values["overdue_by"] = late
            values["overdue_text"] = describe(late)
            values["escalation_level"] = level
            values["reminders_sent"] = sent
            values["last_activity_at"] = activity
            values["failed_reminders"] = failed
            item = new(StuckCase)
            set_values(item, "__dict__", values)
            append((-late, deadline, case_id, item))
        return found

    def of_case(self, case: Case, failed: int, case_deadline: tuple[str, datetime] | None = None,
                late_only: bool = True) -> StuckCase | None:
        """The case as the list shows it, if ``me`` may see it and it passes the filters (``late_only``: the
        ``overdue_by`` filter applies)."""
        name = None if case_deadline is None else case_deadline[0]
        view = _VIEWS.get((case.plan_id, case.plan_version, case.state, name)) or self._view(
            case.plan_id, case.plan_version, case.state, name)
        plan = view.plan
        if not self.sees_every_case and not may_see(self.repo, self.me, case, plan,
                                                    self._org(case.plan_id, case.plan_version)):
            return None
        if name is not None and name in plan.case_deadlines and not case.is_open and not plan.outlives_closing(name):
            return None
        key = (case.plan_id, case.plan_version, case.state, name, case.opened_by, case.unit, case.assignee)
        owners = self._owners.get(key, _UNKNOWN)
        if owners is _UNKNOWN:
            owners = self._must_act(view, key)
        if owners is None:
            return None
        at = self.at
        deadline = case.deadline if case_deadline is None else case_deadline[1]
        paused_since = case.paused_at
        late: timedelta | None = None
        if deadline is not None and deadline < at and paused_since is None:
            late = self.working_time_to_at(deadline) if view.working else at - deadline
        overdue_by = self.overdue_by if late_only else None
        if overdue_by is not None and (late is None or deadline is None or self.ctx.calendar.add(deadline, overdue_by) > at):
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
            state_label=view.label,
            must_act=list(owners),
            deadline=deadline,
            working_time=view.working,
            overdue_by=late,
            overdue_text=None if late is None else self.describe(late),
            escalation_level=case.escalation_level,
            reminders_sent=case.reminders_sent,
            last_activity_at=case.last_activity_at,
            failed_reminders=failed,
            reason=reason,
            paused_since=paused_since,
            pause_reason=None if sealed_reason is None else self.ctx.keys.cipher().open(sealed_reason),
            case_deadline=view.case_deadline_label,
        )

    def _overdue_view(self, plan_id: str, version: str, state: str, opener: str, unit: str | None,
                      assignee: str | None) -> tuple[_StateView, list[Person] | None]:
        """``overdue``'s look-up of a row's state and who must act, for this list."""
        view = _VIEWS.get((plan_id, version, state, None)) or self._view(plan_id, version, state, None)
        key = (plan_id, version, state, None, opener, unit, assignee)
        owners = self._owners.get(key, _UNKNOWN)
        if owners is _UNKNOWN:
            owners = self._must_act(view, key)
        found = self._seen[(plan_id, version, state, opener, unit, assignee)] = (view, owners)
        return found

    def _org(self, plan_id: str, version: str) -> Organisation:
        org = self._orgs.get((plan_id, version))
        if org is None:
            org = self._orgs[(plan_id, version)] = Organisation(
                self.repo, self.ctx.catalog.pinned(self.repo, plan_id, version), self.today)
        return org

    def _view(self, plan_id: str, version: str, state_name: str, name: str | None) -> _StateView:
        plan = self._org(plan_id, version).plan
        state = plan.states[state_name]
        spec = state.responsible
        if name is not None and name in plan.case_deadlines:
            spec = plan.case_deadlines[name].responsible or spec  # whoever the case deadline's reminders go to
        working = is_working_time(plan, state_name, name)
        listed = dict.fromkeys(f.name for f in fields(StuckCase))
        listed.update(plan_id=plan_id, state=state_name, state_label=state.label, working_time=working,
                      reason=StuckReason.overdue)
        view = _VIEWS[(plan_id, version, state_name, name)] = _StateView(
            plan=plan, label=state.label, spec=spec, working=working,
            case_deadline_label=None if name is None else plan.case_deadlines[name].label, listed=listed,
        )
        return view

    def _must_act(self, view: _StateView, key: _OwnersKey) -> list[Person] | None:
        """Who must act on a case of this plan version, state, case deadline, opener, unit and caseworker (None:
        nobody in the role asked for)."""
        plan_id, version, _state, _name, opener, unit, assignee = key
        spec, role = view.spec, self.role
        must_act: list[Person] = []
        if spec is not None:
            org = self._org(plan_id, version)
            for login in org.responsible(spec, CaseFacts(opener=opener, unit=unit, assignee=assignee)):
                known = (plan_id, version, login, unit)
                person = self._people.get(known)
                if person is None:
                    person = self._people[known] = person_in(self.repo, org, login, unit)
                must_act.append(person)
        fits = role is None or any(role in p.role.split(", ") for p in must_act) or (
            spec is not None and spec.role == role)
        found = self._owners[key] = must_act if fits else None
        return found


_DESCRIBERS: dict[str, Callable[[timedelta], str]] = {}  # per language: ``WorkingCalendar.describe``, its words read once
_UNKNOWN: Any = object()  # not looked up yet
_new = object.__new__  # a listed row is built without the frozen dataclass's field-by-field __init__:
# its fields set at once (``_StateView.listed``), each in its place
