"""CLI start and CLI advance: the wall time of a new ``indsats`` process, against a bare interpreter that
imports only what such a command cannot avoid (``click`` for ``--help``, ``sqlalchemy.orm`` for ``advance``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench import world
from bench.harness import Options, Row, child_env, import_times, interleave, median, profile_file, wall

NAME = "cli"
START_GOAL = 2.0
ADVANCE_GOAL = 1.5
DATABASE_MODULES = ("sqlalchemy", "alembic", "psycopg", "sqlite3", "_sqlite3")
_LOADED = (
    "import sys\nfrom indsats.cli import main\n"
    "try:\n    main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
    f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({DATABASE_MODULES!r})))\n"
)


def indsats_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m indsats``."""
    script = Path(sys.executable).with_name("indsats")
    if script.exists():
        return [str(script)]
    found = shutil.which("indsats")
    return [found] if found else [sys.executable, "-m", "indsats"]


def cli_env(workdir: Path, db_url: str, user: str) -> dict[str, str]:
    return child_env(
        INDSATS_DATABASE_URL=db_url, INDSATS_USER=user, INDSATS_CONFIG="",
        INDSATS_DATA_DIR=str(workdir / "data"),
    )


def run(options: Options) -> list[Row]:
    return [cli_start(options), cli_advance(options)]


def cli_start(options: Options) -> Row:
    repeats = 3 if options.quick else 15
    env = cli_env(options.workdir, f"sqlite:///{options.workdir}/cli-start.db", "admin")
    command = indsats_command()
    wall([*command, "--help"], env=env)  # warm the page cache and the bytecode
    timings = interleave(lambda _i: wall([*command, "--help"], env=env),
                         lambda _i: wall([sys.executable, "-c", "import click"], env=env), repeats=repeats)
    loaded = _loaded_database_modules(env)
    ours, theirs = median(timings.indsats), median(timings.reference)
    row = Row(
        name="CLI start", measure="median wall ms", indsats=ours * 1000, reference=theirs * 1000,
        reference_name='python -c "import click"', goal=f"≤ {START_GOAL}× reference, no database library",
        met=None, ratios=timings.ratios(rate=False),
        detail=f"`indsats --help`, {repeats} repeats; database libraries imported: {', '.join(loaded) or 'none'}",
    )
    row.met = row.ratio is not None and row.ratio <= START_GOAL and not loaded
    if not row.met:
        row.profile = import_times(["-m", "indsats", "--help"], env=env)
    return row


def _loaded_database_modules(env: dict[str, str]) -> list[str]:
    import subprocess

    done = subprocess.run([sys.executable, "-c", _LOADED], capture_output=True, text=True, env=env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("LOADED ")), None)
    if line is None:
        raise RuntimeError(f"could not list the modules 'indsats --help' imports: {done.stderr[-2000:]}")
    return list(eval(line[len("LOADED "):]))  # a printed list of str


HEAVY = ("sqlalchemy", "pydantic", "yaml", "holidays", "transitions", "alembic")


def _heavy_modules(command: list[str], env: dict[str, str], case_id: str) -> list[str]:
    """Which of ``HEAVY`` a real ``indsats advance`` process imports."""
    import subprocess

    code = ("import sys\nfrom indsats.cli import main\n"
            f"try:\n    main(['advance', {case_id!r}, 'notify_leader'])\nexcept SystemExit:\n    pass\n"
            f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    line = next((x for x in done.stdout.splitlines() if x.startswith("LOADED ")), None)
    if line is None:
        raise RuntimeError(f"could not list the modules 'indsats advance' imports: {done.stderr[-2000:]}")
    return list(eval(line[len("LOADED "):]))  # a printed list of str


def cli_advance(options: Options) -> Row:
    repeats = 3 if options.quick else 15
    path = options.workdir / "cli-advance.db"
    ctx = world.make_context(world.sqlite_database(path))
    world.seed_org(ctx)
    case_ids = world.open_cases(ctx, repeats + 4)
    ctx.db.dispose()
    env = cli_env(options.workdir, f"sqlite:///{path}", "emil")
    command = indsats_command()
    pending = iter(case_ids)

    def indsats_side(_i: int) -> float:
        return wall([*command, "advance", next(pending), "notify_leader"], env=env)

    wall([*command, "advance", next(pending), "notify_leader"], env=env)  # warm up
    timings = interleave(indsats_side, lambda _i: wall([sys.executable, "-c", "import sqlalchemy.orm"], env=env),
                         repeats=repeats)
    ours, theirs = median(timings.indsats), median(timings.reference)
    row = Row(
        name="CLI advance", measure="median wall ms", indsats=ours * 1000, reference=theirs * 1000,
        reference_name='python -c "import sqlalchemy.orm"', goal=f"≤ {ADVANCE_GOAL}× reference",
        met=None, ratios=timings.ratios(rate=False),
        detail=f"`indsats advance CASE notify_leader` on SQLite (direct mode, whole process), a new process each, "
               f"{repeats} rounds; imported by it: {', '.join(_heavy_modules(command, env, next(pending))) or 'none'} "
               f"of {', '.join(HEAVY)}",
    )
    row.met = row.ratio is not None and row.ratio <= ADVANCE_GOAL
    if not row.met:
        out = options.workdir / "cli-advance.prof"
        wall([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "indsats", "advance", next(pending),
              "notify_leader"], env=env)
        row.profile = profile_file(out) + "\n" + import_times(
            ["-m", "indsats", "advance", next(pending), "notify_leader"], env=env)
    return row
