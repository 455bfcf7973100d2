"""Stuck at 1M: ``stuck_cases(limit=50)`` and the per-state counts over 1,000,000 cases (30 % open), against
stdlib ``sqlite3`` reading the same rows: ``WHERE is_open AND deadline < ? ORDER BY deadline LIMIT 50``
through the (is_open, deadline) index, and a ``GROUP BY``.
"""

from __future__ import annotations

import random
from datetime import timedelta
from time import perf_counter
from typing import TYPE_CHECKING

from bench import world
from bench.harness import Options, Row, interleave, median, profile_call

if TYPE_CHECKING:
    import sqlite3

    from indsats.engine.context import Context

NAME = "stuck"
TOP_GOAL = 2.0
COUNTS_GOAL_MS = 50.0
OPEN_SHARE = 0.3
TOP_SQL = "SELECT * FROM cases WHERE is_open = 1 AND deadline < ? ORDER BY deadline LIMIT 50"
COUNTS_SQL = "SELECT plan_id, state, count(*) FROM cases WHERE is_open = 1 GROUP BY plan_id, state"


def build(con: sqlite3.Connection, n: int, version: str) -> None:
    """``n`` cases straight into the schema: 30 % open, spread over the open states, deadlines ±30 days
    around the clock (so about half the open ones are overdue); the rest closed in 'decided'.
    """
    rng = random.Random(7)
    columns = list(world.case_row("x", version, state="suspected", deadline=None))
    open_states = world.STATES[:-1]
    base = world.MONDAY - timedelta(days=60)
    entered = world.db_time(base)
    template = world.case_row("x", version, state="suspected", deadline=None)
    template = {k: world._sqlite_value(v) for k, v in template.items()}
    at_index = columns.index
    i_id, i_state, i_open, i_deadline, i_closed = (at_index(c) for c in ("id", "state", "is_open", "deadline",
                                                                          "closed_at"))
    i_opened, i_entered, i_activity = at_index("opened_at"), at_index("state_entered_at"), at_index("last_activity_at")
    values = [template[c] for c in columns]
    values[i_opened] = values[i_entered] = values[i_activity] = entered
    span = 60 * 24 * 3600
    start_ts = (world.MONDAY - timedelta(days=30)).timestamp()

    def rows():
        from datetime import datetime, timezone

        for number in range(1, n + 1):
            row = values.copy()
            row[i_id] = f"RAD-{2000 + number % 26}-{number:07d}"
            if rng.random() < OPEN_SHARE:
                row[i_state] = open_states[number % len(open_states)]
                row[i_open] = 1
                moment = datetime.fromtimestamp(start_ts + rng.randrange(span), timezone.utc)
                row[i_deadline] = moment.strftime("%Y-%m-%d %H:%M:%S.000000")
                row[i_closed] = None
            else:
                row[i_state] = "decided"
                row[i_open] = 0
                row[i_deadline] = None
                row[i_closed] = entered
            yield row

    sql = f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    con.execute("BEGIN IMMEDIATE")
    con.executemany(sql, rows())
    con.execute("COMMIT")
    con.execute("ANALYZE")


def stuck_top(ctx: Context) -> list[object]:
    from indsats.engine.supervision import stuck_cases

    found = stuck_cases(ctx, actor="sup", limit=50)
    assert len(found) == 50, len(found)
    return found


def counts(ctx: Context) -> dict[tuple[str, str], int]:
    with ctx.db.unit_of_work() as uow:
        return uow.repo.count_open_by_state()


def run(options: Options) -> list[Row]:
    n = 20_000 if options.quick else 1_000_000
    # A call takes well under a millisecond: many rounds, so that the first calls' warming weighs little.
    repeats = 3 if options.quick else 41
    path = options.workdir / "stuck.db"
    ctx = world.make_context(world.sqlite_database(path))
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    con = world.sqlite_connect(path)
    started = perf_counter()
    build(con, n, version)
    built = perf_counter() - started
    stuck_top(ctx)  # warm up: plan parsed, statements compiled, pages cached
    con.execute(TOP_SQL, (world.db_time(world.MONDAY),)).fetchall()
    at = world.db_time(world.MONDAY)

    def timed(fn):  # noqa: ANN001, ANN202
        def run_once(_i: int) -> float:
            start = perf_counter()
            fn()
            return perf_counter() - start
        return run_once

    top = interleave(timed(lambda: stuck_top(ctx)), timed(lambda: con.execute(TOP_SQL, (at,)).fetchall()),
                     repeats=repeats)
    per_state = interleave(timed(lambda: counts(ctx)), timed(lambda: con.execute(COUNTS_SQL).fetchall()),
                           repeats=repeats)
    open_cases = sum(counts(ctx).values())
    size = f"{n:,} cases, {open_cases:,} open, built in {built:.0f} s; {repeats} repeats"
    ours, theirs = median(top.indsats) * 1000, median(top.reference) * 1000
    top_row = Row(
        name="stuck, top 50", measure="median ms", indsats=ours, reference=theirs,
        reference_name="stdlib sqlite3, index on (is_open, deadline)", goal=f"≤ {TOP_GOAL}× reference",
        met=None, ratios=top.ratios(rate=False), detail=f"`stuck_cases(actor=supervisor, limit=50)`; {size}",
    )
    top_row.met = top_row.ratio is not None and top_row.ratio <= TOP_GOAL
    ours_c, theirs_c = median(per_state.indsats) * 1000, median(per_state.reference) * 1000
    count_row = Row(
        name="stuck, per-state counts", measure="median ms", indsats=ours_c, reference=theirs_c,
        reference_name="stdlib sqlite3 GROUP BY", goal=f"≤ {COUNTS_GOAL_MS:.0f} ms", met=ours_c <= COUNTS_GOAL_MS,
        detail=f"`Repository.count_open_by_state()` in a unit of work; {size}",
    )
    if not top_row.met:
        top_row.profile = profile_call(lambda: stuck_top(ctx))
    if not count_row.met:
        plan = con.execute("EXPLAIN QUERY PLAN " + COUNTS_SQL).fetchall()
        count_row.profile = "EXPLAIN QUERY PLAN: " + "; ".join(str(r[-1]) for r in plan) + "\n\n" + profile_call(
            lambda: counts(ctx))
    con.close()
    ctx.db.dispose()
    return [top_row, count_row]
