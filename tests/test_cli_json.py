"""``--json`` on every command: the whole command tree, walked from click's group, each command that can run
once with minimal valid arguments on a small organisation with a case; its stdout parses as JSON. Writes return
their outcome (case id, state, deadline, event seq)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pytest

from test_cli import open_case

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from click.testing import Result

    Invoke = Callable[..., Result]

# Long-running: they have no outcome to print as one object.
NOT_ONE_OUTCOME = {
    "worker": "runs until stopped; --log-format json makes its log lines JSON",
    "server": "runs until stopped; --log-format json makes its log lines JSON",
}
PLAN_FILE = str(Path(__file__).resolve().parent.parent / "indsats" / "workflows" / "radikalisering.yaml")


def leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def every_command() -> dict[str, click.Command]:
    from indsats.cli import main

    return {" ".join(path): command for path, command in leaves(main)}


def test_every_command_that_can_run_has_a_json_option() -> None:
    missing = [name for name, command in every_command().items()
               if name not in NOT_ONE_OUTCOME and "--json" not in {o for p in command.params for o in p.opts}]
    assert missing == []


def runs(tmp_path: Path, case_id: str) -> list[tuple[str, list[str], str]]:
    """(command, its arguments, who runs it), in an order where each finds what it needs."""
    return [
        ("init", [], "admin"),
        ("users add", ["nina", "--name", "Nina", "--role", "medarbejder", "--reports-to", "lea"], "admin"),
        ("users grant", ["nina", "leder"], "admin"),
        ("users revoke", ["nina", "leder"], "admin"),
        ("users edit", ["nina", "--unit", "skole"], "admin"),
        ("users deputy", ["lea", "--to", "leo"], "admin"),
        ("users list", [], "admin"),
        ("users deactivate", ["nina"], "admin"),
        ("users reactivate", ["nina"], "admin"),
        ("open", ["radikalisering", "--subject", "BORGER-REF-2"], "emil"),
        ("advance", [case_id, "notify_leader"], "emil"),
        ("note", [case_id, "Ringede til skolen"], "emil"),
        ("assign", [case_id, "emil"], "sup"),
        ("pause", [case_id, "--reason", "Afventer politiet"], "lea"),
        ("resume", [case_id], "lea"),
        ("show", [case_id], "lea"),
        ("history", [case_id], "admin"),
        ("cases", [], "emil"),
        ("tasks", [], "lea"),
        ("verify", [], "admin"),
        ("seal", [], "admin"),
        ("plans list", [], "admin"),
        ("plans show", ["radikalisering"], "admin"),
        ("plans validate", [PLAN_FILE], "admin"),
        ("plans check", ["radikalisering"], "admin"),
        ("plans export", ["radikalisering"], "admin"),
        ("plans graph", ["radikalisering", "-o", str(tmp_path / "plan.mmd")], "admin"),
        ("remind", ["--dry-run"], "admin"),
        ("calendar due", ["2026-03-02T10:00", "2", "hverdage"], "admin"),
        ("calendar closed", ["--year", "2026"], "admin"),
        ("stuck", [], "sup"),
        ("report", [], "sup"),
        ("audit", [case_id], "admin"),
        ("access sample", [], "admin"),
        ("access review", [], "admin"),
        ("archive export", [str(tmp_path / "archive.json")], "admin"),
        ("purge", ["--dry-run"], "admin"),
        ("subject export", ["BORGER-REF-1", str(tmp_path / "subject.json")], "admin"),
        ("backup", [str(tmp_path / "backup.db")], "admin"),
        ("keys new", [str(tmp_path / "new.key")], "admin"),
        ("keys rotate", [], "admin"),
        ("db status", [], "admin"),
        ("health", [], "admin"),
        ("demo", [], "admin"),
    ]


def test_json_parses_on_every_command_and_writes_return_their_outcome(
    invoke: Invoke, cli_org: Any, tmp_path: Path
) -> None:
    case_id = open_case(invoke)
    planned = runs(tmp_path, case_id)
    assert sorted({name for name, _, _ in planned} | set(NOT_ONE_OUTCOME)) == sorted(every_command())
    out: dict[str, Any] = {}
    for name, args, user in planned:
        result = invoke([*name.split(), *args, "--json"], user=user)
        assert result.exit_code == 0, f"{name}: {result.output}"
        try:
            out[name] = json.loads(result.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"{name} --json printed no JSON: {result.stdout!r}")
    opened = out["open"]
    assert set(opened) >= {"case_id", "state", "deadline", "event_seq"} and opened["state"] == "suspected"
    assert out["advance"]["case_id"] == case_id and out["advance"]["state"] == "leader_notified"
    assert out["advance"]["from_state"] == "suspected" and out["advance"]["deadline"]
    assert out["note"]["case_id"] == case_id and out["note"]["event_seq"] > out["advance"]["event_seq"]
    assert out["assign"]["event_seq"] > out["note"]["event_seq"]
    assert out["pause"]["paused"] is True and out["resume"]["paused"] is False
    assert out["users add"]["login"] == "nina" and out["users edit"]["unit"] == "skole"
    assert out["users deactivate"] == {"login": "nina", "active": False, "handed_over_to": None, "cases": [],
                                       "reports_moved": []}
    assert out["plans validate"]["valid"] is True and out["plans validate"]["plan_id"] == "radikalisering"
    assert out["plans export"]["text"].startswith("#") and out["plans graph"]["file"].endswith("plan.mmd")
    assert out["calendar due"]["due"].startswith("2026-03-04")
    assert out["purge"] == {"dry_run": True, "cases": [], "refused": []}
    assert out["subject export"]["cases"] == [case_id]
    assert out["backup"]["size_bytes"] > 0
    assert out["demo"]["verified"] is True and out["demo"]["state"] == "decided"
    assert out["init"]["admin"] is None  # the database was there: nobody new registered


def test_a_refusal_under_json_is_one_object_on_stderr_and_nothing_on_stdout(invoke: Invoke, cli_org: Any) -> None:
    case_id = open_case(invoke)
    result = invoke(["advance", case_id, "decide", "--json"], user="emil")
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert error["exit_code"] == result.exit_code and result.exit_code in (4, 5)
