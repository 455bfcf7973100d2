"""The supervisors' commands as people run them, at 1,000,000 cases: ``indsats stuck`` and ``indsats report`` as
whole processes (wall time and peak RSS), each next to a whole stdlib-``sqlite3`` process reading the same rows
(the same statements), interleaved; and ``indsats stuck --all --csv`` at 100,000 and 1,000,000 cases, whose peak
RSS must not grow with the list (it streams).

The world (``bench.supervisors_world``) goes straight into the schema. With ``$INDSATS_BENCH_WORLDS`` set, the
worlds are kept there between runs (keyed by the schema head and the builder's code) and only read here.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import supervisors_world, world
from bench.harness import ROOT, Options, Row, child_env, measure_process, median
from bench.supervisors_world import counts, make_world
from indsats.storage import visit_days

NAME = "supervisors"
STUCK_GOAL_S, STUCK_GOAL_MB = 2.0, 150.0
REPORT_GOAL_S, REPORT_GOAL_MB = 3.0, 150.0
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


def _indsats_env(path: Path, workdir: Path) -> dict[str, str]:
    return child_env(INDSATS_USER="sup", INDSATS_DATABASE_URL=f"sqlite:///{path}", INDSATS_CONFIG="",
                     INDSATS_DATA_DIR=str(workdir / "data"))


def _pair(name: str, ours: list[str], theirs: list[str], env: dict[str, str], repeats: int) -> dict[str, list[float]]:
    """Both commands ``repeats`` times, alternating which goes first: seconds and peak MB of each run."""
    got: dict[str, list[float]] = {"s": [], "mb": [], "ref_s": [], "ref_mb": []}
    for i in range(repeats):
        order = [(ours, "s", "mb"), (theirs, "ref_s", "ref_mb")]
        for command, s_key, mb_key in order if i % 2 == 0 else order[::-1]:
            seconds, _cpu, mb = measure_process(command, env)
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
        started = time.perf_counter()
        kept = world.cached_world(f"supervisors-{n}", functools.partial(make_world, n=n),
                                  builders=(world, supervisors_world, visit_days))
        path = kept or options.workdir / f"supervisors-{n}.db"
        if kept is None:
            make_world(path, n)
        built = time.perf_counter() - started
        made = counts(path)
        how = f"a kept world (${world.WORLDS_ENV})" if kept is not None and built < 1 else f"built in {built:.0f} s"
        env = _indsats_env(path, options.workdir)
        indsats = [sys.executable, "-m", "indsats"]
        _, _cpu, peaks_all[n] = measure_process([*indsats, "stuck", "--at", AT, "--all", "--csv"], env)
        if n != big:
            if kept is None:
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
                f"{made['escalations']:,} escalations; {how}); {repeats} interleaved repeats")
        for label, got, goal_s, goal_mb, command, what in (
            ("stuck", stuck, STUCK_GOAL_S, STUCK_GOAL_MB, [*indsats, "stuck", "--at", AT],
             "`indsats stuck --at …` (the 50 most overdue, TSV to a pipe)"),
            ("report", report, REPORT_GOAL_S, REPORT_GOAL_MB, [*indsats, "report"], "`indsats report` (every plan, all time)"),
        ):
            seconds, ref_seconds = median(got["s"]), median(got["ref_s"])
            ratios = sorted(a / b for a, b in zip(got["s"], got["ref_s"], strict=True))
            time_row = Row(
                name=f"{label}, whole process", measure="median wall s", indsats=seconds, reference=ref_seconds,
                reference_name="stdlib sqlite3 process, the same figures from the raw rows", goal=f"≤ {goal_s:.0f} s",
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
        if kept is None:
            path.unlink()
    flat = peaks_all[big] <= 1.2 * peaks_all[small]
    rows.append(Row(
        name="stuck --all --csv, peak RSS", measure="MB", indsats=peaks_all[big], reference=peaks_all[small],
        reference_name=f"the same at {small:,} cases", goal="≤ 1.2× the smaller run (it streams)", met=flat,
        detail=f"ru_maxrss of `indsats stuck --all --csv` over {big:,} cases (every overdue one, ~15 %) "
               f"against {small:,}",
    ))
    return rows
