"""Plans are data: the shipped plan loads as the issue describes it, and a malformed plan is rejected with
its file, line and field; one Machine per plan version, with no shortcuts past the plan."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from indsats.engine.time.calendar import WorkingCalendar
from indsats.adapters.plan_files import SHIPPED, PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import LOCAL_TZ
from indsats.engine.context import Context
from indsats.engine.plans.machine import build_machine, fire, machine_for
from indsats.adapters.plan_files import load_plan
from indsats.engine.plans.schema import FieldType, Plan, Relation, parse_plan
from indsats.engine.plans.service import list_plans
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.time.clock import FixedClock
    from indsats.storage.database import Database

SHIPPED_FILE = SHIPPED / "radikalisering.yaml"
SHIPPED_TEXT = SHIPPED_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(SHIPPED_FILE)


def line_of(text: str, needle: str) -> int:
    """The 1-based line on which ``needle`` first appears in ``text``."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def write_plan(directory: Path, text: str, name: str = "plan.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert SHIPPED_TEXT.count(old) == 1, f"{old!r} must appear once in the shipped plan"
    return SHIPPED_TEXT.replace(old, new)


def with_revision(approved_on: date, *, plan_id: str = "gammel_plan") -> str:
    text = edited("id: radikalisering\n", f"id: {plan_id}\n")
    return text.replace("  approved_on: 2025-01-15\n", f"  approved_on: {approved_on.isoformat()}\n")


# -- the shipped plan -----------------------------------------------------------------------------


def test_shipped_plan_has_the_states_of_the_issue_in_order(plan: Plan) -> None:
    assert plan.id == "radikalisering"
    assert plan.initial == "suspected"
    assert list(plan.states) == ["suspected", "leader_notified", "specialist_notified", "assessed", "decided"]
    assert plan.final_states == ["decided"]


def test_shipped_plan_has_the_triggers_of_the_issue(plan: Plan) -> None:
    assert [t.trigger for t in plan.transitions] == [
        "notify_leader",
        "notify_specialist",
        "assess",
        "decide",
        "inform_socialchef",
        "acute",
        "report_to_childrens_services",
    ]


def test_shipped_plan_declares_its_own_roles_and_leaves_admin_and_supervisor_to_the_installation(plan: Plan) -> None:
    assert set(plan.roles) == {"medarbejder", "leder", "fagspecialist", "socialchef"}
    assert plan.may_open == ["medarbejder", "leder", "fagspecialist", "socialchef"]
    assert plan.sees_all == ["fagspecialist"] and plan.escalation.ceiling == "socialchef"
    assert "hotline" in plan.sources and plan.sources["anonymous"].anonymous
    assert set(plan.flags) == {"minor"} and plan.acute_alert is not None and plan.acute_alert.also == ["fagspecialist"]


def test_each_step_of_the_walk_is_fired_by_the_person_the_issue_names(plan: Plan) -> None:
    def who(trigger: str) -> list[tuple[str | None, Relation | None]]:
        t = plan.transition(trigger)
        assert t is not None
        return [(a.role, a.relation) for a in t.allowed]

    assert who("notify_leader") == [(None, Relation.opener)]
    assert who("notify_specialist") == [(None, Relation.opener_leader)]
    assert who("assess") == [("fagspecialist", None)]
    assert who("decide") == [("leder", None)]
    assert who("inform_socialchef") == [(None, Relation.opener_leader_leader)]
    assert who("acute") == [(None, Relation.on_case)]
    assert who("report_to_childrens_services") == [(None, Relation.on_case)]


def test_the_walk_goes_from_suspected_to_decided_one_state_at_a_time(plan: Plan) -> None:
    moves = {t.trigger: (t.source, t.dest) for t in plan.transitions}
    assert moves["notify_leader"] == (["suspected"], "leader_notified")
    assert moves["notify_specialist"] == (["leader_notified"], "specialist_notified")
    assert moves["assess"] == (["specialist_notified"], "assessed")
    assert moves["decide"] == (["assessed"], "decided")


def test_side_duties_are_recorded_from_any_open_state_without_changing_it(plan: Plan) -> None:
    for trigger in ("inform_socialchef", "acute", "report_to_childrens_services"):
        t = plan.transition(trigger)
        assert t is not None
        assert (t.source, t.dest) == (["*"], None), trigger


def test_assess_requires_a_summary_and_may_record_concern_signs(plan: Plan) -> None:
    assess = plan.transition("assess")
    assert assess is not None
    assert assess.fields["summary"].required
    assert assess.fields["signs"].type is FieldType.signs
    assert not assess.fields["signs"].required
    assert plan.concern_signs is not None
    assert [c.id for c in plan.concern_signs.categories] == ["behaviour", "attitudes", "relations"]


def test_decide_requires_police_report_yes_no_and_rationale_and_offers_a_follow_up_choice(plan: Plan) -> None:
    decide = plan.transition("decide")
    assert decide is not None
    police, rationale, follow_up = (decide.fields[n] for n in ("police_report", "rationale", "follow_up"))
    assert (police.type, police.required) == (FieldType.yes_no, True)
    assert (rationale.type, rationale.required) == (FieldType.text, True)
    assert (follow_up.type, follow_up.required) == (FieldType.choice, False)
    assert "unfounded_closed" in follow_up.options


def test_decide_on_a_minor_requires_the_report_to_childrens_services_first(plan: Plan) -> None:
    decide = plan.transition("decide")
    assert decide is not None
    assert [(r.trigger, r.when) for r in decide.requires] == [("report_to_childrens_services", "minor")]


def test_acute_needs_a_note_and_marks_the_case_acute(plan: Plan) -> None:
    acute = plan.transition("acute")
    assert acute is not None
    assert acute.note_required and acute.marks_acute


def test_the_plan_version_is_a_content_hash_and_changes_with_the_text(plan: Plan) -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", plan.version)
    assert parse_plan(SHIPPED_TEXT).version == plan.version
    assert parse_plan(SHIPPED_TEXT + "\n# a comment\n").version != plan.version


# -- malformed plans ------------------------------------------------------------------------------


def decide_index(plan: Plan) -> int:
    return [t.trigger for t in plan.transitions].index("decide")


def assert_rejected(tmp_path: Path, text: str, *, field: str, line: int) -> str:
    path = write_plan(tmp_path, text, "bad.yaml")
    with pytest.raises(Invalid) as caught:
        load_plan(path)
    message = caught.value.message
    assert message.startswith(f"{path}:{line}: {field}: "), message
    assert "\n" not in message
    return message


def test_a_transition_to_an_unknown_state_is_rejected_naming_file_line_and_field(tmp_path: Path, plan: Plan) -> None:
    text = edited("    to: decided\n", "    to: decidedd\n")
    message = assert_rejected(
        tmp_path, text, field=f"transitions.{decide_index(plan)}.to", line=line_of(text, "to: decidedd")
    )
    assert "'decidedd' is not a state" in message


def test_a_transition_from_an_unknown_state_is_rejected_naming_file_line_and_field(
    tmp_path: Path, plan: Plan
) -> None:
    text = edited("    from: assessed\n", "    from: asessed\n")
    assert_rejected(tmp_path, text, field=f"transitions.{decide_index(plan)}.from", line=line_of(text, "from: asessed"))


def test_a_bad_deadline_duration_is_rejected_naming_file_line_and_field(tmp_path: Path) -> None:
    text = edited("    deadline: 4 working hours", "    deadline: 4 wrking hours")
    message = assert_rejected(
        tmp_path, text, field="states.suspected.deadline", line=line_of(text, "deadline: 4 wrking hours")
    )
    assert "4 wrking hours" in message


def test_a_bad_reminder_duration_is_rejected_naming_file_line_and_field(tmp_path: Path) -> None:
    text = edited("escalate_after: 2 working hours,", "escalate_after: soon,")
    assert_rejected(
        tmp_path, text, field="states.suspected.reminder.escalate_after", line=line_of(text, "escalate_after: soon")
    )


def test_a_missing_required_key_is_rejected_naming_file_line_and_field(tmp_path: Path) -> None:
    text = edited("    label: Vurderet\n", "")
    message = assert_rejected(tmp_path, text, field="states.assessed.label", line=line_of(text, "  assessed:"))
    assert "required" in message.lower()


def test_a_role_not_in_the_plan_is_rejected_naming_file_line_and_field(tmp_path: Path, plan: Plan) -> None:
    assess = [t.trigger for t in plan.transitions].index("assess")
    text = edited("allowed: [{role: fagspecialist}]", "allowed: [{role: boss}]")
    message = assert_rejected(
        tmp_path, text, field=f"transitions.{assess}.allowed.0", line=line_of(text, "allowed: [{role: boss}]")
    )
    assert "'boss'" in message


def test_a_state_that_is_not_final_needs_a_deadline(tmp_path: Path) -> None:
    text = edited("    deadline: 2 working days        # default to adjust\n", "")
    message = assert_rejected(tmp_path, text, field="states.assessed", line=line_of(text, "  assessed:"))
    assert "deadline" in message


def test_a_plan_that_is_not_yaml_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = write_plan(tmp_path, "id: x\ntitle: [unclosed\n", "bad.yaml")
    with pytest.raises(Invalid, match=rf"^{re.escape(str(path))}:\d+: not valid YAML"):
        load_plan(path)


def test_no_and_yes_stay_strings_in_a_plan_yaml_1_1_would_make_them_booleans() -> None:
    text = edited(
        "          police: Overdraget til politiet\n",
        "          police: Overdraget til politiet\n          no: no\n          yes: on\n",
    )
    decide = parse_plan(text).transition("decide")
    assert decide is not None
    options = decide.fields["follow_up"].options
    assert options["no"] == "no"
    assert options["yes"] == "on"


# -- plans list and validate ----------------------------------------------------------------------


@pytest.fixture
def plans_ctx(sqlite_database: Database, clock: FixedClock, tmp_path: Path) -> Context:
    """A context whose catalog also reads plans from tmp_path (the database is not used)."""
    return Context(db=sqlite_database, clock=clock, catalog=PlanCatalog(PlanFolders(tmp_path)), calendar=WorkingCalendar())


def test_a_plan_past_its_revision_date_is_flagged_and_a_current_one_is_not(
    plans_ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    five_years_ago = clock.now().astimezone(LOCAL_TZ).date().replace(year=2021)
    write_plan(tmp_path, with_revision(five_years_ago))
    found = {p.id: p for p in list_plans(plans_ctx)}
    assert found["gammel_plan"].revision_due == date(2025, 3, 2)
    assert found["gammel_plan"].revision_overdue
    assert found["radikalisering"].revision_due == date(2029, 1, 15)
    assert not found["radikalisering"].revision_overdue


def test_a_plan_due_for_revision_today_is_not_yet_overdue(plans_ctx: Context, tmp_path: Path) -> None:
    write_plan(tmp_path, with_revision(date(2022, 3, 2)))
    found = {p.id: p for p in list_plans(plans_ctx)}
    assert found["gammel_plan"].revision_due == date(2026, 3, 2)
    assert not found["gammel_plan"].revision_overdue


def test_plans_list_shows_revision_overdue_for_a_plan_approved_in_2015(
    invoke: Callable[..., Result], cli_org: object, tmp_path: Path
) -> None:
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    write_plan(plans_dir, with_revision(date(2015, 6, 1)))
    result = invoke(["plans", "list"], INDSATS_PLANS_DIR=str(plans_dir), COLUMNS="250")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (old,) = [line for line in lines if "gammel_plan" in line]
    (current,) = [line for line in lines if re.search(r"\bradikalisering\b.*Radikalisering", line)]
    assert "REVISION OVERDUE" in old
    assert "REVISION OVERDUE" not in current


def test_plans_list_json_names_the_overdue_plan(
    invoke: Callable[..., Result], cli_org: object, tmp_path: Path) -> None:
    import json

    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    write_plan(plans_dir, with_revision(date(2015, 6, 1)))
    result = invoke(["plans", "list", "--json"], INDSATS_PLANS_DIR=str(plans_dir))
    assert result.exit_code == 0, result.output
    found = {p["id"]: p for p in json.loads(result.stdout)}
    assert found["gammel_plan"]["revision_overdue"] is True
    assert found["gammel_plan"]["revision_due"] == "2019-06-01"


def test_plans_validate_accepts_the_shipped_plan(
    invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["plans", "validate", str(SHIPPED_FILE)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout


def test_plans_validate_rejects_a_bad_plan_with_exit_5_and_one_line_naming_file_line_and_field(
    invoke: Callable[..., Result], cli_org: object, tmp_path: Path, plan: Plan
) -> None:
    text = edited("    to: decided\n", "    to: decidedd\n")
    path = write_plan(tmp_path, text, "bad.yaml")
    result = invoke(["plans", "validate", str(path)])
    assert result.exit_code == 5
    line = line_of(text, "to: decidedd")
    (error,) = result.stderr.splitlines()
    where, field = re.escape(f"{path}:{line}: "), re.escape(f"transitions.{decide_index(plan)}.to: ")
    assert re.match(rf"Error: .*{where}(error: )?{field}'decidedd' is not a state", error), error


def test_plans_validate_of_a_missing_file_is_invalid(invoke: Callable[..., Result], tmp_path: Path) -> None:
    result = invoke(["plans", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 5
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: ")


# -- the Machine ----------------------------------------------------------------------------------


def test_the_machine_is_built_once_per_plan_version(plan: Plan) -> None:
    assert machine_for(plan) is machine_for(plan)
    other = parse_plan(SHIPPED_TEXT + "\n# another version\n")
    assert machine_for(other) is not machine_for(plan)


def test_firing_moves_along_the_plan(plan: Plan) -> None:
    assert fire(plan, "suspected", "notify_leader", "RAD-2026-0001") == "leader_notified"
    assert fire(plan, "assessed", "decide", "RAD-2026-0001") == "decided"
    assert fire(plan, "leader_notified", "acute", "RAD-2026-0001") == "leader_notified"


def test_a_trigger_not_possible_in_the_state_says_what_is_possible_now(plan: Plan) -> None:
    with pytest.raises(Invalid) as caught:
        fire(plan, "suspected", "decide", "RAD-2026-0007")
    message = caught.value.message
    assert "RAD-2026-0007" in message and "'suspected'" in message
    assert "Possible now: notify_leader" in message


def test_an_unknown_trigger_names_the_plans_triggers(plan: Plan) -> None:
    with pytest.raises(Invalid, match="has no trigger 'jump'.*notify_leader"):
        fire(plan, "suspected", "jump", "RAD-2026-0001")


def test_the_machine_has_no_automatic_to_state_triggers(plan: Plan) -> None:
    machine = build_machine(plan)
    for state in plan.states:
        assert not [t for t in machine.get_triggers(state) if t.startswith("to_")], state
    with pytest.raises(Invalid):
        fire(plan, "suspected", "to_decided", "RAD-2026-0001")


def test_only_a_trigger_marked_after_close_can_be_fired_from_the_final_state(plan: Plan) -> None:
    for trigger in ("acute", "report_to_childrens_services"):
        with pytest.raises(Invalid, match="Possible now: inform_socialchef"):
            fire(plan, "decided", trigger, "RAD-2026-0001")
    assert fire(plan, "decided", "inform_socialchef", "RAD-2026-0001") == "decided"

