"""Nobody left to act: an organisation change that would leave a case with nobody who can act on it, where
it stands or at a later step every way to its end passes through, is refused (exit 5, the cases by id with
the state, step ahead or case deadline and whom the plan names, nothing written); one that only shortens the
chain escalations climb is not, and a case that had nobody already never blocks the change that mends it.
Use cases on a fixed clock, then the command line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from indsats.engine.cases.service import advance, open_case
from indsats.engine.org.grants import grant_role, revoke_role
from indsats.engine.org.handover import deactivate_user
from indsats.engine.org.users import edit_user, list_users
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context

PERSONAL = ("Emil", "Lea", "Sol", "example.org", "BORGER")


def leader(ctx: Context, login: str) -> str | None:
    return {u.login: u.reports_to for u in list_users(ctx, actor="admin")}[login]


def kinds(ctx: Context, case_id: str) -> list[str]:
    with ctx.db.unit_of_work() as uow:
        return [e["kind"] for e in uow.repo.events_for(case_id)]


def top_pending_level(ctx: Context, case_id: str) -> int:
    """How far up the chain the case's pending reminders climb."""
    with ctx.db.unit_of_work() as uow:
        return max(r.level for r in uow.repo.reminders_for(case_id) if r.status == "pending")


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(Invalid) as caught:
        call()
    message = str(caught.value)
    assert not any(word in message for word in PERSONAL), message  # case ids, states, roles and logins only
    return message


# -- use cases ------------------------------------------------------------------------------------------


def test_taking_the_openers_leader_away_while_the_case_waits_for_that_leader_is_refused_and_changes_nothing(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")  # lea, emil's leader, must act
    events = kinds(ctx, case_id)
    message = refused(lambda: edit_user(ctx, actor="admin", login="emil", reports_to=None))
    assert f"{case_id} in 'leader_notified' (the nearest leader of the one who opened the case)" in message
    assert "nothing was written" in message and "--reports-to LOGIN" in message
    assert leader(ctx, "emil") == "lea" and kinds(ctx, case_id) == events  # no rechain either
    edit_user(ctx, actor="admin", login="emil", reports_to="leo")  # another leader: leo must act now
    advance(ctx, actor="leo", case_id=case_id, trigger="notify_specialist")


def test_a_new_leader_with_nobody_above_is_refused_while_the_leaders_leader_must_meet_a_case_deadline(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("specialist_notified")  # socialchef_assessment runs: sol, emil's leader's leader, must meet it
    message = refused(lambda: edit_user(ctx, actor="admin", login="emil", reports_to="sol"))  # sol has no leader
    assert f"{case_id}, case deadline 'socialchef_assessment' (the leader's nearest leader)" in message
    assert "'leader_notified'" not in message  # the state itself is the fagspecialist's: nothing lost there
    # The leader in the middle losing her own leader takes the case deadline's person away as well.
    assert "socialchef_assessment" in refused(lambda: edit_user(ctx, actor="admin", login="lea", reports_to=None))
    assert (leader(ctx, "emil"), leader(ctx, "lea")) == ("lea", "sol")
    edit_user(ctx, actor="admin", login="emil", reports_to="leo")  # leo reports to sol: sol still meets it


def test_a_leader_taken_from_someone_who_still_acts_only_shortens_the_escalation(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")  # lea must act; her escalation climbs to sol
    assert top_pending_level(ctx, case_id) == 1
    edit_user(ctx, actor="admin", login="lea", reports_to=None)
    assert leader(ctx, "lea") is None and top_pending_level(ctx, case_id) == 0  # re-planned: lea is the top now
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")


def leader_taken_behind_the_checks(ctx: Context, login: str) -> None:
    """What a database from before these checks may hold: ``login``'s leader taken away, no check run."""
    from indsats.engine.org.users import record_user

    with ctx.db.unit_of_work(write=True) as uow:
        uow.repo.update_user(login, {"reports_to": None})
        record_user(uow.repo, at=ctx.clock.now(), actor="admin", kind="user_changed", login=login,
                    values={"reports_to": None}, os_login=None)
        uow.commit()


def test_taking_the_openers_leader_away_before_the_case_reaches_that_leader_is_refused_naming_the_step_ahead(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")  # emil acts now; lea, his leader, acts next: every way on passes her
    events = kinds(ctx, case_id)
    message = refused(lambda: edit_user(ctx, actor="admin", login="emil", reports_to=None))
    assert f"{case_id} on reaching 'leader_notified' (the nearest leader of the one who opened the case)" in message
    assert "on reaching 'assessed'" in message and "in 'suspected'" not in message  # emil can still act
    assert "move on first. For a step ahead, name someone there first (indsats users grant LOGIN ROLE" in message
    assert "nothing was written" in message
    assert leader(ctx, "emil") == "lea" and kinds(ctx, case_id) == events
    edit_user(ctx, actor="admin", login="emil", reports_to="leo")  # another leader takes the steps ahead
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    advance(ctx, actor="leo", case_id=case_id, trigger="notify_specialist")


def test_the_only_specialist_leaves_only_once_someone_else_holds_the_role_the_cases_ahead_need(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    waiting = case_in("leader_notified")  # the fagspecialist is the next step, fie the only one holding it
    done = case_in("assessed")  # past the specialist: not held up by her leaving
    for leave in (lambda: revoke_role(ctx, actor="admin", login="fie", role="fagspecialist"),
                  lambda: deactivate_user(ctx, actor="admin", login="fie")):
        message = refused(leave)
        assert f"{waiting} on reaching 'specialist_notified' (Fagspecialist (radikalisering))" in message, message
        assert done not in message and "1 case(s)" in message
    assert [u.active for u in list_users(ctx, actor="admin") if u.login == "fie"] == [True]
    grant_role(ctx, actor="admin", login="ida", role="fagspecialist")
    deactivate_user(ctx, actor="admin", login="fie")
    advance(ctx, actor="lea", case_id=waiting, trigger="notify_specialist")
    advance(ctx, actor="ida", case_id=waiting, trigger="assess",
            values={"summary": "Samtale med borgeren", "signs": "behaviour:moderate"})


def test_a_case_that_had_nobody_already_never_blocks_a_change_and_a_new_leader_mends_it(
    ctx: Context, org: Any
) -> None:
    case_id = open_case(ctx, actor="emil", plan_id="radikalisering", subject_ref="BORGER-REF-1").case_id
    leader_taken_behind_the_checks(ctx, "emil")  # emil still acts in 'suspected'
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")  # now nobody is emil's leader
    edit_user(ctx, actor="admin", login="lea", reports_to=None)  # unrelated to the stranded case: allowed
    edit_user(ctx, actor="admin", login="emil", reports_to="leo")
    advance(ctx, actor="leo", case_id=case_id, trigger="notify_specialist")


def test_revoking_the_role_a_step_needs_from_the_only_one_standing_there_is_refused_though_she_would_still_be_reminded(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("assessed")  # "a leder, the opener's leader": lea, who alone may decide
    for handover in (None, "leo"):  # a handover does not help: leo is not emil's leader
        message = refused(lambda h=handover: revoke_role(ctx, actor="admin", login="lea", role="leder",  # type: ignore[misc]
                                                          handover_to=h))
        assert f"{case_id} in 'assessed' (Leder (the nearest leader of the one who opened the case))" in message
    assert [u.held for u in list_users(ctx, actor="admin") if u.login == "lea"] == ["leder (radikalisering)"]
    revoke_role(ctx, actor="admin", login="leo", role="leder")  # no case needs leo: just revoked


# -- the command line -------------------------------------------------------------------------------------


@pytest.fixture
def cli(invoke: Callable[..., Result], cli_org: Any) -> Callable[..., Result]:
    return invoke


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(("Error: ", "Fejl: ")), result.stderr
    return lines[0]


def test_users_edit_no_reports_to_is_refused_with_exit_5_in_danish_and_the_user_is_left_as_he_was(
    cli: Callable[..., Result], danish: None
) -> None:
    rad = cli(["open", "radikalisering", "--subject", "BORGER-REF-1"], user="emil").stdout.splitlines()[-1]
    assert cli(["advance", rad, "notify_leader"], user="emil").exit_code == 0
    error = one_error_line(cli(["users", "edit", "emil", "--no-reports-to"]), 5)
    assert rad in error and "'leader_notified'" in error and "ingen" in error.lower(), error
    assert not any(word in error for word in PERSONAL)
    users = {u["login"]: u for u in json.loads(cli(["users", "list", "--json"]).stdout)}
    assert users["emil"]["reports_to"] == "lea"
    assert cli(["users", "edit", "emil", "--reports-to", "leo"]).exit_code == 0


def test_revoking_the_role_the_next_step_needs_is_refused_with_exit_5_in_danish_naming_the_step_ahead(
    cli: Callable[..., Result], danish: None
) -> None:
    rad = cli(["open", "radikalisering", "--subject", "BORGER-REF-1"], user="emil").stdout.splitlines()[-1]
    assert cli(["advance", rad, "notify_leader"], user="emil").exit_code == 0
    error = one_error_line(cli(["users", "revoke", "fie", "fagspecialist"]), 5)
    assert f"{rad}, når sagen når 'specialist_notified' (Fagspecialist (radikalisering))" in error, error
    assert "indsats users grant LOGIN ROLE" in error and not any(word in error for word in PERSONAL)
    result = cli(["users", "deactivate", "fie", "--json"])
    error = json.loads(result.stderr)
    assert result.exit_code == error["exit_code"] == 5 and result.stdout == "" and rad in error["error"], error
    users = {u["login"]: u for u in json.loads(cli(["users", "list", "--json"]).stdout)}
    assert users["fie"]["active"] and [g["role"] for g in users["fie"]["grants"]] == ["fagspecialist"]
