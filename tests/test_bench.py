"""The benchmarks never rot: ``python -m bench --quick`` runs every benchmark and reports figures for each row.

It asserts that each benchmark ran and produced numbers, never how fast anything was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "durable advance",
    "CLI start",
    "CLI advance",
    "CLI advance, through a server",
    "CLI show, through a server",
    "advances/s, server, 4 clients",
    "stuck, top 50",
    "stuck, per-state counts",
    "stuck, whole process",
    "stuck, whole-process peak RSS",
    "report, whole process",
    "report, whole-process peak RSS",
    "stuck --all --csv, peak RSS",
    "verify, peak RSS",
    "verify, time per event",
    "sweep",
    "sweep, peak RSS",
    "SMTP sweep",
)
SKIPPED_IN_QUICK = ("PostgreSQL advance, 4 workers", "PostgreSQL sweep, 4 workers")
NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.mark.slow
def test_quick_benchmarks_report_a_figure_and_a_ratio_for_every_row(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split("|")[1].strip(): line for line in report.read_text(encoding="utf-8").splitlines()
             if line.startswith("| ") and not line.startswith("| benchmark")}
    for name in ROWS:
        assert name in lines, f"no row for {name!r}"
        cells = [c.strip() for c in lines[name].split("|")[1:-1]]
        _, ours, reference, ratio, _goal, result = cells
        assert re.match(NUMBER, ours) and re.match(NUMBER, reference), lines[name]
        # the median of the per-round ratios, and their spread where there are several rounds
        assert re.fullmatch(NUMBER + "×" + rf"(?: \({NUMBER}–{NUMBER}\))?", ratio), lines[name]
        assert result in ("met", "**missed**"), lines[name]
    for name in SKIPPED_IN_QUICK:
        assert name in lines and "skipped" in lines[name], f"no row for {name!r}"
    assert "Python" in report.read_text(encoding="utf-8") and "SQLite" in report.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_partial_run_leaves_the_full_report_alone(tmp_path: Path) -> None:
    before = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8") if (ROOT / "BENCHMARKS.md").exists() else None
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "cli"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "CLI start" in done.stdout
    after = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8") if (ROOT / "BENCHMARKS.md").exists() else None
    assert after == before


@pytest.mark.slow
def test_a_kept_world_is_built_once_and_reused(tmp_path: Path) -> None:
    worlds = tmp_path / "worlds"
    env = {**os.environ, "INDSATS_BENCH_WORLDS": str(worlds)}

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--quick", "--only", "verify"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "verify, peak RSS" in done.stdout
        return done.stdout

    run()
    kept = sorted(worlds.glob("*.db"))
    # one world per size, named by the schema head and the builder's fingerprint; nothing half-built left
    assert [p.name.split("-")[:2] for p in kept] == [["verify", "20x1000"], ["verify", "20x200"]], kept
    assert not list(worlds.glob("*building*"))
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    run()
    assert sorted(worlds.glob("*.db")) == kept
    assert {p: p.stat().st_mtime_ns for p in kept} == stamps  # read again, not rebuilt
