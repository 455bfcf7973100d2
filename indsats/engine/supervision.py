"""The supervisor's view: which cases are stuck now, and how each state of a plan performs over time.

``stuck_cases`` reads the projection through the open-deadline index (most overdue first) plus the
open cases whose reminders could not be delivered. ``step_report`` is computed from the event log:
a visit to a state runs from the ``opened``/``advanced`` event entering it to the ``advanced`` event
leaving it, and its deadline is the pinned plan's rule counted from the entry.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.time.clock import LOCAL_TZ, as_utc, localize
from indsats.engine.log.events import EventKind
from indsats.engine.reminders.planning import deadline_for, is_working_time, rule_of, shifted, time_between
from indsats.engine.org.users import require_actor
from indsats.engine.cases.views import Person, log_view, person_in
from indsats.engine.cases.visibility import may_see, organisation
from indsats.errors import Invalid, NotAllowed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.time.durations import Duration
    from indsats.engine.plans.schema import Plan
    from indsats.engine.org.users import User
    from indsats.storage.repository import Repository

# The step report spans every case of a plan, so only those who oversee all of them may read it.
REPORT_ROLES = frozenset({"supervisor", "admin"})
_BATCH = 500
_REPORT_KINDS = (
    EventKind.opened.value, EventKind.advanced.value, EventKind.escalated.value,
    EventKind.paused.value, EventKind.resumed.value,
)


class StuckReason(str, Enum):
    """Why a case is on the stuck list."""

    overdue = "overdue"
    delivery_failed = "delivery failed"
    case_deadline = "case deadline overdue"  # a deadline of the whole case (e.g. a receipt) has passed
    paused = "paused"  # waiting on someone outside; its deadlines stand still


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


@dataclass(frozen=True, kw_only=True)
class StateStats:
    """How one state of a plan performed within the report's window."""

    state: str
    label: str
    passed: int  # visits entered and left within the window
    median: timedelta | None  # working time in state
    p90: timedelta | None  # nearest-rank 90th percentile
    median_text: str | None
    p90_text: str | None
    on_time: int  # passed visits that left by their deadline
    on_time_share: float | None
    breaches: int  # left after the deadline, or still in the state past it at the window's end
    escalations: int
    open_now: int
    paused: timedelta = timedelta()  # working time the passed visits spent paused: not counted in median/p90
    paused_text: str | None = None
    paused_visits: int = 0


@dataclass(frozen=True, kw_only=True)
class CaseDeadlineStats:
    """How one case deadline of a plan fared for the cases that started it within the report's window."""

    name: str
    label: str
    started: int
    met: int
    on_time: int  # met by the (pause-shifted) deadline
    breaches: int  # met late, or still running past the deadline
    running: int


@dataclass(frozen=True, kw_only=True)
class PlanSteps:
    plan_id: str
    title: str
    states: list[StateStats] = field(default_factory=list)
    case_deadlines: list[CaseDeadlineStats] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class StepReport:
    """Per plan, per state: the figures of ``indsats report``."""

    since: datetime | None
    until: datetime
    plans: list[PlanSteps]


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
        raise Invalid(f"limit must be at least 1, not {limit}")
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
    """``iter_stuck``'s rows in one read transaction, after a ``None`` once the actor has been checked."""
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        _require_overseer(ctx, repo, me)
        yield None
        plans: dict[tuple[str, str], Organisation] = {}

        def check(case: Case, failed: int, case_deadline: tuple[str, datetime] | None = None,
                  late_only: Duration | None = overdue_by) -> StuckCase | None:
            return _stuck(ctx, repo, plans, me, case, at, role, late_only, failed, case_deadline)

        def others() -> Iterator[StuckCase | None]:
            """After the overdue ones: failed reminders, case deadlines passed, paused (each case once)."""
            for case, failed in repo.cases_with_failed_reminders(plan_id=plan_id, unit=unit, not_overdue_at=at):
                yield check(case, failed)
            for case, name, due_at in repo.overdue_case_deadlines(at=at, plan_id=plan_id, unit=unit,
                                                                  only_otherwise_fine=True):
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
    raise NotAllowed(f"'{me.login}' cannot list stuck cases: that is for supervisors and leaders")


def _stuck(
    ctx: Context,
    repo: Repository,
    plans: dict[tuple[str, str], Organisation],
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
    must_act: list[Person] = []
    if state.responsible is not None:
        owners = org.responsible(state.responsible, CaseFacts.of(case))
        must_act = [person_in(repo, org, login, case.unit) for login in owners]
    if role is not None and not (
        any(role in p.role.split(", ") for p in must_act) or (state.responsible is not None and state.responsible.role == role)
    ):
        return None
    name = None if case_deadline is None else case_deadline[0]
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


# -- step report -------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class _Tally:
    durations: list[timedelta] = field(default_factory=list)
    on_time: int = 0
    breaches: int = 0
    escalations: int = 0
    paused: timedelta = timedelta()
    paused_visits: int = 0


def step_report(
    ctx: Context,
    *,
    actor: str,
    plan_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> StepReport:
    """Per state: visits passed, median and 90th-percentile working time in it, share on time,
    breaches and escalations within ``since``..``until`` (whole local days, both included; the
    default end is now), plus the open cases per state now.
    """
    now = ctx.clock.now()
    start = None if since is None else _local_midnight(since)
    end = now if until is None else min(now, _local_midnight(until + timedelta(days=1)))
    if start is not None and start >= end:
        raise Invalid(f"the report window is empty: --since {since} is not before --until {until or 'now'}")
    if plan_id is not None:
        ctx.catalog.get(plan_id)  # an unknown plan is NotFound, not an empty report
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        if me.installation_role not in REPORT_ROLES:
            raise NotAllowed(f"only a supervisor or an admin may read the step report ('{me.login}' is {me.role})")
        plans: dict[tuple[str, str], Plan] = {}
        tallies: dict[tuple[str, str], _Tally] = {}
        case_events: list[dict[str, Any]] = []
        # The window's end is exclusive, but a report "until now" includes what happened at this instant.
        bound = end + timedelta(microseconds=1) if end == now else end
        for row in repo.state_events(kinds=_REPORT_KINDS, since=start, until=bound, plan_id=plan_id):
            if case_events and case_events[0]["case_id"] != row["case_id"]:
                _tally_case(ctx, repo, plans, tallies, case_events, end)
                case_events = []
            case_events.append(row)
        if case_events:
            _tally_case(ctx, repo, plans, tallies, case_events, end)
        open_now = repo.count_open_by_state(plan_id=plan_id)
        started_deadlines = [d for d in repo.case_deadlines_of_plan(plan_id=plan_id)
                             if (start is None or d["started_at"] >= start) and d["started_at"] < bound]
    wanted = [plan_id] if plan_id is not None else sorted({p for p, _ in open_now} | {p for p, _ in tallies})
    return StepReport(
        since=start, until=end,
        plans=[_plan_steps(ctx, p, plans, tallies, open_now, started_deadlines, end) for p in wanted]
    )


def _tally_case(
    ctx: Context,
    repo: Repository,
    plans: dict[tuple[str, str], Plan],
    tallies: dict[tuple[str, str], _Tally],
    rows: list[dict[str, Any]],
    end: datetime,
) -> None:
    """Walk one case's events in seq order: pair each entry into a state with the move out of it."""
    key = (rows[0]["plan_id"], rows[0]["plan_version"])
    if key not in plans:
        plans[key] = ctx.catalog.pinned(repo, *key)
    plan = plans[key]
    entered: tuple[str, datetime] | None = None  # only entries within the window count
    pauses: list[tuple[datetime, datetime]] = []  # of the current visit
    paused_from: datetime | None = None
    for row in rows:
        if row["kind"] == EventKind.escalated.value:
            tallies.setdefault((plan.id, row["from_state"]), _Tally()).escalations += 1
            continue
        if row["kind"] == EventKind.paused.value:
            paused_from = row["at"]
            continue
        if row["kind"] == EventKind.resumed.value:
            if paused_from is not None and entered is not None:
                pauses.append((paused_from, row["at"]))
            paused_from = None
            continue
        if row["kind"] == EventKind.advanced.value and entered is not None and entered[0] == row["from_state"]:
            state, entry = entered
            tally = tallies.setdefault((plan.id, state), _Tally())
            paused = sum((ctx.calendar.working_time_between(a, b) for a, b in pauses), timedelta())
            tally.durations.append(ctx.calendar.working_time_between(entry, row["at"]) - paused)
            tally.paused += paused
            tally.paused_visits += bool(pauses)
            deadline = _shifted_deadline(ctx, plan, state, entry, pauses)
            if deadline is None or row["at"] <= deadline:
                tally.on_time += 1
            else:
                tally.breaches += 1
        to_state = row["to_state"]
        if row["kind"] in (EventKind.opened.value, EventKind.advanced.value):
            pauses = []
        entered = None if to_state is None or plan.states[to_state].final else (to_state, row["at"])
    if entered is not None:
        state, entry = entered
        if paused_from is not None:
            pauses.append((paused_from, end))  # still paused: its deadline stands still
        deadline = _shifted_deadline(ctx, plan, state, entry, pauses)
        if deadline is not None and deadline < end:
            tallies.setdefault((plan.id, state), _Tally()).breaches += 1


def _shifted_deadline(
    ctx: Context, plan: Plan, state: str, entry: datetime, pauses: list[tuple[datetime, datetime]]
) -> datetime | None:
    """The state's deadline counted from ``entry``, moved on by each pause of the visit."""
    deadline = deadline_for(plan, state, entry, ctx.calendar)
    for paused_from, paused_until in pauses:
        if deadline is not None:
            deadline = shifted(plan, state, deadline, paused_from, paused_until, ctx.calendar)
    return deadline


def _deadline_stats(plan: Plan, rows: list[dict[str, Any]], end: datetime) -> list[CaseDeadlineStats]:
    found = []
    for name, spec in plan.case_deadlines.items():
        mine = [r for r in rows if r["name"] == name]
        met = [r for r in mine if r["met_at"] is not None]
        on_time = sum(r["met_at"] <= r["due_at"] for r in met)
        running = [r for r in mine if r["met_at"] is None and r["is_open"]]
        late_running = sum(r["due_at"] < end for r in running)
        found.append(CaseDeadlineStats(
            name=name, label=spec.label, started=len(mine), met=len(met), on_time=on_time,
            breaches=len(met) - on_time + late_running, running=len(running),
        ))
    return found


def _median(ordered: list[timedelta]) -> timedelta:
    """The median of sorted durations (``statistics.median`` is typed for numbers only)."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _plan_steps(
    ctx: Context,
    plan_id: str,
    plans: dict[tuple[str, str], Plan],
    tallies: dict[tuple[str, str], _Tally],
    open_now: dict[tuple[str, str], int],
    started_deadlines: list[dict[str, Any]],
    end: datetime,
) -> PlanSteps:
    current = ctx.catalog.files().get(plan_id)
    # A plan no longer in the catalog still has its pinned versions.
    plan = current.plan if current is not None else next((p for (i, _), p in plans.items() if i == plan_id), None)
    names = [] if plan is None else [name for name, s in plan.states.items() if not s.final]
    names += sorted({s for p, s in [*tallies, *open_now] if p == plan_id and s not in names})
    stats = []
    for name in names:
        tally = tallies.get((plan_id, name), _Tally())
        durations = sorted(tally.durations)
        median = _median(durations) if durations else None
        p90 = durations[math.ceil(0.9 * len(durations)) - 1] if durations else None
        stats.append(
            StateStats(
                state=name,
                label=plan.states[name].label if plan is not None and name in plan.states else name,
                passed=len(durations),
                median=median,
                p90=p90,
                median_text=None if median is None else ctx.calendar.describe(median),
                p90_text=None if p90 is None else ctx.calendar.describe(p90),
                on_time=tally.on_time,
                on_time_share=tally.on_time / len(durations) if durations else None,
                breaches=tally.breaches,
                escalations=tally.escalations,
                open_now=open_now.get((plan_id, name), 0),
                paused=tally.paused,
                paused_text=ctx.calendar.describe(tally.paused) if tally.paused_visits else None,
                paused_visits=tally.paused_visits,
            )
        )
    deadlines = [] if plan is None else _deadline_stats(plan, [d for d in started_deadlines if d["plan_id"] == plan_id], end)
    return PlanSteps(plan_id=plan_id, title=plan_id if plan is None else plan.title, states=stats,
                     case_deadlines=deadlines)


def _local_midnight(day: date) -> datetime:
    return as_utc(localize(datetime.combine(day, time()), LOCAL_TZ))
