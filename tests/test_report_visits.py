"""Time in state counted once (``state_visits``): the step report adds up what entering and leaving states wrote,
and gives the figures it gave when it walked the log; the migration fills the rows in for existing cases.

The world: ~150 cases opened over two weeks, walked on with random delays, some paused and resumed (a few still
paused), a sweep that escalates; the report in several windows (all, from a day, up to a day, both).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indsats.adapters.plan_files import PlanFolders
from indsats.engine.cases.pause import pause_case, resume_case
from indsats.engine.cases.service import advance, open_case
from indsats.engine.cases.visits import VISIT_KINDS, replay_visits
from indsats.engine.context import Context
from indsats.engine.org.users import add_user, register_first_admin
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.privacy.crypto import Keyring, new_key
from indsats.engine.reminders.sweep import sweep
from indsats.engine.supervision import step_report
from indsats.engine.time.calendar import WorkingCalendar
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from tests.fakes import RecordingNotifier

PLAN = "radikalisering"
START = datetime(2025, 3, 3, 8, 0, tzinfo=LOCAL_TZ)  # a Monday morning in Copenhagen
NOW = START + timedelta(days=24, hours=5)
ORGANISATION: dict[str, tuple[str, str | None]] = {
    "sol": ("socialchef", None), "lea": ("leder", "sol"), "emil": ("medarbejder", "lea"),
    "fie": ("fagspecialist", "sol"), "sup": ("supervisor", None),
}
FIRE = {
    "suspected": ("notify_leader", "emil", {}),
    "leader_notified": ("notify_specialist", "lea", {}),
    "specialist_notified": ("assess", "fie", {"summary": "vurderet"}),
    "assessed": ("decide", "lea", {"police_report": "no", "rationale": "ingen grund", "follow_up": "outreach"}),
}
WALK = tuple(FIRE)
DELAYS = (timedelta(minutes=20), timedelta(hours=2), timedelta(hours=7), timedelta(days=1), timedelta(days=4))
WINDOWS: list[tuple[date | None, date | None]] = [
    (None, None), (date(2025, 3, 6), None), (None, date(2025, 3, 12)), (date(2025, 3, 5), date(2025, 3, 14)),
    (date(2025, 3, 10), date(2025, 3, 10)),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Context:
    tmp = tmp_path_factory.mktemp("visits")
    db = Database(f"sqlite:///{tmp}/world.db")
    upgrade(db)
    clock = FixedClock(START - timedelta(days=1))
    ctx = Context(db=db, clock=clock, catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
                  keys=Keyring.fixed(new_key()))
    with db.unit_of_work(write=True) as uow:
        register_first_admin(uow.repo, "adm", clock.now())
        uow.commit()
    for login, (role, leader) in ORGANISATION.items():
        add_user(ctx, actor="adm", login=login, name=login.title(), role=role, email=f"{login}@example.org",
                 reports_to=leader)
    rng = random.Random(15)
    # Every action as (time, case number, what); done in time order, so the clock only moves forward.
    plans: list[tuple[datetime, int, str]] = []
    for i in range(150):
        at = START + timedelta(minutes=127 * i)
        plans.append((at, i, "open"))
        for step in range(rng.randint(0, 4)):
            at += rng.choice(DELAYS)
            if rng.random() < 0.25:
                plans.append((at, i, "pause"))
                at += rng.choice(DELAYS)
                if rng.random() < 0.85:
                    plans.append((at, i, "resume"))
                    at += timedelta(minutes=5)
                else:
                    break  # stays paused
            plans.append((at, i, f"advance:{step}"))
    ids: dict[int, str] = {}
    swept = START
    for at, i, what in sorted(plans):
        while swept + timedelta(days=2) <= at:  # a sweep every two days sends reminders and escalations
            swept += timedelta(days=2)
            clock.set(swept)
            sweep(ctx, RecordingNotifier(), worker="test")
        clock.set(at)
        if what == "open":
            ids[i] = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}").case_id
        elif what == "pause":
            pause_case(ctx, actor="sup", case_id=ids[i], reason="venter")
        elif what == "resume":
            resume_case(ctx, actor="sup", case_id=ids[i])
        else:
            trigger, actor, values = FIRE[WALK[int(what.split(":")[1])]]
            advance(ctx, actor=actor, case_id=ids[i], trigger=trigger, values=dict(values))
    clock.set(NOW)
    sweep(ctx, RecordingNotifier(), worker="test")
    return ctx


@pytest.mark.parametrize(("since", "until"), WINDOWS)
def test_the_report_from_state_visits_gives_the_figures_the_log_gave(
    world: Context, since: date | None, until: date | None
) -> None:
    new = step_report(world, actor="sup", since=since, until=until)
    old = legacy_step_report(world, actor="sup", since=since, until=until)
    assert new == old
    states = {s.state: s for s in new.plans[0].states}
    if since is None and until is None:  # the world has what the comparison needs to mean something
        assert all(s.passed > 5 for s in states.values())
        assert sum(s.paused_visits for s in states.values()) > 3
        assert sum(s.escalations for s in states.values()) > 0
        assert sum(s.breaches for s in states.values()) > sum(s.passed - s.on_time for s in states.values())


def _visits(ctx: Context) -> list[tuple[Any, ...]]:
    from sqlalchemy import select

    from indsats.storage.models import state_visits

    with ctx.db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(state_visits).order_by(state_visits.c.case_id,
                                                                             state_visits.c.entry_seq))]


def test_replaying_a_cases_events_gives_the_visit_rows_its_commands_wrote(world: Context) -> None:
    from indsats.storage.models import state_visits

    written = _visits(world)
    replayed = []
    with world.db.unit_of_work() as uow:
        for case_id in uow.repo.case_ids():
            case = uow.repo.get_case(case_id)
            assert case is not None
            plan = world.catalog.pinned(uow.repo, case.plan_id, case.plan_version)
            rows = [r for r in uow.repo.events_for(case_id) if r["kind"] in VISIT_KINDS]
            replayed += [tuple(v[c.name] for c in state_visits.c) for v in replay_visits(plan, rows, world.calendar)]
    assert len(written) > 300
    assert replayed == written


def test_the_migration_fills_in_the_visits_of_existing_cases(world: Context, tmp_path: Path) -> None:
    from alembic import command

    from indsats.storage.migrate import alembic_config

    written = _visits(world)
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(str(world.db.engine.url.database))
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    db = Database(f"sqlite:///{copy}")
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0006")
    upgrade(db, calendar=world.calendar)
    again = Context(db=db, clock=world.clock, catalog=world.catalog, calendar=world.calendar, keys=world.keys)
    assert _visits(again) == written
    assert step_report(again, actor="sup") == step_report(world, actor="sup")
    db.dispose()


# -- the report as it was computed before state_visits (from the log, per event): kept only to compare ---------

import math as _math  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from indsats.engine.log.events import EventKind  # noqa: E402
from indsats.engine.org.users import require_actor  # noqa: E402
from indsats.engine.reminders.planning import deadline_for, shifted  # noqa: E402
from indsats.engine.supervision import REPORT_ROLES, CaseDeadlineStats, PlanSteps, StateStats, StepReport  # noqa: E402
from indsats.engine.supervision.report import _local_midnight  # noqa: E402
from indsats.errors import Invalid, NotAllowed  # noqa: E402

math = _math
_REPORT_KINDS = (
    EventKind.opened.value, EventKind.advanced.value, EventKind.escalated.value,
    EventKind.paused.value, EventKind.resumed.value,
)
Plan = Any
Repository = Any

@dataclass(kw_only=True)
class _Tally:
    durations: list[timedelta] = field(default_factory=list)
    on_time: int = 0
    breaches: int = 0
    escalations: int = 0
    paused: timedelta = timedelta()
    paused_visits: int = 0


def legacy_step_report(
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



