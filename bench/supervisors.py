"""The supervisors' commands as people run them, at 1,000,000 cases: ``indsats stuck`` and ``indsats report`` as
whole processes (wall time and peak RSS), each next to a whole stdlib-``sqlite3`` process reading the same rows
(the same statements), interleaved; and ``indsats stuck --all --csv`` at 100,000 and 1,000,000 cases, whose peak
RSS must not grow with the list (it streams).

The world goes straight into the schema (``executemany``): 30 % of the cases open, spread over the open states
with deadlines ±30 days around the clock (as in ``bench.stuck``); each case's visits to the states it passed, with
a time in state, on time or late; the plan's case deadline for those that reached the specialist; and escalations;
then the report's day rows from them (``indsats.storage.visit_days.fill_in``, as migration 0008 fills them in).
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import world
from indsats.storage.visit_days import fill_in
from bench.harness import ROOT, Options, Row, child_env, median

if TYPE_CHECKING:
    import sqlite3

NAME = "supervisors"
STUCK_GOAL_S, STUCK_GOAL_MB = 2.0, 150.0
REPORT_GOAL_S, REPORT_GOAL_MB = 3.0, 150.0
OPEN_SHARE = 0.3
AT = "2026-03-02T09:00"  # stuck --at: the bench clock, a working Monday morning
# The reference: the same questions in stdlib sqlite3, one process each (its start is part of the figure).
STUCK_SQL = ("SELECT * FROM cases WHERE is_open = 1 AND deadline < ? ORDER BY deadline, id LIMIT 51")
REPORT_SQL = [
    "SELECT plan_id, state, count(*), sum(on_time), sum(paused_us), sum(pauses > 0) FROM state_visits "
    "WHERE left_at < :b GROUP BY plan_id, state",
    "SELECT plan_id, state, count(*) FROM state_visits WHERE left_at IS NULL AND pauses = 0 AND deadline_at < :b "
    "GROUP BY plan_id, state",
    "SELECT c.plan_id, e.from_state, count(*) FROM events e JOIN cases c ON c.id = e.case_id "
    "WHERE e.kind = 'escalated' AND e.at < :b GROUP BY c.plan_id, e.from_state",
    "SELECT plan_id, state, count(*) FROM cases WHERE is_open = 1 GROUP BY plan_id, state",
    "SELECT c.plan_id, d.name, count(*), count(d.met_at), sum(d.met_at <= d.due_at) FROM case_deadlines d "
    "JOIN cases c ON c.id = d.case_id WHERE d.started_at < :b GROUP BY c.plan_id, d.name",
]
RANK_SQL = ("SELECT time_us FROM state_visits WHERE plan_id = ? AND state = ? AND time_us IS NOT NULL "
            "AND left_at < ? ORDER BY time_us {order} LIMIT ? OFFSET ?")


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


# -- whole processes --------------------------------------------------------------------------------

STUCK_REFERENCE = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for row in con.execute({sql!r}, (sys.argv[2],)):
    print(*row, sep="\\t")
"""
REPORT_REFERENCE = """
import math, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
b = {{"b": sys.argv[2]}}
groups = con.execute({first!r}, b).fetchall()
for sql in {rest!r}:
    print(con.execute(sql, b).fetchall())
for plan, state, n, *_ in groups:
    mid = con.execute({rank!r}.format(order="ASC"), (plan, state, b["b"], 2, (n - 1) // 2)).fetchall()
    p90 = con.execute({rank!r}.format(order="DESC"), (plan, state, b["b"], 1, n - math.ceil(0.9 * n))).fetchall()
    print(plan, state, n, mid, p90)
"""


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to exit, and the process's peak RSS in MB, as GNU time reports it: a child forked from
    this (large) process starts with this process's RSS as its high-water mark, one forked from ``time`` does not."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss.name, *command] if Path("/usr/bin/time").exists() else command
        started = time.perf_counter()
        done = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
        text = Path(rss.name).read_text().strip()
    return seconds, (int(text.splitlines()[-1]) / 1024 if text else float("nan"))


def _indsats_env(path: Path, workdir: Path) -> dict[str, str]:
    return child_env(INDSATS_USER="sup", INDSATS_DATABASE_URL=f"sqlite:///{path}", INDSATS_CONFIG="",
                     INDSATS_DATA_DIR=str(workdir / "data"))


def _pair(name: str, ours: list[str], theirs: list[str], env: dict[str, str], repeats: int) -> dict[str, list[float]]:
    """Both commands ``repeats`` times, alternating which goes first: seconds and peak MB of each run."""
    got: dict[str, list[float]] = {"s": [], "mb": [], "ref_s": [], "ref_mb": []}
    for i in range(repeats):
        order = [(ours, "s", "mb"), (theirs, "ref_s", "ref_mb")]
        for command, s_key, mb_key in order if i % 2 == 0 else order[::-1]:
            seconds, mb = measure(command, env)
            got[s_key].append(seconds)
            got[mb_key].append(mb)
    print(f"  {name}: {median(got['s']):.2f} s / {max(got['mb']):.0f} MB; reference {median(got['ref_s']):.2f} s",
          file=sys.stderr, flush=True)
    return got


def _profile(command: list[str], env: dict[str, str], workdir: Path) -> str:
    from bench.harness import profile_file

    target = workdir / "profile.out"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(target), *command[1:]], env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return profile_file(target) if target.exists() else "(no profile)"


def run(options: Options) -> list[Row]:
    small, big = (1_000, 5_000) if options.quick else (100_000, 1_000_000)
    repeats = 3 if options.quick else 5
    rows: list[Row] = []
    peaks_all: dict[int, float] = {}
    for n in (small, big):
        path = options.workdir / f"supervisors-{n}.db"
        started = time.perf_counter()
        made = make_world(path, n)
        built = time.perf_counter() - started
        env = _indsats_env(path, options.workdir)
        indsats = [sys.executable, "-m", "indsats"]
        _, peaks_all[n] = measure([*indsats, "stuck", "--at", AT, "--all", "--csv"], env)
        if n != big:
            path.unlink()
            continue
        at_db = world.db_time(world.MONDAY + timedelta(hours=1))
        now_db = world.db_time(datetime.now(timezone.utc))
        stuck_ref = [sys.executable, "-c", STUCK_REFERENCE.format(sql=STUCK_SQL), str(path), at_db]
        report_ref = [sys.executable, "-c", REPORT_REFERENCE.format(first=REPORT_SQL[0], rest=REPORT_SQL[1:],
                                                                     rank=RANK_SQL), str(path), now_db]
        stuck = _pair("stuck", [*indsats, "stuck", "--at", AT], stuck_ref, env, repeats)
        report = _pair("report", [*indsats, "report"], report_ref, env, repeats)
        size = (f"{n:,} cases ({made['visits']:,} visits, {made['case_deadlines']:,} case deadlines, "
                f"{made['escalations']:,} escalations; built in {built:.0f} s); {repeats} interleaved repeats")
        for label, got, goal_s, goal_mb, command, what in (
            ("stuck", stuck, STUCK_GOAL_S, STUCK_GOAL_MB, [*indsats, "stuck", "--at", AT],
             "`indsats stuck --at …` (the 50 most overdue, TSV to a pipe)"),
            ("report", report, REPORT_GOAL_S, REPORT_GOAL_MB, [*indsats, "report"], "`indsats report` (every plan, all time)"),
        ):
            seconds, ref_seconds = median(got["s"]), median(got["ref_s"])
            ratios = sorted(a / b for a, b in zip(got["s"], got["ref_s"], strict=True))
            time_row = Row(
                name=f"{label}, whole process", measure="median wall s", indsats=seconds, reference=ref_seconds,
                reference_name="stdlib sqlite3 process, the same statements", goal=f"≤ {goal_s:.0f} s",
                met=seconds <= goal_s,
                detail=f"{what}, a new process each; {size}; per-round ratios {ratios[0]:.1f}–{ratios[-1]:.1f}×; "
                       "2 cores shared with other work: medians, and noisy",
            )
            peak = max(got["mb"])
            rss_row = Row(
                name=f"{label}, whole-process peak RSS", measure="MB", indsats=peak, reference=max(got["ref_mb"]),
                reference_name="the stdlib process", goal=f"≤ {goal_mb:.0f} MB", met=peak <= goal_mb,
                detail=f"ru_maxrss of {what}; {size}",
            )
            if not time_row.met:
                time_row.profile = _profile(command, env, options.workdir)
            rows += [time_row, rss_row]
        path.unlink()
    flat = peaks_all[big] <= 1.2 * peaks_all[small]
    rows.append(Row(
        name="stuck --all --csv, peak RSS", measure="MB", indsats=peaks_all[big], reference=peaks_all[small],
        reference_name=f"the same at {small:,} cases", goal="≤ 1.2× the smaller run (it streams)", met=flat,
        detail=f"ru_maxrss of `indsats stuck --all --csv` over {big:,} cases (every overdue one, ~15 %) "
               f"against {small:,}",
    ))
    return rows
