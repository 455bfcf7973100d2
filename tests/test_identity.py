"""Who acts in direct mode: the OS login from the uid (never USER/LOGNAME); INDSATS_USER acts as another
registered user, and every event then records the real OS login beside the actor."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result

from indsats.config import os_login

ME = os_login()


def test_user_and_logname_do_not_change_who_acts(invoke: Callable[..., Result], cli_org: object) -> None:
    assert ME not in cli_org
    result = invoke(["users", "add", "evil", "--name", "Evil", "--role", "admin"], user=None, USER="admin",
                    LOGNAME="admin")
    assert result.exit_code == 4
    assert result.stderr == f"Error: '{ME}' is not a registered user (an admin adds users with 'indsats users add')\n"


@pytest.mark.parametrize("args", [
    ["remind", "--dry-run", "--json"], ["verify"], ["stuck"], ["report"], ["calendar", "closed", "--year", "2026"],
    ["calendar", "due", "2026-03-02T09:00", "1", "working", "day"], ["plans", "list"], ["plans", "show", "radikalisering"],
    ["cases"], ["users", "list"],
])
def test_an_unregistered_actor_may_run_no_command(invoke: Callable[..., Result], cli_org: object,
                                                   args: list[str]) -> None:
    result = invoke(args, user="stranger")
    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    assert "'stranger' is not a registered user" in result.stderr


def test_remind_is_for_admins(invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["remind", "--dry-run"], user="sup")
    assert result.exit_code == 4
    assert "only an admin" in result.stderr
    assert invoke(["remind", "--dry-run"], user="admin").exit_code == 0


def test_acting_as_another_user_records_the_os_login_beside_the_actor(
    invoke: Callable[..., Result], cli_org: object
) -> None:
    assert ME != "emil"
    opened = invoke(["open", "radikalisering", "--subject", "REF-1", "--note", "seen"], user="emil")
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.splitlines()[-1]
    assert invoke(["show", case_id], user="emil").exit_code == 0

    events = json.loads(invoke(["history", case_id, "--json"], user="emil").stdout)
    assert [(e["kind"], e["actor"], e["payload"]["os_login"]) for e in events] == [
        ("opened", "emil", ME), ("viewed", "emil", ME)]
    audit = json.loads(invoke(["audit", case_id, "--json"], user="sup").stdout)
    assert [(a["login"], a["os_login"]) for a in audit] == [("emil", ME), ("emil", ME), ("emil", ME)]
    assert invoke(["verify"]).exit_code == 0


def test_acting_as_yourself_records_no_second_login(invoke: Callable[..., Result], cli_org: object) -> None:
    assert invoke(["users", "add", ME, "--name", "Me", "--role", "medarbejder", "--reports-to", "lea"]).exit_code == 0
    opened = invoke(["open", "radikalisering", "--subject", "REF-1"], user=None)
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.splitlines()[-1]
    (event,) = json.loads(invoke(["history", case_id, "--json"], user=ME).stdout)[:1]
    assert event["actor"] == ME
    assert "os_login" not in (event["payload"] or {})


def test_organisation_changes_and_every_case_event_record_the_os_login_beside_the_actor(
    invoke: Callable[..., Result], cli_org: object, cli_db_url: str
) -> None:
    from indsats.storage.database import Database

    assert ME != "admin"
    for args in (["users", "add", "ann", "--name", "Ann", "--role", "leder", "--reports-to", "sol"],
                 ["users", "grant", "ann", "fagspecialist"], ["users", "revoke", "ann", "fagspecialist"],
                 ["users", "edit", "ann", "--unit", "Nord"], ["users", "deputy", "lea", "--to", "ann"],
                 ["users", "deputy", "lea", "--clear"], ["users", "deactivate", "ann"], ["users", "reactivate", "ann"]):
        done = invoke(args, user="admin")
        assert done.exit_code == 0, (args, done.output)
    with Database(cli_db_url).unit_of_work() as uow:
        changes = [(e["kind"], (e["payload"] or {}).get("os_login")) for e in uow.repo.iter_org_events()
                   if e["actor"] == "admin"]
    assert {kind for kind, _ in changes} == {"user_added", "grant_added", "grant_revoked", "user_changed", "deputy_set",
                                             "deputy_cleared", "user_deactivated", "user_reactivated"}
    assert {os_login for _, os_login in changes} == {ME}

    case_id = invoke(["open", "radikalisering", "--subject", "REF-2"], user="emil").stdout.splitlines()[-1]
    for args, user in ((["assign", case_id, "ida"], "lea"), (["pause", case_id, "--reason", "waits"], "emil"),
                       (["resume", case_id], "emil")):
        done = invoke(args, user=user)
        assert done.exit_code == 0, (args, done.output)
    events = json.loads(invoke(["history", case_id, "--json"], user="emil").stdout)
    assert [(e["kind"], e["payload"]["os_login"]) for e in events if e["kind"] != "viewed"] == [
        ("opened", ME), ("assigned", ME), ("paused", ME), ("resumed", ME)]
    assert invoke(["verify"]).exit_code == 0
