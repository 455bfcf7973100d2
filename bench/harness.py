"""What every benchmark shares: the options, one result row, interleaved repeats, profiles, child processes.

>>> t = interleave(lambda i: None, lambda i: None, repeats=5)   # doctest: +SKIP
>>> Row(..., ratios=t.ratios(rate=True))                        # doctest: +SKIP

A ratio is the median of the per-round ratios (each round runs both sides back to back, so drift and
the neighbours' load hit both alike), reported with its spread (the lowest and highest round).
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROFILE_LINES = 22


@dataclass(frozen=True, kw_only=True)
class Options:
    """How big and where: ``quick`` for the test suite, a scratch directory, the PostgreSQL server."""

    quick: bool
    workdir: Path
    pg_url: str


@dataclass(kw_only=True)
class Row:
    """One line of the table: the indsats figure, the reference's, their ratio and the goal."""

    name: str
    measure: str  # what the figures are, e.g. "transitions/s"
    indsats: float | None
    reference: float | None
    reference_name: str
    goal: str  # e.g. "≥ 0.5× reference"
    met: bool | None  # None: no goal checked (skipped, or figures only)
    ratio: float | None = None
    detail: str = ""
    profile: str | None = None  # cProfile top entries, for a missed goal
    skipped: str | None = None
    ratios: list[float] | None = None  # one per round (indsats ÷ reference); the ratio is their median
    spread: tuple[float, float] | None = None  # the lowest and the highest of ``ratios``

    def __post_init__(self) -> None:
        if self.ratios:
            self.ratio = statistics.median(self.ratios)
            self.spread = (min(self.ratios), max(self.ratios))
        if self.ratio is None and self.indsats is not None and self.reference:
            self.ratio = self.indsats / self.reference


@dataclass(kw_only=True)
class Timings:
    """Seconds per repeat, for both sides."""

    indsats: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def ratios(self, *, rate: bool) -> list[float]:
        """Per round, indsats ÷ reference of the figure reported: a rate (work per second, the inverse of
        the seconds) or a time."""
        return [(r / i if rate else i / r) for i, r in zip(self.indsats, self.reference, strict=True)]


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleave(
    run_indsats: Callable[[int], float | None],
    run_reference: Callable[[int], float | None],
    *,
    repeats: int,
) -> Timings:
    """Run both sides ``repeats`` times, alternating which goes first, so drift hits both alike.

    Each callable gets the repeat number and returns its own measured seconds (or None to be timed
    around the call, when it has no setup of its own to leave out).
    """
    timings = Timings()
    for i in range(repeats):
        order = [(run_indsats, timings.indsats), (run_reference, timings.reference)]
        if i % 2:
            order.reverse()
        for run, into in order:
            start = time.perf_counter()
            measured = run(i)
            into.append(time.perf_counter() - start if measured is None else measured)
    return timings


def profile_call(fn: Callable[[], Any], *, lines: int = PROFILE_LINES) -> str:
    """Run ``fn`` under cProfile and return its top entries by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    return format_stats(pstats.Stats(profiler), lines=lines)


@contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Profile the block into ``path`` (a pstats file); without a path, just run it."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def format_stats(stats: pstats.Stats, *, lines: int = PROFILE_LINES, sort: str = "cumulative") -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(lines)
    return shorten_paths(_from_header(out.getvalue()))


def profile_file(path: Path, *, lines: int = PROFILE_LINES, sort: str = "cumulative") -> str:
    return format_stats(pstats.Stats(str(path)), lines=lines, sort=sort)


def _from_header(text: str) -> str:
    kept = text.splitlines()
    for i, line in enumerate(kept):
        if "ncalls" in line:
            total = next((x.strip() for x in kept[:i] if "function calls" in x), "")
            return "\n".join([total, "", *kept[i:]]).rstrip() + "\n"
    return text


def shorten_paths(text: str) -> str:
    """Profiles name files; print them relative to the project or site-packages, not this machine."""
    prefixes = sorted({str(ROOT) + os.sep, *(p + os.sep for p in sys.path if p and "site-packages" in p),
                       os.path.dirname(os.__file__) + os.sep}, key=len, reverse=True)
    for prefix in prefixes:
        text = text.replace(prefix, "")
    return text


# -- worlds ------------------------------------------------------------------------------------------


@contextmanager
def world_file(name: str, build: Callable[[Path], Any], *, builders: Iterable[ModuleType],
               workdir: Path) -> Iterator[tuple[Path, bool]]:
    """The SQLite file of world ``name`` and whether it was kept: the kept one (``bench.world.cached_world``,
    ``$INDSATS_BENCH_WORLDS``), or, without that folder, ``workdir/NAME.db`` built by ``build(path)`` for this
    block and deleted when it ends."""
    from bench import world

    kept = world.cached_world(name, build, builders=builders)
    path = kept or workdir / f"{name}.db"
    if kept is None:
        build(path)
    try:
        yield path, kept is not None
    finally:
        if kept is None:
            path.unlink(missing_ok=True)


# -- child processes ------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    # Not PYTHONDONTWRITEBYTECODE: an installed indsats has its bytecode, as the references' packages have theirs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDSATS_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_child(target: str, args: dict[str, Any], *, profile_to: Path | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run ``module:function(**args)`` in a fresh interpreter (``bench.child``) and return its JSON result.

    A child is a clean process: its peak RSS is its own, and nothing it imports warms up the next run.
    """
    command = [sys.executable, "-m", "bench.child", target, json.dumps(args)]
    if profile_to is not None:
        command.append(str(profile_to))
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{target} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_for_socket(path: Path, process: subprocess.Popen[bytes], *, timeout: float = 60.0,
                    log: Path | None = None) -> None:
    """Until a connection to the unix socket ``path`` succeeds (``indsats server`` listens); ``RuntimeError``
    with the server's output (its stderr pipe, or ``log``) when it exits first or does not listen in time.
    Shared by the benchmarks and the tests that start a server."""
    import socket

    def output() -> str:
        if log is not None:
            return log.read_text(errors="replace")[-3000:]
        if process.stderr is not None and process.poll() is not None:
            return process.stderr.read().decode(errors="replace")[-3000:]
        return ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"indsats server exited {process.returncode}: {output()}")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)  # waiting for the process to listen, not for time to pass
        finally:
            probe.close()
    raise RuntimeError(f"indsats server did not listen on {path} within {timeout} s: {output()}")


def wall(command: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> float:
    """Seconds a new process takes, from spawn to exit."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return seconds


def measure_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds from spawn to exit, CPU seconds (user + system) and peak RSS in MB of one run of ``command``, as GNU
    time reports them: a child forked from this (large) process starts with this process's RSS as its high-water
    mark, one forked from ``time`` does not. Without ``/usr/bin/time`` the CPU seconds and the peak are NaN."""
    timed = Path("/usr/bin/time").exists()
    with tempfile.NamedTemporaryFile(suffix=".time") as out:
        wrapped = ["/usr/bin/time", "-f", "%U %S %M", "-o", out.name, *command] if timed else command
        started = time.perf_counter()
        done = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
        text = Path(out.name).read_text().strip()
    if not text:
        return seconds, float("nan"), float("nan")
    user, system, kb = text.splitlines()[-1].split()
    return seconds, float(user) + float(system), int(kb) / 1024


def import_times(command_args: list[str], *, env: dict[str, str], top: int = 25) -> str:
    """``python -X importtime``: the imports a command pays for (three levels deep), by cumulative time."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command_args], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 2:  # deeper imports are counted in their parents' cumulative time
            rows.append((int(cumulative_us), int(self_us), "  " * depth + name.strip()))
    rows.sort(reverse=True)
    lines = [f"{'cumulative ms':>14} {'self ms':>8}  import, indented by depth (python -X importtime)"]
    lines += [f"{c / 1000:>14.1f} {s / 1000:>8.1f}  {n}" for c, s, n in rows[:top]]
    return "\n".join(lines) + "\n"
