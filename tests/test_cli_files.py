"""One convention for the commands that write a file: ``-o/--output FILE``, ``-`` for stdout where a pipe makes
sense; the older spellings (a PATH argument, ``report --html FILE``) keep working."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from test_cli import fails, ok, open_case
from test_cli_json import every_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]

WRITERS = ["plans export", "plans graph", "report", "archive export", "subject export", "backup"]


def test_every_command_that_writes_a_file_takes_dash_o_and_dash_dash_output() -> None:
    commands = every_command()
    for name in WRITERS:
        opts = {o for p in commands[name].params for o in p.opts}
        assert {"-o", "--output"} <= opts, name


def test_archive_and_subject_export_write_to_stdout_with_dash_and_say_so_on_stderr(
    invoke: Invoke, cli_org: Any, tmp_path: Path
) -> None:
    case_id = open_case(invoke)
    exported = invoke(["subject", "export", "BORGER-REF-1", "-o", "-"])
    assert exported.exit_code == 0, exported.output
    assert case_id in json.dumps(json.loads(exported.stdout))
    assert "Wrote 1 case(s) to stdout." in exported.stderr
    assert not (Path.cwd() / "-").exists()
    archived = invoke(["archive", "export", "--output", "-"])
    assert archived.exit_code == 0, archived.output
    json.loads(archived.stdout)
    assert "Archived 0 case(s) to stdout." in archived.stderr


def test_the_older_spellings_still_write_their_files(invoke: Invoke, cli_org: Any, tmp_path: Path) -> None:
    open_case(invoke)
    ok(invoke(["subject", "export", "BORGER-REF-1", str(tmp_path / "old.json")]))
    ok(invoke(["subject", "export", "BORGER-REF-1", "-o", str(tmp_path / "new.json")]))
    assert json.loads((tmp_path / "old.json").read_text())["subject_ref"] == "BORGER-REF-1"
    assert (tmp_path / "new.json").exists()
    ok(invoke(["report", "--html", str(tmp_path / "old.html")]))
    ok(invoke(["report", "-o", str(tmp_path / "new.html")]))
    assert (tmp_path / "old.html").read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "new.html").read_text().startswith("<!DOCTYPE html>")
    assert "--html" not in ok(invoke(["report", "--help"])).stdout  # a hidden alias
    ok(invoke(["backup", "-o", str(tmp_path / "copy.db")]))
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM cases").fetchone() == (1,)


def test_report_dash_o_dash_writes_only_the_page_to_stdout(invoke: Invoke, cli_org: Any) -> None:
    page = ok(invoke(["report", "-o", "-"])).stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


@pytest.mark.parametrize("args", [
    ["archive", "export", "a.json", "-o", "b.json"],
    ["archive", "export"],
    ["subject", "export", "REF", "a.json", "-o", "b.json"],
    ["archive", "export", "-o", "-", "--json"],
    ["report", "-o", "a.html", "--html", "b.html"],
    ["report", "-o", "-", "--json"],
    ["backup", "-o", "-"],
    ["backup", "a.db", "-o", "b.db"],
])
def test_two_outputs_none_or_stdout_beside_json_is_a_usage_error(invoke: Invoke, cli_org: Any, args: list[str]) -> None:
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_an_export_never_overwrites_a_file(invoke: Invoke, cli_org: Any, tmp_path: Path) -> None:
    target = tmp_path / "there.json"
    target.write_text("keep")
    fails(invoke(["archive", "export", "-o", str(target)]), 5)
    assert target.read_text() == "keep"


def test_a_plan_can_come_from_stdin(invoke: Invoke, cli_org: Any) -> None:
    shipped = (Path(__file__).resolve().parent.parent / "indsats" / "workflows" / "radikalisering.yaml").read_text()
    validated = ok(invoke(["plans", "validate", "-"], input=shipped)).stdout
    assert "-: plan 'radikalisering' is valid" in validated
    document = ok(invoke(["plans", "export", "-", "--format", "md"], input=shipped)).stdout
    assert document.startswith("#")
    wrong = shipped.replace("initial: suspected", "initial: mistanke")
    assert "-:" in invoke(["plans", "validate", "-"], input=wrong).stdout
    line = fails(invoke(["plans", "validate", "-"], input=b"\x7fELF\xff\xfe\x00"), 5)
    assert "not UTF-8" in line
