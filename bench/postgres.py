"""PostgreSQL scaling: durable advance and sweep with 1, 2 and 4 worker processes on a fresh database per
run, against the 1-worker figure. The sweep's mails go to an SMTP sink that adds 5 ms per mail, so a
sweep waits on delivery the way a real relay makes it wait; workers claim disjoint batches (SKIP LOCKED).
"""

from __future__ import annotations

import multiprocessing
import queue
import secrets
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
    expected = size * len(world.WALK) if kind == "advance" else size
    if total != expected:
        raise RuntimeError(f"{kind}: {workers} workers did {total} of {expected}")
    return total / (max(end for _, end, _ in outcomes) - min(start for start, _, _ in outcomes))


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
    with smtp_sink(SINK_DELAY_MS) as (port, _received):
        for kind, size in sizes.items():
            figures: dict[int, list[float]] = {n: [] for n in WORKERS}
            for i in range(repeats):
                for n in WORKERS if i % 2 == 0 else reversed(WORKERS):
                    figures[n].append(measure(kind, options.pg_url, n, size, port))
            one, two, four = (median(figures[n]) for n in WORKERS)
            name, unit = labels[kind]
            what = (f"{size} cases walked through 4 transitions (service API), split across workers"
                    if kind == "advance" else
                    f"{size:,} due reminders, batches of {SWEEP_BATCH}, SMTP sink adding {SINK_DELAY_MS:.0f} ms per mail")
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
