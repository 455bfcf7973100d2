"""``python -m bench [--quick] [--only NAME] [--output FILE]``: run the benchmarks, print the table, write the report.

Without ``--only``, the report goes to ``BENCHMARKS.md`` at the project root (or ``--output``); with
``--only``, only to ``--output`` when one is given, so a partial run never replaces the full report.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    cli_start, durable_advance, postgres, served_stuck, server, smtp_sweep, stuck, supervisors, sweep_outbox,
    verify_scale,
)
from bench.harness import ROOT, Options, Row
from bench.report import command_line, markdown, terminal

BENCHMARKS = {m.NAME: m for m in (durable_advance, cli_start, server, stuck, supervisors, served_stuck, verify_scale,
                                        sweep_outbox, smtp_sweep, postgres)}
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no PostgreSQL scaling (the test suite's run)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, help="write the report here (default: BENCHMARKS.md at the root)")
    parser.add_argument("--pg-url", default=os.environ.get("INDSATS_BENCH_PG_URL")
                        or os.environ.get("INDSATS_TEST_PG_URL", DEFAULT_PG_URL), help="PostgreSQL server URL")
    return parser.parse_args(argv)


def _pg_version(pg_url: str) -> str | None:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        from bench.postgres import _connect_args

        with psycopg.connect(**_connect_args(make_url(pg_url)), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]).split()[0] if row else None
    except Exception:  # noqa: BLE001 (the version is decoration; its absence is not an error)
        return None


def main(argv: list[str]) -> int:
    args = parse(argv)
    chosen = args.only or list(BENCHMARKS)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="indsats-bench-") as scratch:
        options = Options(quick=args.quick, workdir=Path(scratch), pg_url=args.pg_url)
        for name in chosen:
            started = time.perf_counter()
            print(f"… {name}", file=sys.stderr, flush=True)
            rows += BENCHMARKS[name].run(options)
            print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(terminal(rows))
    output = args.output or (None if args.only else ROOT / "BENCHMARKS.md")
    if output is not None:
        pg = None if args.quick or "postgresql" not in chosen else _pg_version(args.pg_url)
        output.write_text(markdown(rows, quick=args.quick, command=command_line(), pg_version=pg), encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
