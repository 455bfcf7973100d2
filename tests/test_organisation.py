"""The organisation as it is, through the command line: one installation running both shipped plans,
roles granted per plan, people who leave, go on leave or change leader, caseworkers, and tasks.

The CLI runs on the system clock, so reminders are swept ``--at`` a time well past every deadline.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from indsats.config import os_login

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]

# login → (role, reports_to): the radicalisation plan's people, then the child-welfare plan's.
PEOPLE: dict[str, tuple[str, str | None]] = {
    "sol": ("socialchef", None),
    "lea": ("leder", "sol"),
    "leo": ("leder", "sol"),
    "emil": ("medarbejder", "lea"),
    "fie": ("fagspecialist", "sol"),
    "fam": ("familiechef", None),
    "tina": ("teamleder", "fam"),
    "tom": ("teamleder", "fam"),
    "sara": ("sagsbehandler", "tina"),
}
ASSESS_RAD = ["--set", "summary=Samtale med borgeren", "--set", "signs=behaviour:strong"]
DECIDE_RAD = ["--set", "police_report=no", "--set", "rationale=Ingen strafbare forhold"]
ASSESS_UND = ["--set", "immediate_danger=no", "--set", "summary=Barnet er ikke i akut fare"]
DECIDE_UND = ["--set", "outcome=investigation", "--set", "rationale=Bekymringen skal undersøges"]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result


def fails(result: Result, code: int) -> str:
    assert result.exit_code == code, f"exit {result.exit_code} (expected {code}): {result.output}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def town(invoke: Invoke) -> Invoke:
    """An installation with both plans and the people of PEOPLE, registered through `indsats users add`."""
    ok(invoke(["init"]))
    for login, (role, leader) in PEOPLE.items():
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        ok(invoke(args + (["--reports-to", leader] if leader else [])))
    return invoke


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "data" / "outbox.jsonl"


def open_rad(invoke: Invoke, user: str = "emil") -> str:
    return ok(invoke(["open", "radikalisering", "--subject", "BORGER-REF-1"], user=user)).stdout.splitlines()[-1]


def open_und(invoke: Invoke, user: str = "sara") -> str:
    args = ["open", "underretning", "--subject", "BARN-REF-1", "--source", "professional"]
    return ok(invoke(args, user=user)).stdout.splitlines()[-1]


def sweep(invoke: Invoke, days: int) -> None:
    when = (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="minutes")
    ok(invoke(["remind", "--at", when]))


def mail(outbox: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()] if outbox.exists() else []


def told(outbox: Path, case_id: str) -> set[str]:
    """Every address told about ``case_id`` so far."""
    return {address for m in mail(outbox) if case_id in m["subject"] for address in m["to"]}


def state_of(invoke: Invoke, case_id: str, user: str = "admin") -> str:
    return str(json.loads(ok(invoke(["show", case_id, "--json"], user=user)).stdout)["state"])


def history(invoke: Invoke, case_id: str) -> list[dict[str, Any]]:
    return [e for e in json.loads(ok(invoke(["history", case_id, "--json"])).stdout) if e["kind"] != "viewed"]


# -- one installation, two plans -------------------------------------------------------------------------


def test_each_plans_people_see_and_hear_of_only_that_plans_cases_and_both_walk_to_decided(
    town: Invoke, outbox: Path
) -> None:
    rad, und = open_rad(town), open_und(town)
    assert rad.startswith("RAD-") and und.startswith("UND-")

    fails(town(["show", und], user="fie"), 3)  # the radicalisation plan's specialist sees no child's case
    fails(town(["show", rad], user="sara"), 3)
    fails(town(["show", rad], user="tina"), 3)
    assert [c["id"] for c in json.loads(ok(town(["cases", "--json"], user="fie")).stdout)] == [rad]
    assert [c["id"] for c in json.loads(ok(town(["cases", "--json"], user="sara")).stdout)] == [und]

    sweep(town, days=7)  # nobody acted on either case for a week
    assert told(outbox, und) == {"sara@example.org", "tina@example.org", "fam@example.org"}
    assert told(outbox, rad) == {"emil@example.org", "lea@example.org", "sol@example.org"}

    for user, trigger, args in [("emil", "notify_leader", []), ("lea", "notify_specialist", []),
                                ("fie", "assess", ASSESS_RAD), ("lea", "decide", DECIDE_RAD)]:
        ok(town(["advance", rad, trigger, *args], user=user))
    for user, trigger, args in [("sara", "assess", ASSESS_UND), ("sara", "send_receipt", ["--set", "sent_on=2026-03-03"]),
                                ("tina", "decide", DECIDE_UND)]:
        ok(town(["advance", und, trigger, *args], user=user))
    assert (state_of(town, rad), state_of(town, und)) == ("decided", "decided")


def test_the_plans_contacts_list_only_the_people_granted_their_role_in_that_plan(town: Invoke) -> None:
    document = ok(town(["plans", "export", "radikalisering"])).stdout
    assert "Fie" in document and "Sol" in document and "Sara" not in document and "Tina" not in document
    document = ok(town(["plans", "export", "underretning"])).stdout
    assert "Tina" in document and "Fam" in document and "Fie, " not in document  # (a contact: name, e-mail)


def test_a_role_no_plan_declares_is_refused_and_a_user_may_hold_grants_only(town: Invoke) -> None:
    fails(town(["users", "add", "ny", "--name", "Ny", "--role", "chef"]), 5)
    ok(town(["users", "add", "ny", "--name", "Ny", "--email", "ny@example.org"]))  # no --role: no role yet
    und = open_und(town)
    fails(town(["show", und], user="ny"), 3)
    ok(town(["users", "grant", "ny", "teamleder", "--plan", "underretning"]))
    assert state_of(town, und, user="sara") == "received"
    fails(town(["users", "grant", "ny", "teamleder", "--plan", "radikalisering"]), 5)  # not a role of that plan
    ok(town(["users", "grant", "ny", "fagspecialist", "--plan", "radikalisering"]))
    rad = open_rad(town)
    assert state_of(town, rad, user="ny") == "suspected"  # the plan's word: its specialist sees every case
    fails(town(["show", und], user="ny"), 3)  # …of that plan only; ny holds no role there that sees all
    ok(town(["users", "revoke", "ny", "fagspecialist", "--plan", "radikalisering"]))
    fails(town(["show", rad], user="ny"), 3)
    fails(town(["users", "revoke", "ny", "fagspecialist", "--plan", "radikalisering"]), 3)
    grants = {u["login"]: u["grants"] for u in json.loads(ok(town(["users", "list", "--json"])).stdout)}
    assert grants["ny"] == [{"role": "teamleder", "plan": "underretning", "unit": None}]
    assert grants["fie"] == [{"role": "fagspecialist", "plan": "radikalisering", "unit": None}]


def test_a_grant_for_one_unit_holds_only_for_that_units_cases(town: Invoke) -> None:
    ok(town(["users", "add", "tove", "--name", "Tove", "--reports-to", "fam"]))
    ok(town(["users", "grant", "tove", "teamleder", "--plan", "underretning", "--unit", "Syd"]))
    ok(town(["users", "add", "nina", "--name", "Nina", "--role", "sagsbehandler", "--reports-to", "tove",
             "--unit", "Nord"]))
    und = open_und(town, user="nina")
    ok(town(["advance", und, "assess", *ASSESS_UND], user="nina"))
    ok(town(["advance", und, "send_receipt"], user="nina"))
    error = fails(town(["advance", und, "decide", *DECIDE_UND], user="tove"), 4)  # a teamleder in Syd, not Nord
    assert "may be fired only by teamleder" in error
    ok(town(["users", "grant", "tove", "teamleder", "--plan", "underretning", "--unit", "Nord"]))
    ok(town(["advance", und, "decide", *DECIDE_UND], user="tove"))


# -- nobody to act is never silent -------------------------------------------------------------------------


def test_open_by_someone_with_no_leader_exits_5_and_plans_check_org_names_them(town: Invoke) -> None:
    ok(town(["users", "add", "ida", "--name", "Ida", "--role", "medarbejder"]))
    error = fails(town(["open", "radikalisering", "--subject", "BORGER-REF-2"], user="ida"), 5)
    assert "'leader_notified'" in error and "no active leader" in error
    assert json.loads(ok(town(["cases", "--all", "--json"])).stdout) == []  # nothing was written
    result = town(["plans", "check", "radikalisering", "--org"])
    assert result.exit_code == 5
    assert "error: users.ida: active medarbejder 'ida' has no reports-to" in result.stdout
    ok(town(["users", "edit", "ida", "--reports-to", "leo"]))
    ok(town(["plans", "check", "radikalisering", "--org"]))
    open_rad(town, user="ida")


def test_a_reminder_with_nobody_to_tell_fails_as_nobody_to_tell_and_shows_in_stuck(town: Invoke, cli_db_url: str) -> None:
    rad = open_rad(town)
    # No organisation change may leave a case with nobody to act, where it stands or at a step ahead
    # (test_nobody_left.py): the employee's leader is taken away behind indsats's back, as a database from
    # before that check may hold. He then tells a leader he no longer has, and nobody must act.
    assert town(["users", "edit", "emil", "--no-reports-to"]).exit_code == 5
    with sqlite3.connect(cli_db_url.removeprefix("sqlite:///")) as con:
        con.execute("UPDATE users SET reports_to = NULL WHERE login = 'emil'")
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    sweep(town, days=14)
    stuck = json.loads(ok(town(["stuck", "--json"], user="fie")).stdout)  # every fagspecialist sees every case
    assert [(s["case_id"], s["failed_reminders"] >= 1) for s in stuck] == [(rad, True)]
    failed = [r for r in json.loads(ok(town(["show", rad, "--json"])).stdout)["reminders"] if r["status"] == "failed"]
    assert failed
    errors = [e["payload"]["error"] for e in history(town, rad) if e["kind"] == "delivery_failed"]
    assert errors and all(e.startswith("nobody_to_tell") for e in errors)


# -- people change --------------------------------------------------------------------------------------


def test_a_leader_with_open_cases_is_deactivated_only_with_a_handover_and_the_new_leader_gets_the_next_reminder(
    town: Invoke, outbox: Path
) -> None:
    rad = open_rad(town)
    ok(town(["advance", rad, "notify_leader"], user="emil"))  # now lea must act
    error = fails(town(["users", "deactivate", "lea"]), 5)
    assert rad in error and "must act" in error and "--handover-to" in error
    ok(town(["users", "deactivate", "lea", "--handover-to", "leo"]))
    assert [e["payload"] for e in history(town, rad) if e["kind"] == "handed_over"] == [
        {"from": "lea", "to": "leo", "duties": ["must act", "the opener leader"], "os_login": os_login()}
    ]  # the admin is INDSATS_USER here: the OS login that ran the command is recorded beside it
    assert json.loads(ok(town(["show", rad, "--json"], user="leo")).stdout)["must_act"][0]["login"] == "leo"
    sweep(town, days=7)
    assert "leo@example.org" in told(outbox, rad)
    assert not [m for m in mail(outbox) if "lea@example.org" in m["to"]]  # a deactivated user never gets mail
    ok(town(["advance", rad, "notify_specialist"], user="leo"))
    fails(town(["show", rad], user="lea"), 4)  # deactivated: can do nothing
    ok(town(["users", "reactivate", "lea"]))
    fails(town(["users", "reactivate", "lea"]), 5)


def test_revoking_a_role_that_open_cases_need_is_refused_unless_handed_over_to_someone_who_then_must_act(
    town: Invoke,
) -> None:
    rad = open_rad(town)
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    ok(town(["advance", rad, "notify_specialist"], user="lea"))  # now every fagspecialist must act
    ok(town(["users", "add", "fia", "--name", "Fia", "--email", "fia@example.org", "--reports-to", "sol"]))

    def roles(login: str) -> list[tuple[str, str, str | None]]:
        users = {u["login"]: u for u in json.loads(ok(town(["users", "list", "--json"])).stdout)}
        return sorted((g["plan"], g["role"], g["unit"]) for g in users[login]["grants"])

    error = fails(town(["users", "revoke", "fie", "fagspecialist", "--plan", "radikalisering"]), 5)
    assert f"{rad} (must act)" in error and "--handover-to" in error
    assert roles("fie") == [("radikalisering", "fagspecialist", None)]  # nothing was written
    fails(town(["users", "revoke", "fie", "fagspecialist", "--handover-to", "fie"]), 5)
    # Fia holds the role for another unit only: she would not have to act on this case either.
    ok(town(["users", "grant", "fia", "fagspecialist", "--plan", "radikalisering", "--unit", "nord"]))
    error = fails(town(["users", "revoke", "fie", "fagspecialist", "--handover-to", "fia"]), 5)
    assert "'fia' would not carry" in error and rad in error
    ok(town(["users", "revoke", "fia", "fagspecialist"]))  # no case needs her through it

    out = json.loads(ok(town(["users", "revoke", "fie", "fagspecialist", "--handover-to", "fia", "--json"])).stdout)
    assert (out["login"], out["handed_over_to"], out["cases"]) == ("fie", "fia", [{"case_id": rad, "duties": ["must act"]}])
    assert roles("fie") == [] and roles("fia") == [("radikalisering", "fagspecialist", None)]
    assert [e["payload"] for e in history(town, rad) if e["kind"] == "handed_over"] == [
        {"from": "fie", "to": "fia", "duties": ["must act"], "role": "fagspecialist", "os_login": os_login()}
    ]
    fails(town(["advance", rad, "assess", *ASSESS_RAD], user="fie"), 3)  # no longer sees the case at all
    ok(town(["advance", rad, "assess", *ASSESS_RAD], user="fia"))


def test_a_handover_says_in_danish_which_duties_went_with_each_case(town: Invoke, danish: None) -> None:
    rad = open_rad(town)
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    ok(town(["advance", rad, "notify_specialist"], user="lea"))  # every fagspecialist must act: fie is the only one
    ok(town(["users", "add", "fia", "--name", "Fia", "--email", "fia@example.org", "--reports-to", "sol"]))

    out = ok(town(["users", "revoke", "fie", "fagspecialist", "--handover-to", "fia"])).stdout
    assert f"{rad}: overdraget til fia (skal handle)" in out.splitlines()


def test_a_handover_to_someone_without_the_role_a_step_needs_is_refused_and_changes_nothing(town: Invoke) -> None:
    rad = open_rad(town)
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    ok(town(["advance", rad, "notify_specialist"], user="lea"))  # every fagspecialist must act: fie is the only one
    ok(town(["users", "add", "fia", "--name", "Fia", "--email", "fia@example.org", "--reports-to", "sol"]))

    error = fails(town(["users", "deactivate", "fie", "--handover-to", "fia"]), 5)
    assert "'fia' would not have to act" in error and f"{rad} (must act)" in error
    assert json.loads(ok(town(["show", rad, "--json"], user="fie")).stdout)["must_act"][0]["login"] == "fie"
    assert [e for e in history(town, rad) if e["kind"] == "handed_over"] == []  # nothing was written

    ok(town(["users", "grant", "fia", "fagspecialist", "--plan", "radikalisering"]))
    ok(town(["users", "deactivate", "fie", "--handover-to", "fia"]))
    ok(town(["advance", rad, "assess", *ASSESS_RAD], user="fia"))


def test_granting_a_role_again_for_a_narrower_unit_is_refused_while_cases_outside_it_need_the_person(
    town: Invoke,
) -> None:
    rad = open_rad(town)  # emil has no unit: nor has the case
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    ok(town(["advance", rad, "notify_specialist"], user="lea"))

    error = fails(town(["users", "grant", "fie", "fagspecialist", "--plan", "radikalisering", "--unit", "Nord"]), 5)
    assert "outside the new unit" in error and f"{rad} (must act)" in error
    users = {u["login"]: u for u in json.loads(ok(town(["users", "list", "--json"])).stdout)}
    assert [(g["plan"], g["role"], g["unit"]) for g in users["fie"]["grants"]] == [
        ("radikalisering", "fagspecialist", None)
    ]  # the grant was left as it was
    ok(town(["advance", rad, "assess", *ASSESS_RAD], user="fie"))
    ok(town(["users", "grant", "fie", "fagspecialist", "--plan", "radikalisering", "--unit", "Nord"]))  # not needed now


def test_users_edit_reports_to_changes_who_the_next_escalation_goes_to(town: Invoke, outbox: Path) -> None:
    rad = open_rad(town)
    ok(town(["users", "edit", "emil", "--reports-to", "leo"]))
    sweep(town, days=7)
    assert told(outbox, rad) == {"emil@example.org", "leo@example.org", "sol@example.org"}
    fails(town(["users", "edit", "sol", "--reports-to", "emil"]), 5)  # a cycle
    # The case waits for emil now; no leader for him would leave its next step with nobody.
    assert f"{rad} on reaching 'leader_notified'" in fails(town(["users", "edit", "emil", "--no-reports-to"]), 5)
    ok(town(["users", "edit", "tom", "--no-reports-to", "--name", "Tom T."]))  # no case of his waits
    users = {u["login"]: u for u in json.loads(ok(town(["users", "list", "--json"])).stdout)}
    assert (users["emil"]["reports_to"], users["tom"]["reports_to"], users["tom"]["name"]) == ("leo", None, "Tom T.")


def test_a_deputy_receives_the_absent_leaders_escalation_and_may_act_in_her_place(town: Invoke, outbox: Path) -> None:
    rad = open_rad(town)
    today = date.today().isoformat()
    ok(town(["users", "deputy", "lea", "--to", "leo", "--from", today]))
    sweep(town, days=7)
    assert told(outbox, rad) == {"emil@example.org", "leo@example.org", "sol@example.org"}  # leo, not lea
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    ok(town(["advance", rad, "notify_specialist"], user="leo"))
    advanced = [e for e in history(town, rad) if e["trigger"] == "notify_specialist"]
    assert (advanced[0]["actor"], advanced[0]["payload"]["acting_for"]) == ("leo", "lea")
    assert "leo for lea" in ok(town(["history", rad])).stdout
    other = open_rad(town)
    ok(town(["advance", other, "notify_leader"], user="emil"))
    assert [t["acting_for"] for t in json.loads(ok(town(["tasks", "--json"], user="leo")).stdout)] == ["lea"]
    ok(town(["users", "deputy", "lea", "--clear"]))
    assert json.loads(ok(town(["tasks", "--json"], user="leo")).stdout) == []
    fails(town(["advance", other, "notify_specialist"], user="leo"), 3)  # no longer standing in: not on the case


def test_a_deputy_outside_the_dates_neither_receives_nor_acts(town: Invoke, outbox: Path) -> None:
    rad = open_rad(town)
    ok(town(["advance", rad, "notify_leader"], user="emil"))
    later = (date.today() + timedelta(days=60)).isoformat()
    ok(town(["users", "deputy", "lea", "--to", "leo", "--from", later]))
    fails(town(["advance", rad, "notify_specialist"], user="leo"), 3)  # not standing in: not even on the case
    sweep(town, days=7)
    assert "lea@example.org" in told(outbox, rad) and "leo@example.org" not in told(outbox, rad)


# -- assignment, separation of duties, tasks ---------------------------------------------------------------


def test_a_caseworker_named_with_assign_owns_the_states_the_plan_gives_the_assignee(town: Invoke) -> None:
    ok(town(["users", "add", "sif", "--name", "Sif", "--role", "sagsbehandler", "--reports-to", "tina"]))
    und = open_und(town)
    fails(town(["assign", und, "sif"], user="sara"), 4)  # a caseworker does not reassign herself
    fails(town(["assign", und, "fie"], user="tina"), 5)  # fie holds no role in this plan
    ok(town(["assign", und, "sif", "--note", "Sara er på kursus"], user="tina"))
    view = json.loads(ok(town(["show", und, "--json"], user="sif")).stdout)
    assert view["assignee"] == "sif" and [p["login"] for p in view["must_act"]] == ["sif"]
    fails(town(["advance", und, "assess", *ASSESS_UND], user="sara"), 4)
    ok(town(["advance", und, "assess", *ASSESS_UND], user="sif"))


def test_the_one_who_assessed_an_underretning_may_not_decide_it(town: Invoke) -> None:
    und = open_und(town)
    ok(town(["advance", und, "assess", *ASSESS_UND], user="tina"))  # the team leader assessed it herself
    ok(town(["advance", und, "send_receipt", "--set", "sent_on=2026-03-03"], user="sara"))
    error = fails(town(["advance", und, "decide", *DECIDE_UND], user="tina"), 4)
    assert "not_by assess" in error
    ok(town(["users", "edit", "sara", "--reports-to", "tom"]))
    ok(town(["advance", und, "decide", *DECIDE_UND], user="tom"))


def test_tasks_lists_exactly_the_steps_that_are_mine(town: Invoke) -> None:
    mine, leas = open_rad(town), open_rad(town)
    ok(town(["advance", leas, "notify_leader"], user="emil"))
    und = open_und(town)

    def tasks(user: str) -> list[tuple[str, str]]:
        return [(t["case_id"], t["command"]) for t in json.loads(ok(town(["tasks", "--json"], user=user)).stdout)]

    assert tasks("emil") == [(mine, f"indsats advance {mine} notify_leader")]
    assert tasks("lea") == [(leas, f"indsats advance {leas} notify_specialist")]
    assert tasks("sara") == [(und, f"indsats advance {und} assess --set immediate_danger=… --set summary=…")]
    assert tasks("fie") == [] and tasks("sol") == [] and tasks("tina") == []
    assert "Nothing for you" in ok(town(["tasks"], user="fie")).stdout


def test_the_leaders_leader_may_still_record_inform_socialchef_after_the_decision(town: Invoke) -> None:
    rad = open_rad(town)
    for user, trigger, args in [("emil", "notify_leader", []), ("lea", "notify_specialist", []),
                                ("fie", "assess", ASSESS_RAD), ("lea", "decide", DECIDE_RAD)]:
        ok(town(["advance", rad, trigger, *args], user=user))
    fails(town(["advance", rad, "acute", "--note", "112"], user="emil"), 5)
    out = ok(town(["advance", rad, "inform_socialchef", "--set", "socialchef_informed=yes"], user="sol")).stdout
    assert "recorded" in out and state_of(town, rad) == "decided"
    ok(town(["verify"]))


def test_the_underretning_plan_has_the_states_triggers_fields_and_roles_the_issue_names() -> None:
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog

    plan = PlanCatalog(PlanFolders()).get("underretning").plan
    assert (plan.title, plan.case_prefix, plan.initial) == ("Underretning om et barn", "UND", "received")
    assert list(plan.states) == ["received", "assessed", "receipt_sent", "decided"] and plan.final_states == ["decided"]
    fields = {t.trigger: {n: (f.type.value, f.required) for n, f in t.fields.items()} for t in plan.transitions}
    assert fields == {
        "assess": {"immediate_danger": ("yes_no", True), "summary": ("text", True)},
        "send_receipt": {"sent_on": ("date", False)},
        "decide": {"outcome": ("choice", True), "rationale": ("text", True)},
    }
    assert set(plan.transition("decide").fields["outcome"].options) == {"investigation", "other_support", "no_action"}  # type: ignore[union-attr]
    assert plan.transition("assess").fields["summary"].sensitive  # type: ignore[union-attr]
    assert {"sagsbehandler", "teamleder"} <= set(plan.roles) and "sagsbehandler" in plan.may_open
    assert plan.states["received"].deadline == "24 hours"
    receipt = plan.case_deadlines["receipt"]
    assert (receipt.start, receipt.met_by) == ("opened", "send_receipt") and "6" in receipt.within
