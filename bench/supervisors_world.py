"""The supervisors' world: ``n`` cases straight into the schema (``executemany``), for ``bench.supervisors``.

30 % of the cases open, spread over the open states with deadlines ±30 days around the clock (as in
``bench.stuck``); each case's visits to the states it passed, with a time in state, on time or late; the plan's
case deadline for those that reached the specialist; and escalations; then the report's day rows from them
(``indsats.storage.visit_days.fill_in``, the statements migration 0008 fills them in with).

Its own module so that a kept world (``$INDSATS_BENCH_WORLDS``, see ``bench.world.cached_world``) is keyed by
the code that builds it, not by the code that measures it.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench import world
from indsats.storage.visit_days import fill_in

OPEN_SHARE = 0.3


def build(con: sqlite3.Connection, n: int, version: str) -> dict[str, int]:
    """``n`` cases with their visits, case deadlines and escalations; how many of each."""
    rng = random.Random(15)
    states = world.STATES
    columns = list(world.case_row("x", version, state="suspected", deadline=None))
    base = {k: world._sqlite_value(v) for k, v in world.case_row("x", version, state="suspected",
                                                                   deadline=None).items()}
    first = world.MONDAY - timedelta(days=400)
    counts = {"cases": 0, "visits": 0, "case_deadlines": 0, "escalations": 0}
    cases_sql = f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    visit_sql = ("INSERT INTO state_visits (case_id, entry_seq, plan_id, state, entered_at, deadline_at, left_at, "
                 "time_us, on_time, paused_us, pauses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)")
    deadline_sql = ("INSERT INTO case_deadlines (case_id, name, started_at, started_seq, due_at, met_at) "
                    "VALUES (?, 'socialchef_assessment', ?, ?, ?, ?)")
    event_sql = ("INSERT INTO events (case_id, seq, kind, at, actor, from_state, to_state, payload_digest, prev_hash, "
                 "hash) VALUES (?, ?, 'escalated', ?, NULL, ?, ?, ?, ?, ?)")
    con.execute("BEGIN IMMEDIATE")
    case_rows: list[list[Any]] = []
    visits: list[tuple[Any, ...]] = []
    deadlines: list[tuple[Any, ...]] = []
    escalations: list[tuple[Any, ...]] = []

    def flush() -> None:
        con.executemany(cases_sql, case_rows)
        con.executemany(visit_sql, visits)
        con.executemany(deadline_sql, deadlines)
        con.executemany(event_sql, escalations)
        for rows in (case_rows, visits, deadlines, escalations):
            rows.clear()

    def t(value: datetime) -> str:  # as world.db_time, faster (a million cases, ~8 times each)
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")

    for number in range(1, n + 1):
        case_id = f"RAD-{2000 + number % 26}-{number:07d}"
        opened = first + timedelta(minutes=number * 400 * 24 * 60 // n)
        is_open = rng.random() < OPEN_SHARE
        passed = rng.randrange(4) if is_open else 4  # states left
        at, seq = opened, 1
        for k in range(passed + (1 if is_open else 0)):
            state = states[k]
            spent = timedelta(minutes=rng.randrange(20, 6 * 24 * 60))
            deadline = at + timedelta(days=1)
            if k < passed:
                visits.append((case_id, seq, world.PLAN, state, t(at), t(deadline), t(at + spent),
                               int(spent.total_seconds() * 0.3) * 1_000_000, int(at + spent <= deadline)))
            else:
                visits.append((case_id, seq, world.PLAN, state, t(at), t(deadline), None, None, None))
            if k == 2:
                met = at + spent if k < passed else None
                deadlines.append((case_id, t(at), seq, t(at + timedelta(days=2)), None if met is None else t(met)))
            if spent > timedelta(days=5, hours=12):  # about one visit in twelve escalates
                seq += 1
                escalations.append((case_id, seq, t(at + timedelta(days=2)), state, state, world.ZERO_HASH,
                                    world.ZERO_HASH, world.ZERO_HASH))
            at += spent
            seq += 1
        row = [base[c] for c in columns]
        row[columns.index("id")] = case_id
        row[columns.index("opened_at")] = t(opened)
        row[columns.index("state")] = states[passed] if is_open else "decided"
        row[columns.index("is_open")] = int(is_open)
        row[columns.index("state_entered_at")] = row[columns.index("last_activity_at")] = t(at)
        if is_open:
            moment = world.MONDAY + timedelta(seconds=rng.randrange(-30 * 86400, 30 * 86400))
            row[columns.index("deadline")] = t(moment)
            row[columns.index("closed_at")] = None
        else:
            row[columns.index("deadline")] = None
            row[columns.index("closed_at")] = t(at)
        row[columns.index("last_seq")] = seq - 1
        case_rows.append(row)
        if len(case_rows) >= 20_000:
            counts["visits"] += len(visits)
            counts["case_deadlines"] += len(deadlines)
            counts["escalations"] += len(escalations)
            flush()
    counts["visits"] += len(visits)
    counts["case_deadlines"] += len(deadlines)
    counts["escalations"] += len(escalations)
    flush()
    # The report's day rows, filled in by the statements migration 0008 fills them in with.
    fill_in(lambda sql: con.execute(sql), lambda sql, rows: con.executemany(sql, rows) and None)
    con.execute("COMMIT")
    con.execute("ANALYZE")
    counts["cases"] = n
    return counts


def make_world(path: Path, n: int) -> dict[str, int]:
    """A migrated SQLite file at ``path`` with the bench organisation and ``n`` cases."""
    ctx = world.make_context(world.sqlite_database(path))
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    ctx.db.dispose()
    con = world.sqlite_connect(path)
    try:
        return build(con, n, version)
    finally:
        con.close()


def counts(path: Path) -> dict[str, int]:
    """What a world holds (for a kept one, read back)."""
    con = sqlite3.connect(path)
    try:
        return {"cases": con.execute("SELECT count(*) FROM cases").fetchone()[0],
                "visits": con.execute("SELECT count(*) FROM state_visits").fetchone()[0],
                "case_deadlines": con.execute("SELECT count(*) FROM case_deadlines").fetchone()[0],
                "escalations": con.execute("SELECT count(*) FROM events WHERE kind = 'escalated'").fetchone()[0]}
    finally:
        con.close()
