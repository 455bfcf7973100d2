"""Nothing sensitive in argv: the subject reference, notes and a pause's reason can come from a file or stdin
(``--subject-file``, ``--note-file``, ``--reason-file``; ``-`` is stdin), so ``ps`` and the shell history never see
them. The plain options stay; giving both is a usage error (exit 2); an empty file is refused (exit 5)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import process_env
from test_cli import fails, ok, open_case, register_org, show_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]

SECRET_REF = "CPR-SECRET-0101-4242"
SECRET_NOTE = "Naboen fortalte om bekymrende opslag"


@pytest.fixture
def world(invoke: Invoke) -> None:
    register_org(invoke)


def _every_cmdline() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:  # a process that ended meanwhile
                continue
    return found


def _history_notes(invoke: Invoke, case_id: str) -> list[str]:
    events = json.loads(ok(invoke(["history", case_id, "--json"])).stdout)
    return [str((e.get("payload") or {}).get("note")) for e in events if (e.get("payload") or {}).get("note")]


@pytest.mark.slow
def test_open_with_the_subject_on_stdin_leaves_it_out_of_every_processes_cmdline(
    invoke: Invoke, world: None, cli_db_url: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "indsats", "open", "radikalisering", "--subject-file", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env(tmp_path, cli_db_url, user="emil"),
    )
    try:
        # It cannot finish before its stdin has the reference: once it has exec'd, what `ps` shows of it (and
        # of every other process) now is what it shows while the reference is in its hands.
        own = Path(f"/proc/{process.pid}/cmdline")
        for _ in range(600):
            if b"--subject-file" in own.read_bytes():
                break
            time.sleep(0.05)  # waiting for the exec, not measuring anything
        assert own.read_bytes().split(b"\0")[-3:] == [b"--subject-file", b"-", b""]
        everywhere = _every_cmdline()
        out, err = process.communicate(SECRET_REF.encode() + b"\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert not [line for line in everywhere if SECRET_REF.encode() in line]
    case_id = out.decode().splitlines()[-1]
    assert show_json(invoke, case_id, "emil")["subject_ref"] == SECRET_REF


def test_the_subject_and_the_note_from_files_are_recorded_as_given_trimmed(
    invoke: Invoke, world: None, tmp_path: Path
) -> None:
    (tmp_path / "ref").write_text(f"  {SECRET_REF}\n", encoding="utf-8")
    opened = ok(invoke(["open", "radikalisering", "--subject-file", str(tmp_path / "ref"), "--note-file", "-"],
                       user="emil", input=SECRET_NOTE + "\n"))
    case_id = opened.stdout.splitlines()[-1]
    assert show_json(invoke, case_id, "emil")["subject_ref"] == SECRET_REF
    assert _history_notes(invoke, case_id) == [SECRET_NOTE]


def test_advance_note_and_assign_take_their_note_from_a_file_or_stdin(
    invoke: Invoke, world: None, tmp_path: Path
) -> None:
    case_id = open_case(invoke)
    (tmp_path / "note").write_text("Politiet kontaktet\n", encoding="utf-8")
    ok(invoke(["advance", case_id, "notify_leader", "--note-file", str(tmp_path / "note")], user="emil"))
    ok(invoke(["note", case_id, "--note-file", "-"], user="emil", input="Ringede til skolen\n"))
    ok(invoke(["assign", case_id, "emil", "--note-file", "-"], user="sup", input="Kender familien\n"))
    assert _history_notes(invoke, case_id) == ["Politiet kontaktet", "Ringede til skolen", "Kender familien"]


def test_pause_takes_its_reason_from_stdin(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    ok(invoke(["advance", case_id, "notify_leader"], user="emil"))
    ok(invoke(["pause", case_id, "--reason-file", "-"], user="lea", input="Afventer politiet\n"))
    assert "Afventer politiet" in ok(invoke(["show", case_id], user="lea")).stdout


def test_subject_export_takes_the_reference_from_stdin(invoke: Invoke, world: None, tmp_path: Path) -> None:
    case_id = open_case(invoke)
    target = tmp_path / "subject.json"
    ok(invoke(["subject", "export", "--subject-file", "-", str(target)], input="BORGER-REF-1\n"))
    assert case_id in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [
    ["open", "radikalisering", "--subject", "REF-1", "--subject-file", "-"],
    ["open", "radikalisering", "--subject", "REF-1", "--note", "x", "--note-file", "-"],
    ["open", "radikalisering"],
    ["open", "radikalisering", "--subject-file", "-", "--note-file", "-"],
    ["note", "RAD-2026-0001", "text", "--note-file", "-"],
    ["note", "RAD-2026-0001"],
    ["pause", "RAD-2026-0001", "--reason", "x", "--reason-file", "-"],
    ["subject", "export", "REF", "--subject-file", "-", "out.json"],
])
def test_both_or_neither_of_a_text_and_its_file_is_a_usage_error(
    invoke: Invoke, world: None, args: list[str]
) -> None:
    result = invoke(args, user="emil", input="REF-2\n")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "REF-2" not in result.output


@pytest.mark.parametrize("content", ["", "  \n\n"])
def test_an_empty_subject_or_note_file_is_refused_in_one_line(
    invoke: Invoke, world: None, tmp_path: Path, content: str
) -> None:
    empty = tmp_path / "empty"
    empty.write_text(content, encoding="utf-8")
    line = fails(invoke(["open", "radikalisering", "--subject-file", str(empty)], user="emil"), 5)
    assert "--subject-file" in line and "empty" in line
    line = fails(invoke(["open", "radikalisering", "--subject", "REF-1", "--note-file", "-"], user="emil",
                        input=content), 5)
    assert "--note-file stdin is empty" in line
    assert json.loads(ok(invoke(["cases", "--json"])).stdout) == []


def test_a_missing_note_file_is_one_line_with_exit_5(invoke: Invoke, world: None, tmp_path: Path) -> None:
    case_id = open_case(invoke)
    line = fails(invoke(["note", case_id, "--note-file", str(tmp_path / "nope.txt")], user="emil"), 5)
    assert "nope.txt" in line


def test_a_fields_value_can_come_from_a_file_or_stdin(invoke: Invoke, world: None, tmp_path: Path) -> None:
    case_id = open_case(invoke)
    ok(invoke(["advance", case_id, "notify_leader"], user="emil"))
    ok(invoke(["advance", case_id, "notify_specialist"], user="lea"))
    (tmp_path / "summary").write_text("Samtale med borgeren om opslag\n", encoding="utf-8")
    ok(invoke(["advance", case_id, "assess", "--set-file", f"summary={tmp_path / 'summary'}",
               "--set-file", "signs=-"], user="fie", input="behaviour:strong\n"))
    events = json.loads(ok(invoke(["history", case_id, "--json"])).stdout)
    (assessed,) = [e for e in events if e["trigger"] == "assess"]
    assert assessed["payload"]["fields"] == {"summary": "Samtale med borgeren om opslag",
                                             "signs": {"behaviour": "strong"}}


@pytest.mark.parametrize("args, code", [
    (["--set-file", "summary=-", "--note-file", "-"], 2),
    (["--set-file", "summary"], 2),
    (["--set-file", "=x"], 2),
    (["--set-file", "summary=-", "--set", "summary=x"], 5),
])
def test_a_bad_set_file_is_refused_in_one_line(invoke: Invoke, world: None, args: list[str], code: int) -> None:
    case_id = open_case(invoke)
    result = invoke(["advance", case_id, "notify_leader", *args], user="emil", input="x\n")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
