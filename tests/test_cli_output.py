"""Output that fits scripts and terminals: TSV when piped, readable blocks in a narrow terminal, JSON errors,
CSV cells a spreadsheet will not run, control characters escaped, ``-`` for stdout."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import process_env
from test_cli import ok, open_case, register_org

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]


@pytest.fixture
def world(invoke: Invoke) -> None:
    register_org(invoke)


def test_piped_cases_are_tsv_with_a_header_and_grep_finds_every_id(
    invoke: Invoke, world: None, cli_db_url: str, tmp_path: Path
) -> None:
    ids = [open_case(invoke) for _ in range(3)]
    pipeline = subprocess.run(
        f"{sys.executable} -m indsats cases | grep -c {ids[1]}", shell=True, capture_output=True, text=True,
        env=process_env(tmp_path, cli_db_url, user="emil"), timeout=60,
    )
    assert pipeline.stdout.strip() == "1", pipeline.stderr
    lines = ok(invoke(["cases"], user="emil")).stdout.splitlines()
    assert lines[0].split("\t")[0] == "case"
    assert sorted(line.split("\t")[0] for line in lines[1:]) == sorted(ids)
    assert {len(line.split("\t")) for line in lines} == {len(lines[0].split("\t"))}


def test_a_table_in_a_60_column_terminal_keeps_every_line_within_60_and_every_id_whole(
    invoke: Invoke, world: None, cli_db_url: str, tmp_path: Path
) -> None:
    case_id = open_case(invoke)
    leader, follower = pty.openpty()
    env = {**process_env(tmp_path, cli_db_url, user="sup"), "COLUMNS": "60", "LINES": "40", "TERM": "dumb"}
    done = subprocess.run([sys.executable, "-m", "indsats", "stuck", "--at", "2027-06-01T10:00"], stdout=follower,
                          stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 0, done.stderr
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    lines = text.splitlines()
    assert case_id in text
    assert max(len(line) for line in lines) <= 60, text


def test_with_json_an_error_is_one_json_object_on_stderr(invoke: Invoke, world: None) -> None:
    missing = invoke(["show", "RAD-2026-9999", "--json"])
    assert missing.exit_code == 3
    assert json.loads(missing.stderr) == {"error": json.loads(missing.stderr)["error"], "exit_code": 3}
    assert missing.stdout == ""
    usage = invoke(["cases", "--json", "--nonsense"])
    assert usage.exit_code == 2
    assert json.loads(usage.stderr)["exit_code"] == 2
    plain = invoke(["show", "RAD-2026-9999"])
    assert plain.stderr.startswith("Error: ")


def test_a_formula_in_a_note_is_neutralised_in_the_csv(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    formula = '=HYPERLINK("http://example.org/x","klik")'
    ok(invoke(["note", case_id, formula], user="emil"))
    text = ok(invoke(["history", case_id, "--csv"], user="emil")).stdout
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], cells
    assert "'" + formula in cells


def test_control_characters_from_a_note_reach_neither_the_terminal_nor_the_tsv_raw(
    invoke: Invoke, world: None
) -> None:
    case_id = open_case(invoke)
    ok(invoke(["note", case_id, "rød\x1b[2J\x1b[31mtekst\nlinje to"], user="emil"))
    text = ok(invoke(["history", case_id], user="emil")).stdout
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
    assert all(len(line.split("\t")) == 8 for line in text.splitlines())


def test_export_to_dash_writes_stdout_and_no_file_named_dash(
    invoke: Invoke, world: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = ok(invoke(["plans", "export", "radikalisering", "-o", "-"]))
    assert result.stdout.startswith("#")
    assert not (tmp_path / "-").exists()


def test_writing_into_a_missing_folder_is_invalid_in_one_line(invoke: Invoke, world: None, tmp_path: Path) -> None:
    result = invoke(["plans", "export", "radikalisering", "-o", str(tmp_path / "nowhere" / "plan.md")])
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
