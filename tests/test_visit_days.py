"""The step report's day rows (``visit_days``, ``escalation_days``): the report summed from them gives what the
visits and events themselves give, in any window — around midnights and the two daylight-saving days — and the
rows the commands write as they go are the rows the migration fills in from the visits and events.

The world: ~90 cases opened, walked on, paused and resumed at random moments over a week around each of
2026's daylight-saving changes in Copenhagen (29 March, 25 October), with sweeps that escalate; the clock is
set in random time zones (an instant is an instant). The answer to compare with is worked out here from the
``state_visits`` rows and the events, in Python.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indsats.engine.context import Context
from indsats.engine.supervision import step_report
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from tests.worlds import ORGANISATION, play, world_context

# A week around each daylight-saving change (clocks forward 29 March, back 25 October 2026).
PERIODS = [(datetime(2026, 3, 25, tzinfo=LOCAL_TZ), datetime(2026, 4, 2, tzinfo=LOCAL_TZ)),
           (datetime(2026, 10, 21, tzinfo=LOCAL_TZ), datetime(2026, 10, 29, tzinfo=LOCAL_TZ))]
ZONES = [timezone.utc, LOCAL_TZ, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")]
DELAYS = [timedelta(minutes=3), timedelta(minutes=50), timedelta(hours=3), timedelta(hours=11), timedelta(days=1),
          timedelta(days=2, hours=5)]
REPORTED = ("passed", "on_time", "median", "p90", "paused", "paused_visits", "escalations")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Context:
    tmp = tmp_path_factory.mktemp("visit-days")
    db = Database(f"sqlite:///{tmp}/world.db")
    upgrade(db)
    first = PERIODS[0][0] - timedelta(days=1)
    clock = FixedClock(first)
    ctx = world_context(db, clock, ORGANISATION)
    rng = random.Random(29)
    actions: list[tuple[datetime, int, str]] = []
    for i in range(90):
        begin, finish = PERIODS[i % 2]
        at = begin + timedelta(seconds=rng.randrange(int((finish - begin).total_seconds() * 0.6)))
        actions.append((at, i, "open"))
        for step in range(rng.randint(0, 4)):
            at += rng.choice(DELAYS) + timedelta(seconds=rng.randrange(3600))
            if rng.random() < 0.2:
                actions.append((at, i, "pause"))
                at += rng.choice(DELAYS)
                if rng.random() < 0.8:
                    actions.append((at, i, "resume"))
                    at += timedelta(minutes=7)
                else:
                    break
            actions.append((at, i, f"advance:{step}"))
    play(ctx, clock, actions, swept=first, sweep_every=timedelta(hours=20),
         moment=lambda at: at.astimezone(rng.choice(ZONES)))
    clock.set(PERIODS[1][1] + timedelta(days=3))
    return ctx


def _rows(ctx: Context, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    with ctx.db.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def _from_the_rows(ctx: Context, since: date | None, until: date | None, now: datetime) -> dict[str, dict[str, Any]]:
    """Per state, the report's figures worked out from the visits and events themselves."""
    start = None if since is None else _midnight(since)
    end = now if until is None else min(now, _midnight(until + timedelta(days=1)))
    bound = end + timedelta(microseconds=1) if end == now else end
    from sqlalchemy import select

    from indsats.storage.models import events, state_visits

    with ctx.db.connect() as conn:
        visits = list(conn.execute(select(state_visits).where(state_visits.c.left_at.is_not(None))).mappings())
        escalated = list(conn.execute(select(events.c.from_state, events.c.at).where(events.c.kind == "escalated")))
    times: dict[str, list[int]] = defaultdict(list)
    found: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(REPORTED, 0))
    for v in visits:
        if v["left_at"] < bound and (start is None or v["entered_at"] >= start):
            f = found[v["state"]]
            f["passed"] += 1
            f["on_time"] += bool(v["on_time"])
            f["paused"] += v["paused_us"]
            f["paused_visits"] += v["pauses"] > 0
            times[v["state"]].append(v["time_us"])
    for state, at in escalated:
        if at < bound and (start is None or at >= start):
            found[state]["escalations"] += 1
    for state, f in found.items():
        spans = sorted(times[state])
        n = len(spans)
        f["paused"] = timedelta(microseconds=f["paused"])
        if n:
            mid = [timedelta(microseconds=spans[(n - 1) // 2]), timedelta(microseconds=spans[n // 2])]
            f["median"] = mid[0] if n % 2 else (mid[0] + mid[1]) / 2
            f["p90"] = timedelta(microseconds=spans[math.ceil(0.9 * n) - 1])
        else:
            f["median"] = f["p90"] = None
    return found


def test_the_world_crosses_midnights_and_the_daylight_saving_days(world: Context) -> None:
    """What the comparison below means something for: visits over midnight, on the changes, paused, escalated."""
    from indsats.engine.time.clock import to_local

    visits = _rows(world, "SELECT entered_at, left_at, pauses FROM state_visits WHERE left_at IS NOT NULL")
    days = [(to_local(_aware(a)).date(), to_local(_aware(b)).date()) for a, b, _ in visits]
    assert len(visits) > 100
    assert sum(a != b for a, b in days) > 30
    assert {date(2026, 3, 29), date(2026, 10, 25)} <= {d for pair in days for d in pair}
    assert sum(p > 0 for *_, p in visits) > 3
    assert _rows(world, "SELECT count(*) FROM events WHERE kind = 'escalated'")[0][0] > 5


def _aware(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc)


DAYS = st.dates(min_value=date(2026, 3, 24), max_value=date(2026, 10, 31)).filter(
    lambda d: d <= date(2026, 4, 4) or d >= date(2026, 10, 19))
SPECIAL = st.sampled_from([date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 24),
                           date(2026, 10, 25), date(2026, 10, 26)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(since=st.none() | DAYS | SPECIAL, until=st.none() | DAYS | SPECIAL,
       now=st.datetimes(min_value=datetime(2026, 3, 27), max_value=datetime(2026, 11, 2), timezones=st.just(timezone.utc))
       | st.sampled_from([datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc), datetime(2026, 3, 29, 22, 0, tzinfo=timezone.utc),
                          datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc), datetime(2026, 10, 25, 23, 0, tzinfo=timezone.utc),
                          datetime(2026, 10, 25, 23, 0, 0, 1, tzinfo=timezone.utc)]),
       zone=st.sampled_from(ZONES))
def test_the_report_from_the_day_rows_is_the_report_from_the_visits(
    world: Context, since: date | None, until: date | None, now: datetime, zone: Any
) -> None:
    if since is not None and until is not None and since > until:
        since, until = until, since
    if since is not None and _midnight(since) >= now:
        return  # an empty window: refused (another test's business)
    clock = FixedClock(now.astimezone(zone))
    ctx = Context(db=world.db, clock=clock, catalog=world.catalog, calendar=world.calendar, keys=world.keys)
    (plan,) = step_report(ctx, actor="sup", since=since, until=until).plans
    expected = _from_the_rows(world, since, until, now)
    got = {s.state: {k: getattr(s, k) for k in REPORTED} for s in plan.states}
    for state, figures in got.items():
        assert figures == expected.get(state, {**dict.fromkeys(REPORTED, 0), "median": None, "p90": None,
                                                "paused": timedelta()}), state


def _copy(world: Context, tmp_path: Path) -> Database:
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(str(world.db.engine.url.database))
    with sqlite3.connect(copy) as target:
        source.backup(target)
    source.close()
    return Database(f"sqlite:///{copy}")


def test_the_migration_fills_in_the_day_rows_the_commands_wrote(world: Context, tmp_path: Path) -> None:
    from alembic import command

    from indsats.storage.migrate import alembic_config

    db = _copy(world, tmp_path)
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
    upgrade(db, calendar=world.calendar)
    again = Context(db=db, clock=world.clock, catalog=world.catalog, calendar=world.calendar, keys=world.keys)
    for table, key in (("visit_days", "1, 2, 3, 4, 5"), ("escalation_days", "1, 2, 3")):
        written = _rows(world, f"SELECT * FROM {table} ORDER BY {key}")
        assert written and _rows(again, f"SELECT * FROM {table} ORDER BY {key}") == written, table
    db.dispose()


@pytest.mark.parametrize(("edit", "found"), [
    ("UPDATE visit_days SET on_time = on_time + 1 WHERE rowid = (SELECT min(rowid) FROM visit_days WHERE on_time = 0)",
     "visit_days: plan 'radikalisering' state"),
    ("DELETE FROM visit_days WHERE rowid = (SELECT max(rowid) FROM visit_days)", "(removed)"),
    ("INSERT INTO visit_days VALUES ('radikalisering', 'assessed', 740000, 740000, 3, 9, 9, 0, 0)",
     "counts nothing there is (edited)"),
    ("UPDATE escalation_days SET escalations = escalations + 2 WHERE rowid = (SELECT min(rowid) FROM escalation_days)",
     "escalation_days: plan 'radikalisering' state"),
])
def test_verify_finds_day_rows_that_are_not_what_they_count(world: Context, tmp_path: Path, edit: str,
                                                            found: str) -> None:
    from indsats.engine.log.verify import verify

    db = _copy(world, tmp_path)
    again = Context(db=db, clock=world.clock, catalog=world.catalog, calendar=world.calendar, keys=world.keys)
    before = verify(again)
    assert not [p for p in before.problems if "_days" in p], before.problems
    con = sqlite3.connect(str(db.engine.url.database))
    with con:
        assert con.execute(edit).rowcount == 1
    con.close()
    after = [p for p in verify(again).problems if p not in before.problems]
    assert len(after) == 1 and found in after[0], after
    db.dispose()
