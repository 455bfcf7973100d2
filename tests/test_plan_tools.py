"""The plan author's tools: export the plan as the template's document, draw it as a graph, and validate a
plan file completely, including against the registered users when a database is reachable."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from indsats.cli import main
from indsats.adapters.plan_files import SHIPPED
from indsats.adapters.plan_files import load_plan
from indsats.engine.plans.schema import Plan
from indsats.engine.plans.checks import Severity, check_plan

SHIPPED_FILE = SHIPPED / "radikalisering.yaml"
SHIPPED_TEXT = SHIPPED_FILE.read_text(encoding="utf-8")
SECTIONS = (
    "Situation",
    "Alarmering",
    "Opgaver",
    "Handling",
    "Ledelse og organisation",
    "Bemanding og udstyr",
    "Kommunikation",
    "Kontaktoplysninger",
    "Evt. andre opmærksomhedspunkter",
    "Oprettelse/revision",
    "Handlekort",
)
# A whole organisation whose chains reach the ceiling: login → (role, reports_to, e-mail).
COMPLETE_ORG = {
    "sol": ("socialchef", None),
    "lea": ("leder", "sol"),
    "emil": ("medarbejder", "lea"),
    "fie": ("fagspecialist", "sol"),
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SHIPPED_FILE)


@pytest.fixture
def cli(tmp_path: Path):
    """``cli(args)``: run the command line as admin against a SQLite file in tmp_path (initialised, with only
    the admin registered: every command needs a registered actor)."""
    runner = CliRunner()
    env = {
        "INDSATS_USER": "admin",
        "INDSATS_DATABASE_URL": f"sqlite:///{tmp_path}/tools.db",
        "INDSATS_CONFIG": "",
        "INDSATS_DATA_DIR": str(tmp_path / "data"),
        "INDSATS_PLANS_DIR": None,
        "INDSATS_DEBUG": None,
    }

    def run(args: list[str]) -> Result:
        return runner.invoke(main, args, env=env)

    assert run(["init"]).exit_code == 0
    return run


def register(cli, org: dict[str, tuple[str, str | None]]) -> None:
    assert cli(["init"]).exit_code == 0
    for login, (role, reports_to) in org.items():
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        if reports_to:
            args += ["--reports-to", reports_to]
        result = cli(args)
        assert result.exit_code == 0, result.output


def broken(tmp_path: Path, *edits: tuple[str, str]) -> str:
    """The shipped plan with each (old, new) edit applied once, written to tmp_path; returns its path."""
    text = SHIPPED_TEXT
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} must appear once in the shipped plan"
        text = text.replace(old, new)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def line_of(path: str, needle: str) -> int:
    text = Path(path).read_text(encoding="utf-8")
    return text.count("\n", 0, text.index(needle)) + 1


def headings_in_order(text: str, pattern: str) -> list[str]:
    return [h for h in re.findall(pattern, text) if h in SECTIONS]


# -- export ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("danish")  # the plan document in the shipped plan's language
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_export_has_every_template_section_in_order_with_states_cards_and_registered_contacts(cli, plan, fmt):
    register(cli, {"sol": ("socialchef", None), "fie": ("fagspecialist", "sol")})
    result = cli(["plans", "export", "radikalisering", "--format", fmt])
    assert result.exit_code == 0, result.output
    text = result.output
    pattern = r"(?m)^## (.+)$" if fmt == "md" else r"<h2>(.+?)</h2>"
    assert headings_in_order(text, pattern) == list(SECTIONS)
    from indsats.engine.plans.wording import duration_text

    shown = (lambda s: s) if fmt == "md" else html.escape
    for state in plan.states.values():
        assert shown(state.label) in text
        if state.deadline:
            assert shown(f"Frist: {duration_text(state.deadline)}") in text
        for item in state.action_card:
            assert shown(item) in text
    for t in plan.transitions:
        assert t.trigger in text
    contacts = text.split("Kontaktoplysninger", 1)[1].split("Evt. andre opmærksomhedspunkter", 1)[0]
    assert "fie@example.org" in contacts
    assert "sol@example.org" in contacts


def test_export_html_is_self_contained_and_escaped(cli):
    result = cli(["plans", "export", "radikalisering", "--format", "html"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("<!DOCTYPE html>")
    assert "<style>" in result.output
    assert "<link" not in result.output and "<script" not in result.output
    assert "&quot;absolutte løsninger&quot;" in result.output


@pytest.mark.usefixtures("danish")
def test_export_with_nobody_in_the_contact_roles_leaves_the_contacts_empty(cli, tmp_path):
    out = tmp_path / "plan.md"
    result = cli(["plans", "export", "radikalisering", "--format", "md", "--output", str(out)])
    assert result.exit_code == 0, result.output
    contacts = out.read_text(encoding="utf-8").split("## Kontaktoplysninger", 1)[1].split("\n## ", 1)[0]
    assert "(ingen registreret)" in contacts


# -- graph -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_names_every_state_and_trigger(cli, plan, fmt):
    result = cli(["plans", "graph", "radikalisering", "--format", fmt])
    assert result.exit_code == 0, result.output
    for name in plan.states:
        assert name in result.output
    for t in plan.transitions:
        assert t.trigger in result.output
    assert ("stateDiagram-v2" if fmt == "mermaid" else "digraph") in result.output


def test_graph_as_svg_needs_graphviz(cli):
    result = cli(["plans", "graph", "radikalisering", "--format", "svg"])
    if shutil.which("dot"):
        assert result.exit_code == 0 and "<svg" in result.output
    else:
        assert result.exit_code == 5
        assert "apt-get install graphviz" in result.output


# -- validate --------------------------------------------------------------------------------------


def test_plan_tools_need_a_registered_actor(cli, tmp_path):
    runner = CliRunner()
    base = {"INDSATS_CONFIG": "", "INDSATS_DATA_DIR": str(tmp_path / "data"),
            "INDSATS_PLANS_DIR": None, "INDSATS_DEBUG": None}
    for args in (["plans", "validate", str(SHIPPED_FILE)], ["plans", "list"], ["plans", "graph", "radikalisering"]):
        stranger = runner.invoke(main, args, env={**base, "INDSATS_USER": "stranger",
                                                  "INDSATS_DATABASE_URL": f"sqlite:///{tmp_path}/tools.db"})
        assert stranger.exit_code == 4, stranger.output
        assert "'stranger' is not a registered user" in stranger.output
        nowhere = runner.invoke(main, args, env={**base, "INDSATS_USER": "admin",
                                                 "INDSATS_DATABASE_URL": f"sqlite:///{tmp_path}/none.db"})
        assert nowhere.exit_code == 7, nowhere.output


def test_the_shipped_plan_validates_against_a_complete_organisation(cli):
    register(cli, COMPLETE_ORG)
    result = cli(["plans", "validate", str(SHIPPED_FILE)])
    assert result.exit_code == 0, result.output
    assert "error" not in result.output
    assert "not checked" not in result.output


def test_validate_finds_an_unreachable_state(cli, tmp_path):
    register(cli, COMPLETE_ORG)  # only the structural findings, not missing people
    path = broken(
        tmp_path,
        ("  decided:\n", "  orphan:\n    label: Glemt\n    responsible: {role: fagspecialist}\n"
         "    deadline: 1 working day\n  decided:\n"),
        ("transitions:\n", "transitions:\n  - trigger: close_orphan\n    label: Luk\n    from: orphan\n"
         "    to: decided\n    allowed: [{role: leder}]\n"),
    )
    result = cli(["plans", "validate", path])
    assert result.exit_code == 5
    assert f"{path}:{line_of(path, '  orphan:')}: error: states.orphan: 'orphan' cannot be reached from 'suspected'" in result.output


def test_validate_finds_an_open_state_with_no_way_out(cli, tmp_path):
    register(cli, COMPLETE_ORG)  # only the structural findings, not missing people
    path = broken(
        tmp_path,
        ("  decided:\n", "  parked:\n    label: Parkeret\n    responsible: {role: fagspecialist}\n"
         "    deadline: 1 working day\n  decided:\n"),
        ("transitions:\n", "transitions:\n  - trigger: park\n    label: Parkér\n    from: suspected\n"
         "    to: parked\n    allowed: [{relation: opener}]\n"),
    )
    result = cli(["plans", "validate", path])
    assert result.exit_code == 5
    assert "states.parked: 'parked' is not final but no trigger leads out of it" in result.output
    assert "1 problem(s)" in result.output


def test_validate_finds_a_trigger_no_role_of_the_plan_may_fire(cli, tmp_path):
    register(cli, COMPLETE_ORG)  # only the structural findings, not missing people
    path = broken(tmp_path, ("    allowed: [{role: fagspecialist}]\n", "    allowed: [{role: borgmester}]\n"))
    result = cli(["plans", "validate", path])
    assert result.exit_code == 5
    assert f"{path}:{line_of(path, '{role: borgmester}')}:" in result.output
    assert "role 'borgmester' is not a role of the plan" in result.output


def test_validate_finds_a_zero_deadline_with_its_line(cli, tmp_path):
    register(cli, COMPLETE_ORG)  # only the structural findings, not missing people
    path = broken(tmp_path, ("    deadline: 5 working days ", "    deadline: 0 working days "))
    result = cli(["plans", "validate", path])
    assert result.exit_code == 5
    where = f"{path}:{line_of(path, '0 working days')}: error: states.specialist_notified.deadline"
    assert where in result.output
    assert "deadlines must be positive" in result.output


def test_validate_finds_an_employee_without_reports_to(cli):
    register(cli, {**COMPLETE_ORG, "ida": ("medarbejder", None)})
    result = cli(["plans", "validate", str(SHIPPED_FILE)])
    assert result.exit_code == 5
    assert "users.ida: active medarbejder 'ida' has no reports-to" in result.output
    assert "Error: 1 problem(s):" in result.output


def test_check_plan_reports_a_missing_specialist_and_a_chain_below_the_ceiling(plan):
    users = [
        {"login": "sol", "role": "socialchef", "reports_to": None, "active": True},
        {"login": "lea", "role": "leder", "reports_to": None, "active": True},
        {"login": "emil", "role": "medarbejder", "reports_to": "lea", "active": True},
    ]
    findings = {(f.severity, f.location): f.message for f in check_plan(plan, users)}
    assert "no active user has role 'fagspecialist'" in findings[(Severity.error, "states.specialist_notified.responsible")]
    assert "never reaches a socialchef" in findings[(Severity.warning, "users.emil")]
