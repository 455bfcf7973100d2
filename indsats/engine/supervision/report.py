"""How each state of a plan performs over a window of days: visits passed, median and 90th-percentile time in
state, share on time, breaches, escalations, paused time; and how the plan's case deadlines fared.

Added up in SQL from ``state_visits`` (time in state counted once, when each state is left: see
``indsats.engine.cases.visits``) and the day rows kept with them (``indsats.storage.visit_days``): a visit
counts when it entered and left within the window; one still in its state at the window's end is a breach when
its deadline had passed. Only the few such visits that were paused are replayed from their events (which pauses
fell inside the window moves their deadline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import EventKind
from indsats.engine.org.users import require_actor
from indsats.engine.reminders.planning import deadline_for, shifted
from indsats.engine.time.clock import LOCAL_TZ, as_utc, localize
from indsats.errors import Invalid, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

# The step report spans every case of a plan, so only those who oversee all of them may read it.
REPORT_ROLES = frozenset({"supervisor", "admin"})
_PAUSE_KINDS = (EventKind.opened.value, EventKind.advanced.value, EventKind.paused.value, EventKind.resumed.value)
Group = tuple[str, str]


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


@dataclass(kw_only=True)
class _Figures:
    """What SQL added up for one (plan, state)."""

    passed: int = 0
    on_time: int = 0
    paused_us: int = 0
    paused_visits: int = 0
    breaches_open: int = 0
    escalations: int = 0
    buckets: list[tuple[int, int]] = field(default_factory=list)  # (time bucket, passed visits), in time order
    times: tuple[timedelta | None, timedelta | None] = (None, None)  # median, p90


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
        raise Invalid(_("the report window is empty: --since {since} is not before --until {until}").format(
            since=since, until=until or _("now")))
    if plan_id is not None:
        ctx.catalog.get(plan_id)  # an unknown plan is NotFound, not an empty report
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        if me.installation_role not in REPORT_ROLES:
            raise NotAllowed(_("only a supervisor or an admin may read the step report ('{login}' is {role})").format(
                login=me.login, role=me.role))
        # The window's end is exclusive, but a report "until now" includes what happened at this instant.
        bound = end + timedelta(microseconds=1) if end == now else end
        window: dict[str, Any] = {"start": start, "bound": bound, "plan_id": plan_id}
        figures: dict[Group, _Figures] = {}
        for key, row in repo.passed_visits(**window).items():
            figures[key] = _Figures(**row)
        for key, n in repo.late_open_visits(end=end, **window).items():
            figures.setdefault(key, _Figures()).breaches_open += n
        for key in _late_paused_visits(ctx, repo, repo.paused_open_visits(**window), start, bound, end):
            figures.setdefault(key, _Figures()).breaches_open += 1
        for key, n in repo.escalation_counts(**window).items():
            figures.setdefault(key, _Figures()).escalations += n
        for (p, state), f in figures.items():
            f.times = _median_and_p90(repo, p, state, f, start, bound)
        open_now = repo.count_open_by_state(plan_id=plan_id)
        pinned_plans = [ctx.catalog.pinned(repo, p, v) for p, v in repo.pinned_versions()]
        names = {name for plan in pinned_plans for name in plan.case_deadlines}
        names |= {name for f in ctx.catalog.files().values() for name in f.plan.case_deadlines}
        deadline_counts = repo.case_deadline_counts(end=end, names=names, **window)
        pinned = {plan.id: plan for plan in pinned_plans}
    wanted = [plan_id] if plan_id is not None else sorted({p for p, _ in open_now} | {p for p, _ in figures})
    return StepReport(
        since=start, until=end,
        plans=[_plan_steps(ctx, p, pinned.get(p), figures, open_now, deadline_counts) for p in wanted],
    )


def _median_and_p90(repo: Repository, plan_id: str, state: str, f: _Figures, start: datetime | None,
                    bound: datetime) -> tuple[timedelta | None, timedelta | None]:
    """The median (the mean of the middle two of an even count) and the nearest-rank 90th percentile, exact:
    the visits at those ranks, read within their time buckets."""
    n = f.passed
    if n == 0:
        return None, None
    rank = math.ceil(0.9 * n)  # 1-based, from the shortest
    middle = [(n - 1) // 2] if n % 2 else [(n - 1) // 2, n // 2]
    *halves, p90 = [timedelta(microseconds=t) for t in repo.visit_times_at_ranks(
        plan_id, state, [*middle, rank - 1], start=start, bound=bound, buckets=f.buckets)]
    median = halves[0] if n % 2 else (halves[0] + halves[1]) / 2
    return median, p90


def _late_paused_visits(ctx: Context, repo: Repository, case_ids: list[str], start: datetime | None,
                        bound: datetime, end: datetime) -> list[Group]:
    """Of cases still in a paused visit at the window's end, those past its deadline moved on by the pauses
    that fell inside the window (one still running at the end counts up to the end)."""
    late = []
    for case_id in case_ids:
        case = repo.get_case(case_id)
        assert case is not None, f"case {case_id} has visits but no row"
        plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
        entered: tuple[str, datetime] | None = None
        pauses: list[tuple[datetime, datetime]] = []
        paused_from: datetime | None = None
        for row in repo.events_for(case_id):
            if row["kind"] not in _PAUSE_KINDS or row["at"] >= bound or (start is not None and row["at"] < start):
                continue
            if row["kind"] == EventKind.paused.value:
                paused_from = row["at"]
            elif row["kind"] == EventKind.resumed.value:
                if paused_from is not None and entered is not None:
                    pauses.append((paused_from, row["at"]))
                paused_from = None
            else:
                to_state = row["to_state"]
                pauses = []
                entered = None if to_state is None or plan.states[to_state].final else (to_state, row["at"])
        if entered is None:
            continue
        state, entry = entered
        if paused_from is not None:
            pauses.append((paused_from, end))  # still paused: its deadline stands still
        deadline = deadline_for(plan, state, entry, ctx.calendar)
        for a, b in pauses:
            if deadline is not None:
                deadline = shifted(plan, state, deadline, a, b, ctx.calendar)
        if deadline is not None and deadline < end:
            late.append((plan.id, state))
    return late


def _plan_steps(
    ctx: Context,
    plan_id: str,
    pinned: Plan | None,
    figures: dict[Group, _Figures],
    open_now: dict[Group, int],
    deadline_counts: dict[Group, dict[str, int]],
) -> PlanSteps:
    current = ctx.catalog.files().get(plan_id)
    # A plan no longer in the catalog still has its pinned versions.
    plan = current.plan if current is not None else pinned
    names = [] if plan is None else [name for name, s in plan.states.items() if not s.final]
    names += sorted({s for p, s in [*figures, *open_now] if p == plan_id and s not in names})
    stats = []
    for name in names:
        f = figures.get((plan_id, name), _Figures())
        median, p90 = f.times
        paused = timedelta(microseconds=f.paused_us)
        stats.append(
            StateStats(
                state=name,
                label=plan.states[name].label if plan is not None and name in plan.states else name,
                passed=f.passed,
                median=median,
                p90=p90,
                median_text=None if median is None else ctx.calendar.describe(median),
                p90_text=None if p90 is None else ctx.calendar.describe(p90),
                on_time=f.on_time,
                on_time_share=f.on_time / f.passed if f.passed else None,
                breaches=f.passed - f.on_time + f.breaches_open,
                escalations=f.escalations,
                open_now=open_now.get((plan_id, name), 0),
                paused=paused,
                paused_text=ctx.calendar.describe(paused) if f.paused_visits else None,
                paused_visits=f.paused_visits,
            )
        )
    deadlines = []
    for name, spec in ({} if plan is None else plan.case_deadlines).items():
        c = deadline_counts.get((plan_id, name), {"started": 0, "met": 0, "on_time": 0, "running": 0, "late_running": 0})
        deadlines.append(CaseDeadlineStats(
            name=name, label=spec.label, started=c["started"], met=c["met"], on_time=c["on_time"],
            breaches=c["met"] - c["on_time"] + c["late_running"], running=c["running"],
        ))
    return PlanSteps(plan_id=plan_id, title=plan_id if plan is None else plan.title, states=stats,
                     case_deadlines=deadlines)


def _local_midnight(day: date) -> datetime:
    return as_utc(localize(datetime.combine(day, time()), LOCAL_TZ))
