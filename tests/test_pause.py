"""Pausing a case that waits on the police or psychiatry, and resuming it: held reminders, shifted deadlines.

The shipped plan: in 'specialist_notified' Fie (fagspecialist) must act within 5 working days, escalations
every 2 working days. Monday 2 March 2026, 09:00 in Copenhagen; the working day is 08:00–16:00 (Fri 13:30).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from fakes import RecordingNotifier
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.cases.pause import pause_case, resume_case
from indsats.engine.cases.service import advance
from indsats.engine.cases.views import case_history, show_case
from indsats.engine.log.events import EventKind
from indsats.engine.log.verify import verify
from indsats.engine.reminders.planning import AHEAD
from indsats.engine.reminders.sweep import sweep
from indsats.engine.supervision import StuckReason, stuck_cases
from indsats.engine.time.clock import LOCAL_TZ, localize
from indsats.errors import Invalid, NotAllowed
from indsats.storage.models import cases, events

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context
    from indsats.engine.time.clock import FixedClock

REASON = "Afventer politiets vurdering"


@pytest.fixture
def catalog() -> PlanCatalog:
    """The shipped plans and the test plan ``tests/plans/frister.yaml`` (an elapsed-time deadline)."""
    return PlanCatalog(PlanFolders(Path(__file__).parent / "plans"))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return localize(datetime(2026, 3, day, hour, minute), LOCAL_TZ)


def pending(ctx: Context, case_id: str) -> list[tuple[int, str, datetime]]:
    with ctx.db.unit_of_work() as uow:
        rows = uow.repo.reminders_for(case_id)
    return [(r["level"], r["kind"], r["due_at"]) for r in rows if r["status"] == "pending" and r["kind"] not in AHEAD]


def test_a_case_paused_for_3_working_days_has_its_deadline_and_reminders_3_working_days_later(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")  # Monday 09:00: Lea must act by the end of Tuesday; then Sol
    assert pending(ctx, case_id) == [(0, "reminder", at(3, 16)), (1, "escalation", at(4, 16))]
    assert _due(ctx, case_id, "warning") == at(3, 12)

    clock.set(at(2, 10))
    pause_case(ctx, actor="lea", case_id=case_id, reason=REASON)

    # Meanwhile: stuck shows it paused, with the reason and since when; the sweep holds its reminders.
    stuck = stuck_cases(ctx, actor="sup", at=at(4, 9))
    assert [(s.case_id, s.reason, s.paused_since, s.pause_reason) for s in stuck] == [
        (case_id, StuckReason.paused, at(2, 10), REASON)
    ]
    assert pending(ctx, case_id) == []
    clock.set(at(4, 17))  # past the old deadline and the escalation: nothing goes out while paused
    assert sweep(ctx, RecordingNotifier(), worker="test").sent == 0

    clock.set(at(5, 10))  # Thursday: Tuesday, Wednesday and Thursday were paused
    out = resume_case(ctx, actor="lea", case_id=case_id)

    # Tuesday + 3 working days is Friday, at its 13:30 closing; Wednesday's escalation moves to Monday 9 March.
    assert out.deadline == at(6, 13, 30)
    assert show_case(ctx, actor="lea", case_id=case_id).deadline == at(6, 13, 30)
    assert pending(ctx, case_id) == [(0, "reminder", at(6, 13, 30)), (1, "escalation", at(9, 16))]
    assert _due(ctx, case_id, "warning") == at(6, 12)
    assert stuck_cases(ctx, actor="sup", at=at(5, 11)) == []
    kinds = [e.kind for e in case_history(ctx, actor="lea", case_id=case_id)]
    assert EventKind.paused in kinds and EventKind.resumed in kinds
    assert verify(ctx).ok


def test_elapsed_time_moves_by_the_elapsed_pause(ctx: Context, clock: FixedClock, org: Any) -> None:
    from indsats.engine.cases.service import open_case

    case_id = open_case(ctx, actor="emil", plan_id="frister", subject_ref="REF-1").case_id
    advance(ctx, actor="fie", case_id=case_id, trigger="assess")  # 10 days: the end of Thursday 12 March
    assert show_case(ctx, actor="lea", case_id=case_id).deadline == at(12, 16)

    clock.set(at(3, 9))
    pause_case(ctx, actor="lea", case_id=case_id, reason=REASON)
    clock.set(at(8, 9))  # five calendar days later, a weekend among them
    resume_case(ctx, actor="lea", case_id=case_id)

    view = show_case(ctx, actor="lea", case_id=case_id)
    assert view.deadline == at(17, 16)  # elapsed: five days on, Tuesday 17 March
    decision = next(d for d in view.case_deadlines if d.name == "decision")
    # From Tuesday 7 April (2 April was Skærtorsdag) five days on is Sunday 12 April: the end of Monday 13 April.
    assert decision.due_at == localize(datetime(2026, 4, 13, 16, 0), LOCAL_TZ)
    assert verify(ctx).ok  # the resume recorded the case deadlines' rows as it moved them


def test_while_paused_the_case_cannot_move_on_but_acute_alerts_still_go_out(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("specialist_notified")
    pause_case(ctx, actor="fie", case_id=case_id, reason=REASON)

    with pytest.raises(Invalid, match=f"case {case_id} is paused since 2026-03-02 09:00.*indsats resume {case_id}"):
        advance(ctx, actor="fie", case_id=case_id, trigger="assess", values={"summary": "x"})
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 ringet op")

    notifier = RecordingNotifier()
    sweep(ctx, notifier, worker="test")
    assert {m.subject.split(":")[0] for m in notifier.sent} == {"AKUT"}


def test_only_whoever_must_act_their_leaders_and_supervisors_may_pause_or_resume(
    ctx: Context, case_in: Callable[..., str], org: Any
) -> None:
    case_id = case_in("leader_notified")  # Lea must act; Sol is above her

    with pytest.raises(NotAllowed, match="only whoever must act"):
        pause_case(ctx, actor="emil", case_id=case_id, reason=REASON)
    pause_case(ctx, actor="sol", case_id=case_id, reason=REASON)
    with pytest.raises(Invalid, match="already paused"):
        pause_case(ctx, actor="lea", case_id=case_id, reason=REASON)
    resume_case(ctx, actor="sup", case_id=case_id)
    with pytest.raises(Invalid, match="is not paused"):
        resume_case(ctx, actor="lea", case_id=case_id)
    with pytest.raises(Invalid, match="needs a reason"):
        pause_case(ctx, actor="lea", case_id=case_id, reason="  ")


def test_the_reason_is_stored_encrypted(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("leader_notified")
    pause_case(ctx, actor="lea", case_id=case_id, reason=REASON)

    with ctx.db.unit_of_work() as uow:
        stored = uow.repo.conn.execute(select(cases.c.pause_reason)).scalar_one()
        payloads = list(uow.repo.conn.execute(select(events.c.payload)).scalars())
    assert REASON not in stored
    assert not any(REASON in (p or "") for p in payloads)
    assert show_case(ctx, actor="lea", case_id=case_id).pause_reason == REASON


def test_pause_and_resume_on_the_command_line(
    invoke: Callable[..., Result], tmp_path: Any
) -> None:
    from conftest import ORGANISATION

    assert invoke(["init"], user="admin").exit_code == 0, "init"
    for login, (role, boss) in ORGANISATION.items():
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        assert invoke(args + (["--reports-to", boss] if boss else [])).exit_code == 0
    opened = invoke(["open", "radikalisering", "--subject", "REF-9"], user="emil")
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.strip().splitlines()[-1]
    assert invoke(["advance", case_id, "notify_leader"], user="emil").exit_code == 0

    refused = invoke(["pause", case_id, "--reason", REASON], user="emil")
    paused = invoke(["pause", case_id, "--reason", REASON], user="lea")
    shown = invoke(["show", case_id], user="lea")
    resumed = invoke(["resume", case_id], user="lea")
    again = invoke(["resume", case_id], user="lea")

    assert refused.exit_code == 4 and refused.stderr.startswith("Error: ") and refused.stderr.count("\n") == 1
    assert paused.exit_code == 0, paused.output
    assert f"{case_id}: paused at" in paused.stdout
    assert "PAUSED:" in shown.stdout and REASON in shown.stdout
    assert resumed.exit_code == 0, resumed.output
    assert f"{case_id}: resumed" in resumed.stdout
    assert again.exit_code == 5 and "is not paused" in again.stderr


def _due(ctx: Context, case_id: str, kind: str) -> datetime:
    with ctx.db.unit_of_work() as uow:
        return next(r["due_at"] for r in uow.repo.reminders_for(case_id) if r["status"] == "pending" and r["kind"] == kind)


def test_the_report_counts_paused_time_apart_from_time_in_state(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    from datetime import timedelta

    from indsats.engine.supervision import step_report

    case_id = case_in("leader_notified")  # Monday 09:00
    clock.set(at(2, 10))
    pause_case(ctx, actor="lea", case_id=case_id, reason=REASON)
    clock.set(at(5, 10))
    resume_case(ctx, actor="lea", case_id=case_id)
    clock.set(at(5, 11))
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")

    stats = next(s for s in step_report(ctx, actor="sup").plans[0].states if s.state == "leader_notified")

    # Monday 09:00 → Thursday 11:00 is 26 working hours, 24 of them paused (Mon 10–16, Tue, Wed, Thu 8–10).
    assert (stats.passed, stats.median, stats.paused, stats.paused_visits) == (
        1, timedelta(hours=2), timedelta(hours=24), 1
    )
    # Left on Thursday: before the deadline, which the pause moved from Tuesday to Friday.
    assert (stats.on_time, stats.breaches) == (1, 0)
