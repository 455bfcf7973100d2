"""Packaging: the wheel builds without deprecation warnings and carries its licence and metadata."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_pip_wheel_builds_without_a_deprecation_warning(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    output = run.stdout + run.stderr
    assert "Deprecat" not in output and "deprecat" not in output
    (wheel,) = tmp_path.glob("indsats-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
        assert any(n.endswith("licenses/LICENSE") for n in archive.namelist())
        # The compiled message catalogs travel with the code (indsats.i18n reads them at run time).
        assert {"indsats/locale/da/LC_MESSAGES/indsats.mo", "indsats/locale/en/LC_MESSAGES/indsats.mo"} <= set(
            archive.namelist())
    assert "License-Expression: MIT" in text
    assert "Classifier: Programming Language :: Python :: 3.11" in text
    assert "Project-URL: Source, https://git.example.org/indsats/indsats" in text
    assert "Requires-Dist: holidays<1,>=0.60" in text or "Requires-Dist: holidays>=0.60,<1" in text


def test_the_constraints_pin_every_runtime_dependency() -> None:
    import tomllib

    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    import re

    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is not in constraints.txt: add the version the suite passed with"
