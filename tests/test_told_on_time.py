"""Told on time: a notice when a state becomes someone's, and a warning before its deadline, not only after.

Timelines on the shipped plan (Emil reports to Lea, Lea to Sol) and on ``tests/plans/frister.yaml``. The
clock starts on Monday 2 March 2026, 09:00 in Copenhagen; the working day is 08:00–16:00 (Friday 13:30).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fakes import RecordingNotifier
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.cases.service import advance, open_case
from indsats.engine.cases.views import show_case
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.reminders.sweep import sweep
from indsats.engine.time.clock import LOCAL_TZ, localize

if TYPE_CHECKING:
    from collections.abc import Callable

    from indsats.engine.context import Context
    from indsats.engine.time.clock import FixedClock

PLANS = Path(__file__).parent / "plans"
LEA, SOL, EMIL, FIE = "lea@example.org", "sol@example.org", "emil@example.org", "fie@example.org"

# E-mails and the plan document are checked in Danish, the language of the shipped plans.
pytestmark = pytest.mark.usefixtures("danish")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local time in March 2026 (Monday 2 March is day 2)."""
    return localize(datetime(2026, 3, day, hour, minute), LOCAL_TZ)


@pytest.fixture
def catalog() -> PlanCatalog:
    return PlanCatalog(PlanFolders(PLANS))


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


def run(ctx: Context, clock: FixedClock, notifier: RecordingNotifier, when: datetime) -> list[tuple[tuple[str, ...], str]]:
    """Sweep at ``when``; the (recipients, subject) of what went out."""
    clock.set(when)
    before = len(notifier.sent)
    sweep(ctx, notifier, worker="test", mail_from="indsats@example.org")
    return [(m.to, m.subject.split(":")[0]) for m in notifier.sent[before:]]


def rows(ctx: Context, case_id: str) -> list[dict[str, Any]]:
    with ctx.db.unit_of_work() as uow:
        return uow.repo.reminders_for(case_id)


def test_a_notice_on_entry_and_a_warning_before_the_deadline_reach_the_responsible_person_and_nobody_else(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("leader_notified")  # Monday 09:00: Lea must act by the end of Tuesday (16:00)

    assert run(ctx, clock, notifier, at(2, 9)) == [((LEA,), "Ny opgave")]
    # Half a working day before Tuesday's 16:00 closing is Tuesday 12:00.
    assert run(ctx, clock, notifier, at(3, 11, 59)) == []
    assert run(ctx, clock, notifier, at(3, 12)) == [((LEA,), "Fristen nærmer sig")]
    view = show_case(ctx, actor="lea", case_id=case_id)
    assert (view.escalation_level, view.reminders_sent) == (0, 2)  # they count as reminders, and never escalate
    assert run(ctx, clock, notifier, at(3, 16)) == [((LEA,), "Påmindelse")]
    assert run(ctx, clock, notifier, at(4, 16)) == [((SOL,), "Eskalering (niveau 1)")]
    for message in notifier.sent:
        assert "BORGER-REF-1" not in message.body and "Lea" not in message.body
    notice = notifier.sent[0]
    assert f"indsats advance {case_id} notify_specialist" in notice.body
    assert "03-03-2026 kl. 16:00" in notice.body  # the deadline, at Tuesday's closing


def test_the_notice_of_a_state_left_at_once_is_never_sent(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_in("leader_notified")  # opened and moved on within the same minute: Emil's notice is cancelled

    sent = run(ctx, clock, notifier, at(2, 9))

    assert (EMIL,) not in [to for to, _ in sent]


def test_a_plan_can_turn_the_notice_off_for_a_state(ctx: Context, clock: FixedClock, org: Any) -> None:
    case_id = open_case(ctx, actor="emil", plan_id="frister", subject_ref="REF-1").case_id
    advance(ctx, actor="fie", case_id=case_id, trigger="assess")

    kinds = [(r["state"], r["kind"], r["status"]) for r in rows(ctx, case_id) if r["deadline"] is None]

    assert ("received", "notice", "cancelled") in kinds
    assert not any(state == "assessed" and kind == "notice" for state, kind, _ in kinds)


def test_notices_and_warnings_go_only_to_whoever_must_act_even_with_nobody_above_them(
    ctx: Context, clock: FixedClock, org: Any, notifier: RecordingNotifier
) -> None:
    # Fie (fagspecialist) reports to nobody: her level 0 is the top, yet a notice or warning is never repeated.
    case_id = open_case(ctx, actor="emil", plan_id="frister", subject_ref="REF-1").case_id

    first = run(ctx, clock, notifier, at(2, 9))
    again = run(ctx, clock, notifier, at(2, 15))

    assert first == [((FIE,), "Ny opgave")]
    assert again == []
    state_rows = [r for r in rows(ctx, case_id) if r["deadline"] is None and r["state"] == "received"]
    assert sorted(r["kind"] for r in state_rows) == ["notice", "reminder", "warning"]
    # 2 working days from Monday 09:00 end on Wednesday at 16:00; the warning is half that day earlier.
    warning = next(r for r in state_rows if r["kind"] == "warning")
    assert warning["due_at"] == at(4, 12)
