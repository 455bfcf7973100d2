"""Through ``indsats server``: the thin client's ``advance`` and ``show`` against ``python -c "import click"``,
and advances per second with 4 concurrent clients against the direct service API.

The server is a real process on a unix socket, as the current OS user; the cases are opened by that user
(the server's actor is always the caller's OS login). With ``INDSATS_BENCH_SERVER_PROFILE=FILE`` the server runs
under cProfile (``bench.profiled_server``, every thread), its statistics go to FILE and its top entries to the
throughput row (whose figures are then the profiled server's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench import world
from bench.cli_start import indsats_command
from bench.harness import Options, Row, child_env, interleave, median, profile_file, wait_for_socket, wall

if TYPE_CHECKING:
    from indsats.storage.database import Database

NAME = "server"
CLI_GOAL = 2.0
THROUGHPUT_GOAL = 0.5
CLIENTS = 4
ROUNDS = 5


def run(options: Options) -> list[Row]:
    from indsats.locations import os_login

    me = os_login()
    n_cli = 3 if options.quick else 15
    n_throughput = 40 if options.quick else 400
    served_db = options.workdir / "served.db"
    case_ids = _world(served_db, me, n_cli * 2 + 4 + n_throughput)
    socket_path = options.workdir / "run" / "indsats.sock"
    env = child_env(INDSATS_DATABASE_URL=f"sqlite:///{served_db}", INDSATS_CONFIG="",
                    INDSATS_DATA_DIR=str(options.workdir / "served"), INDSATS_KEY=world.BENCH_KEY.decode())
    log = (options.workdir / "server.log").open("wb")  # a file, not a pipe: nobody reads the access log here
    profile = os.environ.get("INDSATS_BENCH_SERVER_PROFILE")
    command = [sys.executable, "-m", "bench.profiled_server", profile] if profile else indsats_command()
    server = subprocess.Popen([*command, "server", "--socket", str(socket_path), "--no-worker"], env=env,
                              stdout=log, stderr=log)
    try:
        wait_for_socket(socket_path, server, log=options.workdir / "server.log")
        client_env = child_env(INDSATS_SERVER=f"unix:{socket_path}", INDSATS_CONFIG="")
        cli = case_ids[: n_cli * 2 + 4]
        rows = [_cli_advance(cli[: n_cli + 2], client_env, n_cli), _cli_show(cli[n_cli + 2:], client_env, n_cli)]
        rows.append(_throughput(case_ids[n_cli * 2 + 4:], f"unix:{socket_path}", options, me))
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    if profile:
        # By own time: a server's cumulative view is its start and its threads' waits for work.
        rows[-1].profile = profile_file(Path(profile), lines=30, sort="tottime")
        rows[-1].detail += " (the server under cProfile, all of its life)"
    return rows


def _world(path: Path, me: str, n: int) -> list[str]:
    """The organisation plus ``me`` as a medarbejder under lea, and ``n`` cases opened by ``me``."""
    from indsats.engine.cases.service import open_case
    from indsats.engine.org.users import add_user

    ctx = world.make_context(world.sqlite_database(path))
    world.seed_org(ctx)
    add_user(ctx, actor="admin", login=me, name="Bench", role="medarbejder", reports_to="lea")
    ids = [open_case(ctx, actor=me, plan_id=world.PLAN, subject_ref=f"REF-{i}").case_id for i in range(n)]
    ctx.db.dispose()
    for suffix in ("", "-wal", "-shm"):  # the server refuses a database others may read
        target = path.with_name(path.name + suffix)
        if target.exists():
            target.chmod(0o600)
    return ids


def _cli_advance(case_ids: list[str], env: dict[str, str], repeats: int) -> Row:
    command = indsats_command()
    pending = iter(case_ids)
    wall([*command, "advance", next(pending), "notify_leader"], env=env)  # warm up
    timings = interleave(lambda _i: wall([*command, "advance", next(pending), "notify_leader"], env=env),
                         lambda _i: wall([sys.executable, "-c", "import click"], env=env), repeats=repeats)
    ours, theirs = median(timings.indsats), median(timings.reference)
    return Row(
        name="CLI advance, through a server", measure="median wall ms", indsats=ours * 1000, reference=theirs * 1000,
        reference_name='python -c "import click"', goal=f"≤ {CLI_GOAL}× reference", met=ours / theirs <= CLI_GOAL,
        detail=f"`indsats advance CASE notify_leader` with INDSATS_SERVER (unix socket), a new process each, "
               f"{repeats} repeats",
    )


def _cli_show(case_ids: list[str], env: dict[str, str], repeats: int) -> Row:
    command = indsats_command()
    wall([*command, "show", case_ids[0]], env=env)
    timings = interleave(lambda i: wall([*command, "show", case_ids[i % len(case_ids)]], env=env),
                         lambda _i: wall([sys.executable, "-c", "import click"], env=env), repeats=repeats)
    ours, theirs = median(timings.indsats), median(timings.reference)
    return Row(
        name="CLI show, through a server", measure="median wall ms", indsats=ours * 1000, reference=theirs * 1000,
        reference_name='python -c "import click"', goal=f"≤ {CLI_GOAL}× reference", met=ours / theirs <= CLI_GOAL,
        detail=f"`indsats show CASE` with INDSATS_SERVER, a new process each, {repeats} repeats",
    )


def _throughput(case_ids: list[str], address: str, options: Options, me: str) -> Row:
    """Both sides in rounds, interleaved (``interleave``): each round a share of the cases served by the 4
    clients, then as many advanced directly (or the other way round); the ratio is the median of the rounds'."""
    from indsats.client import Connection
    from indsats.engine.cases.service import advance

    rounds = 2 if options.quick else ROUNDS
    size = len(case_ids) // rounds
    direct_db = options.workdir / "direct.db"
    direct_ids = _world(direct_db, me, size * rounds + 1)
    ctx = world.make_context(_open(direct_db))
    advance(ctx, actor=me, case_id=direct_ids.pop(), trigger="notify_leader")  # warm, as the server is

    def served(i: int) -> float:
        errors: list[BaseException] = []

        def client(share: list[str]) -> None:
            try:  # each client keeps its connection, as a program sending many requests does (HTTP keep-alive)
                with Connection(address) as connection:
                    for case_id in share:
                        connection.call("advance", {"case_id": case_id, "trigger": "notify_leader",
                                                    "assignments": []})
            except BaseException as exc:  # noqa: BLE001 (reported below, the figure would be wrong)
                errors.append(exc)

        mine = case_ids[i * size:(i + 1) * size]
        threads = [threading.Thread(target=client, args=(mine[c::CLIENTS],)) for c in range(CLIENTS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"a client failed: {errors[0]!r}")
        return seconds

    def direct(i: int) -> float:
        started = time.perf_counter()
        for case_id in direct_ids[i * size:(i + 1) * size]:
            advance(ctx, actor=me, case_id=case_id, trigger="notify_leader")
        return time.perf_counter() - started

    timings = interleave(served, direct, repeats=rounds)
    ctx.db.dispose()
    ours, theirs = size / median(timings.indsats), size / median(timings.reference)
    ratios = timings.ratios(rate=True)
    return Row(
        name="advances/s, server, 4 clients", measure="advances/s", indsats=ours, reference=theirs,
        reference_name="the service API in one process", goal=f"≥ {THROUGHPUT_GOAL}× reference",
        met=median(ratios) >= THROUGHPUT_GOAL, ratios=ratios,
        detail=f"{size * rounds} `notify_leader` advances on SQLite: {CLIENTS} threads over HTTP on the unix socket, "
               f"a kept-alive connection each, vs `advance()` called in a loop; {rounds} interleaved rounds of {size}",
    )


def _open(path: Path) -> Database:
    from indsats.storage.database import Database

    return Database(f"sqlite:///{path}")
