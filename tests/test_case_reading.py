"""Reading a case as a person: ``show`` gives those who may see the case its notes, the assessment and the
decision under the plan's labels; ``history`` leaves out the ``viewed`` rows unless ``--views`` and writes
values as a person writes them; ``plans validate`` reports every mistake it finds, one line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from test_cli import ASSESS, DECIDE, fails, ok, open_case

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]

SHIPPED = Path(__file__).resolve().parent.parent / "indsats" / "workflows" / "radikalisering.yaml"
PYTHON_LITERALS = ("True", "False", "None", "{'", "['")


@pytest.fixture
def decided(invoke: Invoke, cli_org: Any) -> str:
    """A case opened with a note, assessed and decided through the CLI."""
    case_id = open_case(invoke, None, "--note", "Opslag på skolens intranet")
    ok(invoke(["advance", case_id, "notify_leader"], user="emil"))
    ok(invoke(["advance", case_id, "notify_specialist"], user="lea"))
    ok(invoke(["advance", case_id, "assess", *ASSESS], user="fie"))
    ok(invoke(["advance", case_id, "decide", *DECIDE], user="lea"))
    return case_id


def test_show_gives_the_note_the_assessment_and_the_decision_under_the_plans_labels(
    invoke: Invoke, decided: str
) -> None:
    text = ok(invoke(["show", decided], user="lea")).stdout
    recorded = text[text.index("Recorded:"):]
    assert "Opslag på skolens intranet" in recorded
    assert "Vurdering foretaget" in recorded and "Beslutning om politianmeldelse" in recorded
    assert "Sammenfatning af vurderingen" in recorded and "Samtale med borgeren" in recorded
    assert "Adfærd: stærkt" in recorded  # the signs by the plan's labels, not behaviour:strong
    assert "Politianmeldelse  no" in recorded and "Begrundelse" in recorded and "Ingen strafbare forhold" in recorded
    assert not [w for w in PYTHON_LITERALS if w in recorded]
    record = json.loads(ok(invoke(["show", decided, "--json"], user="fie")).stdout)["record"]
    assert [e["trigger"] for e in record] == [None, "assess", "decide"]
    assert {f["name"]: f["text"] for f in record[2]["fields"]}["police_report"] == "no"
    assert record[0]["note"] == "Opslag på skolens intranet"


def test_who_may_not_see_the_case_reads_none_of_it(invoke: Invoke, decided: str) -> None:
    line = fails(invoke(["show", decided], user="ida"), 3)
    assert "Samtale" not in line and "Opslag" not in line


def test_history_leaves_out_the_reads_unless_views_and_writes_values_as_a_person_does(
    invoke: Invoke, decided: str
) -> None:
    ok(invoke(["show", decided], user="lea"))
    plain = ok(invoke(["history", decided], user="lea")).stdout
    rows = [line.split("\t") for line in plain.splitlines()[1:]]
    assert [r[2] for r in rows] == ["Opened", "Moved on", "Moved on", "Moved on", "Moved on"]
    assert not [w for w in PYTHON_LITERALS if w in plain]
    assess = next(r for r in rows if r[4] == "assess")[7]
    assert "Sammenfatning af vurderingen: Samtale med borgeren" in assess
    assert "Adfærd: stærkt" in assess
    decide = next(r for r in rows if r[4] == "decide")[7]
    assert "Politianmeldelse: no" in decide and "Opfølgning: " in decide
    opened = rows[0][7]
    assert "minor: no" in opened and "deadline: 2026-" in opened and "+00:00" not in opened
    with_views = ok(invoke(["history", decided, "--views"], user="lea")).stdout
    kinds = [line.split("\t")[2] for line in with_views.splitlines()[1:]]
    assert kinds.count("Viewed") == 2  # the show and the history before this one
    assert "command: show" in with_views
    every = json.loads(ok(invoke(["history", decided, "--json"], user="lea")).stdout)
    assert [e["kind"] for e in every].count("viewed") == 3  # --json is the log as stored


def _plan_with(tmp_path: Path, *edits: tuple[str, str]) -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "mistakes.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("edits, fields", [
    (  # three cross-references to nothing
        [("initial: suspected", "initial: mistanke"), ("  ceiling: socialchef ", "  ceiling: borgmester "),
         ("    allowed: [{role: fagspecialist}]\n", "    allowed: [{role: direktør}]\n")],
        ["initial", "escalation.ceiling", "transitions.2.allowed.0"],
    ),
    (  # three schema errors pydantic collects
        [("case_prefix: RAD", "case_prefix: 12"), ("    label: Beslutning truffet\n", "    label: [Beslutning]\n"),
         ("    label: Beslutning om politianmeldelse\n", "    label: {}\n")],
        ["case_prefix", "states.decided.label", "transitions.3.label"],
    ),
])
def test_a_plan_with_three_mistakes_gets_three_lines(
    invoke: Invoke, cli_org: Any, tmp_path: Path, edits: list[tuple[str, str]], fields: list[str]
) -> None:
    path = _plan_with(tmp_path, *edits)
    result = invoke(["plans", "validate", path])
    assert result.exit_code == 5
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    text = Path(path).read_text(encoding="utf-8").splitlines()
    for line, field in zip(lines, fields, strict=True):
        head, severity, where, _message = line.split(": ", 3)
        file, number = head.rsplit(":", 1)
        assert (file, severity, where) == (path, "error", field)
        key = next(p for p in reversed(field.split(".")) if not p.isdigit())
        assert f"{key}:" in text[int(number) - 1]  # the line of the field
    assert result.stderr.startswith("Error: 3 problem(s): ")
    found = json.loads(invoke(["plans", "validate", path, "--json"]).stdout)
    assert [f["field"] for f in found["findings"]] == fields and found["valid"] is False
