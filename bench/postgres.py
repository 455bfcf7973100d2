"""PostgreSQL scaling: durable advance and sweep with 1, 2 and 4 worker processes on a fresh database per
run, against the 1-worker figure. The sweep's mails go to an SMTP sink that adds 5 ms per mail, so a
sweep waits on delivery the way a real relay makes it wait; workers claim disjoint batches (SKIP LOCKED).

What the cores allow is measured in the same rounds, two ways, with 1 and 4 clients on the same server:
- the replay: every statement the advance sent (captured from psycopg while walking the same cases on a
  database prepared the same way), sent again by bare psycopg clients, each statement's rows fetched, each
  commit where indsats committed. It is what any Python client of these statements gets from the cores, with
  none of indsats's work between them;
- PostgreSQL's own ``pgbench`` (its simple-update transaction, ``-N``: five statements, no row two clients
  share, a client in C that costs next to nothing).
"""

from __future__ import annotations

import multiprocessing
import queue
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import world
from bench.durable_advance import walk_cases
from bench.harness import Options, Row, median, profile_file, profiled
from bench.smtp_sink import smtp_sink

NAME = "postgresql"
GOAL = {"advance": 1.8, "sweep": 2.5}  # issue 15: advance with 4 workers ≥ 1.8× one on 2 cores
WORKERS = (1, 2, 4)
SINK_DELAY_MS = 5.0
SWEEP_BATCH = 25
PGBENCH_SECONDS = 8
PGBENCH_SCALE = 4


def _connect_args(url: Any) -> dict[str, Any]:
    args = {"host": url.host, "port": url.port, "user": url.username, "password": url.password,
            "dbname": url.database}
    return {k: v for k, v in args.items() if v is not None}


def reachable(pg_url: str) -> str | None:
    """None when the server answers, else why not."""
    import psycopg
    from sqlalchemy.engine import make_url

    try:
        psycopg.connect(**_connect_args(make_url(pg_url)), connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 (any failure means: skip, and say why)
        return " ".join(str(exc).split())[:200]
    return None


@contextmanager
def fresh_database(pg_url: str) -> Iterator[str]:
    """A new, migrated database on the server; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    from indsats.storage.database import Database
    from indsats.storage.migrate import upgrade

    server = make_url(pg_url)
    name = f"indsats_bench_{secrets.token_hex(4)}"
    with psycopg.connect(**_connect_args(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            db = Database(url)
            upgrade(db)
            db.dispose()
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pgbench_database(pg_url: str) -> Iterator[list[str] | None]:
    """``pgbench``'s arguments for a database it has initialised on the server (dropped afterwards), or None
    without ``pgbench`` on the PATH."""
    import psycopg
    from sqlalchemy.engine import make_url

    program = shutil.which("pgbench")
    if program is None:
        yield None
        return
    server = make_url(pg_url)
    name = f"indsats_pgbench_{secrets.token_hex(4)}"
    args = [program, "-h", server.host or "127.0.0.1", "-p", str(server.port or 5432), "-U", server.username or "postgres"]
    with psycopg.connect(**_connect_args(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            _pgbench([*args, "-i", "-q", "-s", str(PGBENCH_SCALE), name], server.password)
            yield [*args, name]
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pgbench(args: list[str], password: str | None) -> str:
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout


def pgbench_tps(database: list[str], clients: int, password: str | None) -> float:
    """Transactions per second of ``pgbench -N`` with ``clients`` clients (one thread each)."""
    program, *rest = database
    out = _pgbench([program, "-n", "-N", "-c", str(clients), "-j", str(clients), "-T", str(PGBENCH_SECONDS), *rest],
                   password)
    found = re.search(r"^tps = ([0-9.]+)", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps: {out.strip()[-300:]}")
    return float(found.group(1))


Op = tuple[str, str, Any]  # ("exec", sql, params), ("many", sql, rows), ("commit" | "rollback", "", None)


def capture_advance(pg_url: str, size: int) -> dict[str, list[Op]]:
    """Per case, every statement the advance sent walking it (after the process was warm), in order."""
    import psycopg

    from indsats.storage.database import Database

    with fresh_database(pg_url) as url:
        case_ids = _prepare("advance", url, size)
        ctx = world.make_context(Database(url))
        ctx.catalog.get(world.PLAN)
        with ctx.db.unit_of_work() as uow:
            uow.repo.get_user("emil")
        ops: list[Op] = []
        saved = psycopg.Cursor.execute, psycopg.Cursor.executemany, psycopg.Connection.commit, psycopg.Connection.rollback

        def execute(cursor: Any, query: Any, params: Any = None, **kw: Any) -> Any:
            ops.append(("exec", query, params))
            return saved[0](cursor, query, params, **kw)

        def executemany(cursor: Any, query: Any, rows: Any, **kw: Any) -> Any:
            rows = list(rows)
            ops.append(("many", query, rows))
            return saved[1](cursor, query, rows, **kw)

        def commit(connection: Any) -> Any:
            ops.append(("commit", "", None))
            return saved[2](connection)

        def rollback(connection: Any) -> Any:
            if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                ops.append(("rollback", "", None))
            return saved[3](connection)

        captured: dict[str, list[Op]] = {}
        psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany  # type: ignore[method-assign]
        psycopg.Connection.commit, psycopg.Connection.rollback = commit, rollback  # type: ignore[method-assign]
        try:
            for case_id in case_ids:
                walk_cases(ctx, [case_id])
                captured[case_id], ops = ops, []
        finally:
            psycopg.Cursor.execute, psycopg.Cursor.executemany, psycopg.Connection.commit, psycopg.Connection.rollback = saved  # type: ignore[method-assign]
            ctx.db.dispose()
    return captured


def _replayer(url: str, index: int, workers: int, case_ids: list[str], captured: dict[str, list[Op]],
              barrier: Any, results: Any) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    connection = psycopg.connect(**_connect_args(make_url(url)))
    mine = case_ids[index::workers]
    barrier.wait()
    start = time.time()
    for case_id in mine:
        for kind, sql, params in captured[case_id]:
            if kind == "commit":
                connection.commit()
            elif kind == "rollback":
                connection.rollback()
            else:
                cursor = connection.cursor()
                if kind == "many":
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
                    if cursor.description is not None:
                        cursor.fetchall()
                cursor.close()
    results.put((start, time.time(), len(mine) * len(world.WALK)))
    connection.close()


def replay(pg_url: str, workers: int, captured: dict[str, list[Op]]) -> float:
    """Transitions per second of ``workers`` bare psycopg clients sending the captured statements again, on a
    database prepared as the capture's was."""
    spawn = multiprocessing.get_context("spawn")
    with fresh_database(pg_url) as url:
        case_ids = _prepare("advance", url, len(captured))
        if sorted(case_ids) != sorted(captured):
            raise RuntimeError("the replay's cases are not the capture's")
        barrier, results = spawn.Barrier(workers), spawn.Queue()
        processes = [spawn.Process(target=_replayer, args=(url, i, workers, case_ids, captured, barrier, results))
                     for i in range(workers)]
        return _collect("replay", processes, results, workers, expected=len(case_ids) * len(world.WALK))


def _collect(kind: str, processes: list[Any], results: Any, workers: int, *, expected: int) -> float:
    """Start the processes, wait for each one's (start, end, done), and give the units per second together."""
    for p in processes:
        p.start()
    outcomes = []
    deadline = time.monotonic() + 900
    while len(outcomes) < workers:
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes) or time.monotonic() > deadline:
                for p in processes:
                    p.kill()
                raise RuntimeError(f"a {kind} worker failed (exit codes {[p.exitcode for p in processes]})") from None
    for p in processes:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a {kind} worker exited {p.exitcode}")
    total = sum(done for _, _, done in outcomes)
    if total != expected:
        raise RuntimeError(f"{kind}: {workers} workers did {total} of {expected}")
    return total / (max(end for _, end, _ in outcomes) - min(start for start, _, _ in outcomes))


def _worker(kind: str, url: str, index: int, workers: int, case_ids: list[str], port: int,
            barrier: Any, results: Any, profile_to: str | None) -> None:
    from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url
    from indsats.engine.reminders.sweep import sweep
    from indsats.storage.database import Database

    ctx = world.make_context(Database(url))
    ctx.catalog.get(world.PLAN)
    with ctx.db.unit_of_work() as uow:  # connected and warm before the start line
        uow.repo.get_user("emil")
    notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "indsats@example.org")
    barrier.wait()
    start = time.time()
    with profiled(profile_to):
        if kind == "advance":
            mine = case_ids[index::workers]
            walk_cases(ctx, mine)
            done = len(mine) * len(world.WALK)
        else:
            done = sweep(ctx, notifier, worker=f"w{index}", mail_from="indsats@example.org",
                         batch_size=SWEEP_BATCH).sent
    results.put((start, time.time(), done))
    ctx.db.dispose()


def _prepare(kind: str, url: str, size: int) -> list[str]:
    from indsats.storage.database import Database

    ctx = world.make_context(Database(url))
    world.seed_org(ctx)
    version = world.pin_plan(ctx)
    if kind == "advance":
        case_ids = world.open_cases(ctx, size)
    else:
        cases, reminders = world.due_reminder_world(size, version)
        world.insert_rows(ctx.db, "cases", cases)
        world.insert_rows(ctx.db, "reminders", reminders)
        case_ids = []
    ctx.db.dispose()
    return case_ids


def measure(kind: str, pg_url: str, workers: int, size: int, port: int, profile_to: str | None = None) -> float:
    """Units per second (transitions or mails) of ``workers`` processes together, on a fresh database."""
    spawn = multiprocessing.get_context("spawn")
    with fresh_database(pg_url) as url:
        case_ids = _prepare(kind, url, size)
        barrier, results = spawn.Barrier(workers), spawn.Queue()
        processes = [
            spawn.Process(target=_worker, args=(kind, url, i, workers, case_ids, port, barrier, results,
                                                profile_to if i == 0 else None))
            for i in range(workers)
        ]
        expected = size * len(world.WALK) if kind == "advance" else size
        return _collect(kind, processes, results, workers, expected=expected)


def make_url_password(pg_url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(pg_url).password


def _scaling(figures: dict[int, list[float]]) -> tuple[float, float, float]:
    """4 against 1 per round: the median and the spread."""
    ratios = [f / o for f, o in zip(figures[4], figures[1], strict=True)]
    return median(ratios), min(ratios), max(ratios)


def _ceiling_text(figures: dict[int, list[float]], replayed: dict[int, list[float]], ceiling: dict[int, list[float]],
                  *, statements: float) -> str:
    """What the cores allowed in the same rounds (4 clients against 1), and how near indsats came."""
    ours = _scaling(figures)[0]
    bare = _scaling(replayed)
    text = (f"what the cores allow, in the same rounds: the advance's own statements ({statements / len(world.WALK):.1f} "
            f"a transition, commits included) replayed by bare psycopg clients, 4 against 1: {bare[0]:.2f}× "
            f"({bare[1]:.2f}–{bare[2]:.2f}; {median(replayed[1]):,.0f} and {median(replayed[4]):,.0f} transitions/s), "
            f"of which indsats's 4 workers reach {ours / bare[0]:.0%}")
    if not ceiling[1]:
        return text + "; pgbench not measured: none on the PATH"
    c = _scaling(ceiling)
    return text + (f"; pgbench -N (PostgreSQL's own client, in C; 5 statements a transaction, scale {PGBENCH_SCALE}, "
                   f"{PGBENCH_SECONDS} s a run): {c[0]:.2f}× ({c[1]:.2f}–{c[2]:.2f}; {median(ceiling[1]):,.0f} and "
                   f"{median(ceiling[4]):,.0f} transactions/s)")


def run(options: Options) -> list[Row]:
    sizes = {"advance": 200, "sweep": 1_200}
    labels = {"advance": ("PostgreSQL advance, 4 workers", "transitions/s"),
              "sweep": ("PostgreSQL sweep, 4 workers", "mails/s")}
    if options.quick:
        return [Row(name=labels[k][0], measure=labels[k][1], indsats=None, reference=None,
                    reference_name="1 worker", goal=f"≥ {GOAL[k]}× 1 worker", met=None,
                    skipped="not run with --quick") for k in sizes]
    why = reachable(options.pg_url)
    if why is not None:
        return [Row(name=labels[k][0], measure=labels[k][1], indsats=None, reference=None,
                    reference_name="1 worker", goal=f"≥ {GOAL[k]}× 1 worker", met=None,
                    skipped=f"PostgreSQL unreachable: {why}") for k in sizes]
    repeats = 2
    rows = []
    password = make_url_password(options.pg_url)
    with smtp_sink(SINK_DELAY_MS) as (port, _received), pgbench_database(options.pg_url) as pgbench:
        for kind, size in sizes.items():
            figures: dict[int, list[float]] = {n: [] for n in WORKERS}
            ceiling: dict[int, list[float]] = {1: [], 4: []}  # pgbench's, in the same rounds (advance only)
            replayed: dict[int, list[float]] = {1: [], 4: []}  # bare psycopg sending the advance's statements
            captured = capture_advance(options.pg_url, size) if kind == "advance" else {}
            for i in range(repeats):
                for n in WORKERS if i % 2 == 0 else reversed(WORKERS):
                    figures[n].append(measure(kind, options.pg_url, n, size, port))
                    if kind == "advance" and n in replayed:
                        replayed[n].append(replay(options.pg_url, n, captured))
                        if pgbench is not None:
                            ceiling[n].append(pgbench_tps(pgbench, n, password))
            one, two, four = (median(figures[n]) for n in WORKERS)
            name, unit = labels[kind]
            what = (f"{size} cases walked through 4 transitions (service API), split across workers"
                    if kind == "advance" else
                    f"{size:,} due reminders, batches of {SWEEP_BATCH}, SMTP sink adding {SINK_DELAY_MS:.0f} ms per mail")
            if kind == "advance":
                what += "; " + _ceiling_text(figures, replayed, ceiling, statements=sum(map(len, captured.values())) / size)
            row = Row(
                name=name, measure=unit, indsats=four, reference=one, reference_name="1 worker",
                goal=f"≥ {GOAL[kind]}× 1 worker", met=None,
                ratios=[f / o for f, o in zip(figures[4], figures[1], strict=True)],
                detail=f"{what}; 2 workers: {two:,.0f} {unit} ({two / one:.2f}×); fresh database per run, "
                       f"{repeats} rounds (1, 2 and 4 workers each, alternating order); "
                       f"{multiprocessing.cpu_count()} cores shared with the server",
            )
            row.met = row.ratio is not None and row.ratio >= GOAL[kind]
            if not row.met:
                out = options.workdir / f"pg-{kind}.prof"
                measure(kind, options.pg_url, 4, size, port, profile_to=str(out))
                row.profile = "(worker 0 of 4)\n" + profile_file(out)
            rows.append(row)
    return rows
