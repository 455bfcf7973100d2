"""The stuck list's order where cases share a deadline and were stored in another order than their ids: opened in
January 2027 first, then in December 2026 (so a later row has the smaller id), and moved on the same morning, so
they share the next working day's closing. Read in pages of any size, by a supervisor and by a leader, the list
keeps its one order: most overdue first, then the earlier deadline, then the id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from indsats.engine.cases.service import advance, open_case
from indsats.engine.context import Context
from indsats.engine.supervision import StuckReason, stuck_cases
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.engine.time.durations import parse_duration
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from tests.conftest import add_users, fresh_postgresql_database
from tests.worlds import world_context

PLAN = "radikalisering"
LATER_YEAR = datetime(2027, 1, 4, 9, 0, tzinfo=LOCAL_TZ)  # a Monday
EARLIER_YEAR = datetime(2026, 12, 28, 9, 0, tzinfo=LOCAL_TZ)  # the Monday before
MOVED = datetime(2027, 1, 5, 10, 0, tzinfo=LOCAL_TZ)  # every case moved on this morning: one deadline
NOW = datetime(2027, 1, 11, 11, 0, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Context, dict[str, datetime]]]:
    if request.param == "sqlite":
        tmp: Path = tmp_path_factory.mktemp("stuck-order")
        db = Database(f"sqlite:///{tmp}/order.db")
        upgrade(db)
        yield _build(db)
        db.dispose()
    else:
        with fresh_postgresql_database("indsats_stuck_order") as url:
            db = Database(url)
            yield _build(db)
            db.dispose()


def _build(db: Database) -> tuple[Context, dict[str, datetime]]:
    clock = FixedClock(EARLIER_YEAR - timedelta(days=7))
    ctx = world_context(db, clock, {"sol": ("socialchef", None), "lea": ("leder", "sol"),
                                    "emil": ("medarbejder", "lea"), "fie": ("fagspecialist", None),
                                    "sup": ("supervisor", None)})
    entered: dict[str, datetime] = {}  # case -> when it entered its present state
    moved = []
    for opened in (LATER_YEAR, EARLIER_YEAR):
        for minutes in range(0, 5 * 17, 17):
            clock.set(opened + timedelta(minutes=minutes))
            case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{len(entered)}").case_id
            entered[case_id] = clock.now()
            moved.append(case_id)
    for case_id in moved[::2]:  # every other case on to the leader, at one moment: one deadline for all of them
        clock.set(MOVED)
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader", values={})
        entered[case_id] = MOVED
    clock.set(NOW)
    return ctx, entered


def expected(ctx: Context, entered: dict[str, datetime]) -> list[str]:
    """The overdue cases in the list's order, worked out here from when each entered its state."""
    deadline = {case_id: ctx.calendar.add(at, parse_duration("1 working day" if at == MOVED else "4 working hours"))
                for case_id, at in entered.items()}
    late = {case_id: ctx.calendar.working_time_between(d, NOW) for case_id, d in deadline.items()}
    return sorted(entered, key=lambda c: (-late[c], deadline[c], c))


def test_cases_sharing_a_deadline_come_by_id_whatever_the_pages(
    world: tuple[Context, dict[str, datetime]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from indsats.engine.supervision import stuck

    ctx, entered = world
    order = expected(ctx, entered)
    shared = [c for c in order if entered[c] == MOVED]
    assert len(shared) == 5 and shared == sorted(shared)
    assert [c for c in entered if entered[c] == MOVED] != shared  # stored in another order than their ids
    for batch in (1, 2, 3, 4, 500):
        monkeypatch.setattr(stuck, "_BATCH", batch)
        for actor in ("sup", "lea"):
            found = stuck_cases(ctx, actor=actor)
            assert [s.case_id for s in found] == order, (batch, actor)
            assert {s.reason for s in found} == {StuckReason.overdue}
            for limit in (1, 2, 5, 6, 9):
                assert [s.case_id for s in stuck_cases(ctx, actor=actor, limit=limit)] == order[:limit], (
                    batch, actor, limit)


def test_who_must_act_and_how_late_whatever_the_reader(world: tuple[Context, dict[str, datetime]]) -> None:
    ctx, entered = world
    by_supervisor = stuck_cases(ctx, actor="sup")
    assert stuck_cases(ctx, actor="lea") == by_supervisor  # the leader sees every case of their employee
    for s in by_supervisor:
        assert [p.login for p in s.must_act] == (["lea"] if entered[s.case_id] == MOVED else ["emil"])
        assert s.overdue_by is not None and s.overdue_text == ctx.calendar.describe(s.overdue_by)


def test_the_page_reads_the_same_rows_on_the_hot_path_and_through_sqlalchemy(
    world: tuple[Context, dict[str, datetime]]
) -> None:
    ctx, entered = world
    at = NOW.astimezone(LOCAL_TZ)
    with ctx.db.unit_of_work(hot=True) as hot_uow:
        hot = hot_uow.repo.overdue_rows(at=at)
        first = hot_uow.repo.overdue_rows(at=at, limit=3)
        rest = hot_uow.repo.overdue_rows(at=at, after=(first[-1][10], first[-1][12]))
    with ctx.db.unit_of_work() as uow:
        full = uow.repo.overdue_rows(at=at)
    assert len(hot) == len(entered) and first + rest == hot
    assert sorted(r[:12] for r in hot) == sorted(r[:12] for r in full)
    assert [r[10] for r in hot] == sorted(r[10] for r in hot) == [r[10] for r in full]  # by deadline
    assert {r[0]: r[9] for r in hot} == dict.fromkeys(entered, 0)  # no reminder failed


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """The same cases, and beside them cases of a plan whose first deadline counts elapsed time (24 hours): the
    list then holds what it found until no unread case can come before it, whichever way it counts."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('stuck-mixed')}/mixed.db")
    upgrade(db)
    ctx, _ = _build(db)
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    add_users(ctx, {"fam": ("familiechef", None), "tina": ("teamleder", "fam"), "sara": ("sagsbehandler", "tina")},
              actor="adm")
    for opened in (LATER_YEAR, LATER_YEAR, EARLIER_YEAR + timedelta(hours=30), LATER_YEAR - timedelta(hours=50),
                   LATER_YEAR + timedelta(days=3)):
        clock.set(opened)  # twice at one moment: one deadline for two
        open_case(ctx, actor="sara", plan_id="underretning", subject_ref=f"BARN-{opened.isoformat()}",
                  source="professional")
    clock.set(NOW)
    yield ctx
    db.dispose()


def test_elapsed_and_working_deadlines_mixed_keep_the_order_whatever_the_pages(
    mixed: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indsats.engine.supervision import stuck

    everything = stuck_cases(mixed, actor="sup")
    overdue = [s for s in everything if s.reason is StuckReason.overdue]
    assert everything[: len(overdue)] == overdue and {s.plan_id for s in overdue} == {PLAN, "underretning"}
    for s in overdue:
        assert s.deadline is not None
        counted = (mixed.calendar.working_time_between(s.deadline, NOW) if s.plan_id == PLAN
                   else NOW - s.deadline)
        assert (s.overdue_by, s.working_time) == (counted, s.plan_id == PLAN)
    assert [s.case_id for s in overdue] == [
        s.case_id for s in sorted(overdue, key=lambda s: (-cast(timedelta, s.overdue_by), s.deadline, s.case_id))]
    for batch in (1, 2, 3, 500):
        monkeypatch.setattr(stuck, "_BATCH", batch)
        assert stuck_cases(mixed, actor="sup") == everything, batch
        for limit in (1, 3, 7, 12):
            assert stuck_cases(mixed, actor="sup", limit=limit) == everything[:limit], (batch, limit)
