"""Bad input never ends as "unexpected … (a bug)" (exit 1): each gets its documented exit code and one line on
stderr (one JSON object under --json), with what was given shown escaped, and no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from test_cli import fails

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]


@pytest.mark.parametrize("content, code, words", [
    (b"key_file = 5\n", 5, "key_file in"),
    (b'plans_dir = ["a", "b"]\n', 5, "plans_dir in"),
    (b'database_url = ["sqlite:///x.db"]\n', 5, "database_url in"),
    (b"busy_timeout_ms = true\n", 5, "busy_timeout_ms in"),
    (b"mail_from = \"\xff\xfe\"\n", 2, "cannot read the config file"),
    (b"\x00\x01\x02binary", 2, "cannot read the config file"),
])
def test_an_ill_typed_or_non_utf8_config_file_is_one_line_with_its_code(
    invoke: Invoke, cli_org: Any, tmp_path: Path, content: bytes, code: int, words: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(content)
    line = fails(invoke(["cases"], INDSATS_CONFIG=str(config)), code)
    assert words in line and "unexpected" not in line


def test_a_binary_plan_file_is_refused_in_one_line(invoke: Invoke, cli_org: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe" * 20)
    for args in (["plans", "validate", str(plan)], ["plans", "export", str(plan)], ["plans", "graph", str(plan)]):
        line = fails(invoke(args), 5)
        assert "not a text file" in line
    result = invoke(["plans", "validate", str(plan), "--json"])
    assert result.exit_code == 5 and json.loads(result.stderr)["exit_code"] == 5


@pytest.mark.parametrize("args", [
    ["report", "--html", "{missing}/report.html"],
    ["plans", "export", "radikalisering", "-o", "{missing}/plan.md"],
    ["plans", "graph", "radikalisering", "-o", "{missing}/plan.mmd"],
    ["archive", "export", "{missing}/archive.json"],
    ["subject", "export", "REF-1", "{missing}/subject.json"],
])
def test_writing_into_a_missing_folder_is_exit_5_in_one_line(
    invoke: Invoke, cli_org: Any, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "no" / "such"
    line = fails(invoke([a.format(missing=missing) for a in args]), 5)
    assert str(missing) in line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("year", ["0", "10000", "-5"])
def test_a_year_outside_the_calendar_is_exit_5(invoke: Invoke, cli_org: Any, year: str) -> None:
    line = fails(invoke(["calendar", "closed", "--year", year]), 5)
    assert f"no year {year}" in line


@pytest.mark.parametrize("command", [["show"], ["history"], ["note", "…", "text"], ["advance", "…", "notify_leader"]])
def test_a_newline_in_a_case_id_is_one_line_with_the_id_escaped(
    invoke: Invoke, cli_org: Any, command: list[str]
) -> None:
    case_id = "RAD-2026-0001\nError: forged\x1b[31m"
    args = [command[0], case_id, *command[2:]]
    line = fails(invoke(args, user="emil"), 3)
    assert "RAD-2026-0001\\nError: forged\\x1b[31m" in line
    result = invoke([*args, "--json"], user="emil")
    assert result.exit_code == 3 and len(result.stderr.splitlines()) == 1
    assert json.loads(result.stderr)["error"].startswith("no case 'RAD-2026-0001\\nError: forged\\x1b[31m'")
