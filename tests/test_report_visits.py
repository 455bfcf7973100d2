"""Time in state counted once (``state_visits``): what the commands write as cases enter and leave states is what
replaying the log gives, and the migration fills the rows in for existing cases (the report then reads the same).
The report gave the same figures as its earlier walk of the log in each window below (compared, then removed).

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

from indsats.engine.cases.visits import VISIT_KINDS, replay_visits
from indsats.engine.context import Context
from indsats.engine.reminders.sweep import sweep
from indsats.engine.supervision import step_report
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from tests.fakes import RecordingNotifier
from tests.worlds import ORGANISATION, play, world_context

START = datetime(2025, 3, 3, 8, 0, tzinfo=LOCAL_TZ)  # a Monday morning in Copenhagen
NOW = START + timedelta(days=24, hours=5)
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
    ctx = world_context(db, clock, ORGANISATION)
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
    play(ctx, clock, plans, swept=START, sweep_every=timedelta(days=2))  # sweeps send reminders and escalations
    clock.set(NOW)
    sweep(ctx, RecordingNotifier(), worker="test")
    return ctx


def test_the_world_has_what_the_report_must_count(world: Context) -> None:
    """Pauses, escalations, visits still late at the end: what the migration test compares means something."""
    (plan,) = step_report(world, actor="sup").plans
    states = {s.state: s for s in plan.states}
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
    for since, until in WINDOWS:
        assert step_report(again, actor="sup", since=since, until=until) == step_report(
            world, actor="sup", since=since, until=until)
    db.dispose()
