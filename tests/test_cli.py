"""The command line, as a user meets it: init, users, the whole walk, exit codes, one-line errors, JSON that
tells the whole story, and a fast ``--help``. SQLite throughout, plus the whole story once on PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import ORGANISATION
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.storage.database import Database

    Invoke = Callable[..., Result]

ASSESS = ["--set", "summary=Samtale med borgeren", "--set", "signs=behaviour:strong"]
DECIDE = ["--set", "police_report=no", "--set", "rationale=Ingen strafbare forhold", "--set", "follow_up=outreach"]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert result.stderr == ""
    return result


def fails(result: Result, code: int) -> str:
    """Assert the one-line error of a failed command and return it."""
    assert result.exit_code == code, f"exit {result.exit_code} (expected {code}): {result.output}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def register_org(invoke: Invoke, db_url: str | None = None) -> None:
    """init as admin, then the organisation of conftest's `org`, through `indsats users add`."""
    ok(invoke(["init"], user="admin", db_url=db_url))
    for login, (role, reports_to) in ORGANISATION.items():
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        ok(invoke(args + (["--reports-to", reports_to] if reports_to else []), user="admin", db_url=db_url))


def open_case(invoke: Invoke, db_url: str | None = None, *extra: str) -> str:
    result = ok(invoke(["open", "radikalisering", "--subject", "BORGER-REF-1", *extra], user="emil", db_url=db_url))
    return result.stdout.splitlines()[-1]


STEPS = [
    ("emil", "notify_leader", [], "leader_notified"),
    ("lea", "notify_specialist", [], "specialist_notified"),
    ("fie", "assess", ASSESS, "assessed"),
    ("lea", "decide", DECIDE, "decided"),
]


def walk_to(invoke: Invoke, case_id: str, state: str, db_url: str | None = None) -> None:
    for actor, trigger, args, reached in STEPS:
        ok(invoke(["advance", case_id, trigger, *args], user=actor, db_url=db_url))
        if reached == state:
            return


def show_json(invoke: Invoke, case_id: str, user: str, db_url: str | None = None) -> dict[str, Any]:
    return json.loads(ok(invoke(["show", case_id, "--json"], user=user, db_url=db_url)).stdout)


def history_json(invoke: Invoke, case_id: str, user: str = "admin", db_url: str | None = None) -> list[dict[str, Any]]:
    events = json.loads(ok(invoke(["history", case_id, "--json"], user=user, db_url=db_url)).stdout)
    return [e for e in events if e["kind"] != "viewed"]  # the access log is tested in test_privacy


def tamper(db_url: str, sql: str, **params: Any) -> None:
    """Edit the database by hand, outside indsats."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


@pytest.fixture
def world(invoke: Invoke) -> None:
    """A fresh SQLite database with the organisation registered through the CLI."""
    register_org(invoke)


# -- init and users -------------------------------------------------------------------------------


def test_init_registers_the_caller_as_admin_on_an_empty_database_and_is_idempotent(
    invoke: Invoke, cli_db_url: str
) -> None:
    first = ok(invoke(["init"], user="anna"))
    assert "Registered 'anna' as admin" in first.stdout
    second = ok(invoke(["init"], user="bo"))
    assert "Database ready" in second.stdout and "Registered" not in second.stdout
    users = json.loads(ok(invoke(["users", "list", "--json"], user="anna")).stdout)
    assert [(u["login"], u["role"]) for u in users] == [("anna", "admin")]


def test_init_creates_a_database_file_only_its_owner_can_read(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "indsats.db"
    ok(invoke(["init"], db_url=f"sqlite:///{path}"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_users_add_and_list_json_show_the_organisation(invoke: Invoke, world: None) -> None:
    users = {u["login"]: u for u in json.loads(ok(invoke(["users", "list", "--json"])).stdout)}
    assert set(users) == {"admin", *ORGANISATION}
    assert (users["emil"]["role"], users["emil"]["reports_to"], users["emil"]["email"]) == (
        "medarbejder", "lea", "emil@example.org"
    )
    assert users["lea"]["reports_to"] == "sol"
    assert all(u["active"] for u in users.values())


def test_only_an_admin_adds_users(invoke: Invoke, world: None) -> None:
    fails(invoke(["users", "add", "ny", "--name", "Ny", "--role", "medarbejder"], user="lea"), 4)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["users", "add", "ny", "--name", "Ny", "--role", "chef"], 5),  # unknown role
        (["users", "add", "emil", "--name", "Emil", "--role", "medarbejder"], 5),  # exists already
        (["users", "add", "ny", "--name", "Ny", "--role", "medarbejder", "--reports-to", "ghost"], 3),
        (["users", "add", "ny", "--name", "Ny", "--role", "medarbejder", "--email", "not-an-address"], 5),
    ],
)
def test_users_add_rejects_bad_input_with_its_exit_code(invoke: Invoke, world: None, args: list[str], code: int) -> None:
    fails(invoke(args), code)


# -- cases ----------------------------------------------------------------------------------------


def test_open_prints_the_case_id_as_the_last_line(invoke: Invoke, world: None) -> None:
    result = ok(invoke(["open", "radikalisering", "--subject", "BORGER-REF-1", "--note", "Hørt"], user="emil"))
    *_, last = result.stdout.splitlines()
    assert last.startswith("RAD-") and last.endswith("-0001")
    assert open_case(invoke).endswith("-0002")


STATE_LABELS = {name: state.label for name, state in PlanCatalog(PlanFolders()).get("radikalisering").plan.states.items()}


def test_the_whole_walk_by_the_right_people(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    for actor, trigger, args, state in STEPS:
        result = ok(invoke(["advance", case_id, trigger, *args], user=actor))
        assert f"→ {STATE_LABELS[state]}" in result.stdout  # the plan's label of the state, as a person reads it
    assert "(closed)" in result.stdout
    view = show_json(invoke, case_id, "emil")
    assert (view["state"], view["is_open"], view["possible"]) == ("decided", False, [])


@pytest.mark.parametrize(
    ("state", "actor", "trigger", "args"),
    [
        ("leader_notified", "emil", "notify_specialist", []),
        ("specialist_notified", "emil", "assess", ASSESS),
        ("assessed", "fie", "decide", DECIDE),
        ("leader_notified", "lea", "inform_socialchef", ["--set", "socialchef_informed=yes"]),
    ],
)
def test_the_wrong_person_gets_exit_4(
    invoke: Invoke, world: None, state: str, actor: str, trigger: str, args: list[str]
) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, state)
    error = fails(invoke(["advance", case_id, trigger, *args], user=actor), 4)
    assert f"'{actor}'" in error
    assert show_json(invoke, case_id, "admin")["state"] == state


def test_a_missing_field_gets_exit_5_and_names_the_field(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, "assessed")
    error = fails(invoke(["advance", case_id, "decide", "--set", "police_report=no"], user="lea"), 5)
    assert "'rationale'" in error and "--set rationale=" in error


def test_an_unknown_case_gets_exit_3(invoke: Invoke, world: None) -> None:
    for args in (["show", "RAD-2026-9999"], ["history", "RAD-2026-9999"], ["advance", "RAD-2026-9999", "notify_leader"]):
        assert "RAD-2026-9999" in fails(invoke(args, user="emil"), 3)


def test_police_report_no_stays_the_string_no_from_the_command_line_to_the_history(
    invoke: Invoke, world: None
) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, "decided")
    decision = history_json(invoke, case_id)[-1]
    assert decision["payload"]["fields"]["police_report"] == "no"


def test_acute_is_recorded_with_a_note_and_shown(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    fails(invoke(["advance", case_id, "acute"], user="emil"), 5)
    result = ok(invoke(["advance", case_id, "acute", "--note", "112 ringet op"], user="emil"))
    assert "still in 'Mistanke registreret'" in result.stdout
    view = show_json(invoke, case_id, "emil")
    assert (view["state"], view["acute"]) == ("suspected", True)
    assert "ACUTE" in ok(invoke(["show", case_id], user="emil")).stdout


def test_a_minor_case_needs_the_report_before_the_decision(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke, None, "--minor")
    walk_to(invoke, case_id, "assessed")
    assert "report_to_childrens_services" in fails(invoke(["advance", case_id, "decide", *DECIDE], user="lea"), 5)
    ok(invoke(["advance", case_id, "report_to_childrens_services", "--set", "reported_on=2026-03-02"], user="emil"))
    ok(invoke(["advance", case_id, "decide", *DECIDE], user="lea"))


# -- show and history tell the whole story ---------------------------------------------------------


def test_show_json_gives_state_who_must_act_and_the_triggers_open_to_the_actor(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, "assessed")
    view = show_json(invoke, case_id, "lea")
    assert (view["id"], view["state"], view["is_open"], view["plan_id"]) == (case_id, "assessed", True, "radikalisering")
    assert [(p["login"], p["role"]) for p in view["must_act"]] == [("lea", "leder")]
    assert view["deadline"] is not None and view["action_card"]
    possible = {o["trigger"]: o for o in view["possible"]}
    assert set(possible) == {"decide", "acute", "report_to_childrens_services"}
    fields = {f["name"]: f for f in possible["decide"]["fields"]}
    assert fields["police_report"]["required"] and fields["rationale"]["required"]
    assert "outreach" in fields["follow_up"]["options"]
    assert show_json(invoke, case_id, "sup")["possible"] == []


def test_history_json_gives_every_event_in_order(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, "decided")
    ok(invoke(["note", case_id, "Sagen er afsluttet"], user="lea"))
    events = history_json(invoke, case_id, user="emil")
    assert [(e["seq"], e["kind"], e["actor"], e["trigger"], e["to_state"]) for e in events] == [
        (1, "opened", "emil", None, "suspected"),
        (2, "advanced", "emil", "notify_leader", "leader_notified"),
        (3, "advanced", "lea", "notify_specialist", "specialist_notified"),
        (4, "advanced", "fie", "assess", "assessed"),
        (5, "advanced", "lea", "decide", "decided"),
        (6, "note", "lea", None, "decided"),
    ]
    assert events[0]["payload"]["subject_ref"] == "BORGER-REF-1"
    assert events[3]["payload"]["fields"]["signs"] == {"behaviour": "strong"}
    assert all(e["prev_hash"] == before["hash"] for before, e in zip(events, events[1:]))


def test_cases_json_lists_only_the_cases_the_actor_may_see(invoke: Invoke, world: None) -> None:
    case_id = open_case(invoke)
    assert [c["id"] for c in json.loads(ok(invoke(["cases", "--json"], user="lea")).stdout)] == [case_id]
    assert json.loads(ok(invoke(["cases", "--json"], user="ida")).stdout) == []
    fails(invoke(["show", case_id], user="ida"), 3)


# -- verify ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        # The rationale is sealed (sensitive); police_report is stored in the clear beside it.
        ("UPDATE events SET payload = REPLACE(payload, '\"police_report\":\"no\"', '\"police_report\":\"yes\"') "
         "WHERE case_id = :c AND seq = 5",
         "event 5: payload does not match its digest"),
        ("UPDATE events SET at = '2020-01-01 00:00:00' WHERE case_id = :c AND seq = 3",
         "event 3: hash does not match its contents"),
        ("UPDATE events SET actor = 'sol' WHERE case_id = :c AND seq = 5", "event 5: hash does not match its contents"),
        ("DELETE FROM events WHERE case_id = :c AND seq = 2", "event 3: expected event 2"),
        ("UPDATE cases SET state = 'assessed' WHERE id = :c", "'state' is 'assessed' but its events say 'decided'"),
    ],
    ids=["payload", "at", "actor", "deleted", "projection"],
)
def test_verify_passes_then_exits_8_when_the_database_is_edited_by_hand(
    invoke: Invoke, world: None, cli_db_url: str, edit: str, problem: str
) -> None:
    case_id = open_case(invoke)
    walk_to(invoke, case_id, "decided")
    assert "OK" in ok(invoke(["verify"])).stdout
    tamper(cli_db_url, edit, c=case_id)
    error = fails(invoke(["verify"]), 8)
    assert f"case {case_id}" in error and problem in error
    report = json.loads(invoke(["verify", "--json"]).stdout)
    assert report["ok"] is False
    assert any(problem in p for p in report["problems"])


# -- errors at the edge ---------------------------------------------------------------------------


def test_an_unregistered_user_gets_exit_4(invoke: Invoke, world: None) -> None:
    assert "'nobody' is not a registered user" in fails(invoke(["cases"], user="nobody"), 4)


def test_an_unreachable_database_gets_exit_7_in_one_line(invoke: Invoke) -> None:
    error = fails(invoke(["cases"], db_url="postgresql+psycopg://postgres@127.0.0.1:1/x"), 7)
    assert "127.0.0.1" in error


def test_a_sqlite_file_that_does_not_exist_gets_exit_7_telling_to_run_init(invoke: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    error = fails(invoke(["cases"], db_url=f"sqlite:///{missing}"), 7)
    assert "indsats init" in error
    assert not missing.exists()


def test_a_locked_database_exits_7_and_writes_nothing(invoke: Invoke, world: None, cli_db_url: str) -> None:
    import sqlite3

    case_id = open_case(invoke)
    holder = sqlite3.connect(cli_db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process is writing
        error = fails(invoke(["advance", case_id, "notify_leader"], user="emil", INDSATS_BUSY_TIMEOUT_MS="50"), 7)
        assert "locked" in error and "nothing was written" in error
    finally:
        holder.rollback()
        holder.close()
    assert [e["seq"] for e in history_json(invoke, case_id)] == [1]
    ok(invoke(["advance", case_id, "notify_leader"], user="emil"))


@pytest.mark.parametrize(
    ("args", "user", "code"),
    [
        (["advance", "{case}", "notify_leader"], "lea", 4),
        (["advance", "{case}", "notify_specialist"], "emil", 5),
        (["advance", "{case}", "notify_leader", "--set", "colour=red"], "emil", 5),
        (["advance", "{case}", "notify_leader", "--set", "colour"], "emil", 5),
        (["advance", "{case}", "acute"], "emil", 5),
        (["advance", "{case}", "jump"], "emil", 5),
        (["show", "{case}"], "ida", 3),
        (["show", "{case}"], "nobody", 4),
        (["note", "{case}", " "], "emil", 5),
        (["open", "mobning", "--subject", "REF"], "emil", 3),
        (["open", "radikalisering", "--subject", "REF"], "sup", 4),
        (["open", "radikalisering", "--subject", "REF", "--source", "anonymous", "--reporter", "Nabo"], "emil", 5),
        (["users", "deactivate", "emil"], "lea", 4),
        (["--db", "postgresql+psycopg://postgres@127.0.0.1:1/x", "show", "{case}"], "emil", 7),
    ],
)
def test_every_error_is_one_line_on_stderr_starting_with_error(
    invoke: Invoke, world: None, args: list[str], user: str, code: int
) -> None:
    case_id = open_case(invoke)
    fails(invoke([a.replace("{case}", case_id) for a in args], user=user), code)


def test_a_usage_error_exits_2(invoke: Invoke) -> None:
    assert invoke(["advance"]).exit_code == 2
    assert invoke(["open", "radikalisering", "--subject", "REF", "--source", "rumour"]).exit_code == 2


# -- start-up -------------------------------------------------------------------------------------


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDSATS_")}
    env["INDSATS_CONFIG"] = ""
    env["INDSATS_LANGUAGE"] = "en"
    return env


def test_python_dash_m_indsats_help_works(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "indsats", "--help"], capture_output=True, text=True, env=clean_env(tmp_path), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "advance" in done.stdout
    assert "Exit codes:" in done.stdout


@pytest.mark.parametrize("args", [["--help"], ["advance", "--help"], ["show", "--help"]])
def test_help_does_not_import_the_database_layer(tmp_path: Path, args: list[str]) -> None:
    code = (
        "import sys\n"
        "from indsats.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'transitions') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(tmp_path), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


# -- the whole story on PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgresql
def test_the_whole_story_on_postgresql(invoke: Invoke, postgresql_database: Database, pg_url: str) -> None:
    register_org(invoke, pg_url)
    case_id = open_case(invoke, pg_url)
    fails(invoke(["advance", case_id, "notify_specialist"], user="lea", db_url=pg_url), 5)
    walk_to(invoke, case_id, "leader_notified", pg_url)
    fails(invoke(["advance", case_id, "notify_specialist"], user="emil", db_url=pg_url), 4)
    ok(invoke(["advance", case_id, "notify_specialist"], user="lea", db_url=pg_url))
    fails(invoke(["advance", case_id, "assess"], user="fie", db_url=pg_url), 5)
    fails(invoke(["show", "RAD-2026-9999"], user="fie", db_url=pg_url), 3)
    ok(invoke(["advance", case_id, "assess", *ASSESS], user="fie", db_url=pg_url))
    assert show_json(invoke, case_id, "lea", pg_url)["state"] == "assessed"
    ok(invoke(["advance", case_id, "decide", *DECIDE], user="lea", db_url=pg_url))
    assert show_json(invoke, case_id, "emil", pg_url)["state"] == "decided"
    events = history_json(invoke, case_id, db_url=pg_url)
    assert [e["trigger"] for e in events] == [None, "notify_leader", "notify_specialist", "assess", "decide"]
    assert events[-1]["payload"]["fields"]["police_report"] == "no"
    ok(invoke(["verify"], db_url=pg_url))
    tamper(
        pg_url,
        """UPDATE events SET payload = REPLACE(payload, '"police_report":"no"', '"police_report":"yes"')
           WHERE case_id = :c AND trigger = 'decide'""",
        c=case_id,
    )
    assert "payload does not match" in fails(invoke(["verify"], db_url=pg_url), 8)
