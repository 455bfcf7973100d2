"""``indsats stuck --all --csv`` through ``indsats server``: the peak RSS of the server and of the client at
100,000 and 1,000,000 cases (``bench.supervisors``' world). Both stream (the server sends each case as it
reads it, the client prints each as it arrives), so neither peak may grow with the list.

A fresh server per size, so its high-water mark (``VmHWM``) is that size's; the client is measured as
``bench.supervisors`` measures a command (GNU time). The caller's OS login is the world's supervisor: through
a server the actor is always the caller.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from bench import supervisors, world
from bench.cli_start import indsats_command
from bench.harness import Options, Row, child_env, measure_process, wait_for_socket, world_file

NAME = "served-stuck"
FLAT = 1.2  # the bigger run's peak at most this many times the smaller's


def build(path: Path, n: int) -> None:
    """``bench.supervisors``' world of ``n`` cases, with this OS login as a supervisor; private, as the server
    wants its database."""
    from indsats.engine.org.users import add_user
    from indsats.locations import os_login

    supervisors.make_world(path, n)
    ctx = world.make_context(world.sqlite_database(path))
    add_user(ctx, actor="admin", login=os_login(), name="Bench", role="supervisor")
    ctx.db.dispose()
    path.chmod(0o600)


def run(options: Options, sizes: tuple[int, int] | None = None) -> list[Row]:
    small, big = sizes or ((1_000, 5_000) if options.quick else (100_000, 1_000_000))
    figures: dict[int, tuple[float, float, float, int]] = {}
    for n in (small, big):
        with world_file(f"served-stuck-{n}", functools.partial(build, n=n), builders=_builders(),
                        workdir=options.workdir) as (path, _kept):
            figures[n] = _measure(path, options.workdir / f"served-{n}")
        seconds, client_mb, server_mb, lines = figures[n]
        print(f"  stuck --all --csv via server, {n:,} cases: {seconds:.1f} s, client {client_mb:.0f} MB, "
              f"server {server_mb:.0f} MB, {lines:,} lines", file=sys.stderr, flush=True)
    (_, c1, s1, l1), (s2_time, c2, s2, l2) = figures[small], figures[big]
    detail = (f"`indsats stuck --all --at {supervisors.AT} --csv` with INDSATS_SERVER (unix socket), {l2 - 1:,} "
              f"cases listed of {big:,} in {s2_time:.0f} s, against {l1 - 1:,} of {small:,}; a fresh server per size")
    return [
        Row(name="stuck --all --csv via server, client peak RSS", measure="MB", indsats=c2, reference=c1,
            reference_name=f"the same at {small:,} cases", goal=f"≤ {FLAT}× the smaller run (it streams)",
            met=c2 <= FLAT * c1, detail=f"ru_maxrss of the client; {detail}"),
        Row(name="stuck --all --csv via server, server peak RSS", measure="MB", indsats=s2, reference=s1,
            reference_name=f"the same at {small:,} cases", goal=f"≤ {FLAT}× the smaller run (it streams)",
            met=s2 <= FLAT * s1, detail=f"VmHWM of `indsats server`; {detail}"),
    ]


def _measure(path: Path, workdir: Path) -> tuple[float, float, float, int]:
    """Seconds and peak MB of the client, the server's peak MB, and the lines printed."""
    socket_path = workdir / "run" / "indsats.sock"
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env(INDSATS_DATABASE_URL=f"sqlite:///{path}", INDSATS_CONFIG="", INDSATS_DATA_DIR=str(workdir / "data"),
                    INDSATS_KEY=world.BENCH_KEY.decode())
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([*indsats_command(), "server", "--socket", str(socket_path), "--no-worker"],
                                  env=env, stdout=log, stderr=log)
        try:
            wait_for_socket(socket_path, server, log=log_path)
            client_env = child_env(INDSATS_SERVER=f"unix:{socket_path}", INDSATS_CONFIG="")
            command = [*indsats_command(), "stuck", "--all", "--at", supervisors.AT, "--csv"]
            seconds, _cpu, client_mb = measure_process(command, client_env)
            lines = _lines(command, client_env)
            server_mb = _high_water_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return seconds, client_mb, server_mb, lines


def _lines(command: list[str], env: dict[str, str]) -> int:
    """How many lines the command prints (counted as they pass, not kept)."""
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE) as done:
        assert done.stdout is not None
        count = sum(1 for _ in done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}")
    return count


def _high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _builders() -> tuple[ModuleType, ...]:
    import bench.served_stuck

    return bench.served_stuck, supervisors, world
