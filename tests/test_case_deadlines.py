"""Deadlines of the whole case, beside the per-state ones (``tests/plans/frister.yaml``).

The receipt runs 6 hverdage (statutory) from the opening and is met by ``send_receipt`` whatever state the
case is in; the decision runs one month from ``assess`` and is published (retssikkerhedsloven § 3, stk. 2).
Fie is the fagspecialist; Emil (medarbejder) reports to Lea (leder), Lea to Sol. Monday 2 March 2026, 09:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fakes import RecordingNotifier
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.cases.service import advance, open_case
from indsats.engine.cases.views import show_case
from indsats.engine.log.verify import verify
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.plans.schema import parse_plan
from indsats.engine.reminders.sweep import sweep
from indsats.engine.supervision import StuckReason, step_report, stuck_cases
from indsats.engine.time.calendar import CalendarConfig, WorkingCalendar
from indsats.engine.time.clock import LOCAL_TZ, localize
from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.time.clock import FixedClock

PLANS = Path(__file__).parent / "plans"
FIE = "fie@example.org"

# E-mails and the plan document are checked in Danish, the language of the shipped plans.
pytestmark = pytest.mark.usefixtures("danish")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return localize(datetime(2026, month, day, hour, minute), LOCAL_TZ)


@pytest.fixture
def catalog() -> PlanCatalog:
    return PlanCatalog(PlanFolders(PLANS))


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def opened(ctx: Context, org: Any) -> str:
    return open_case(ctx, actor="emil", plan_id="frister", subject_ref="REF-1").case_id


def run(ctx: Context, clock: FixedClock, notifier: RecordingNotifier, when: datetime) -> list[Any]:
    clock.set(when)
    before = len(notifier.sent)
    sweep(ctx, notifier, worker="test", mail_from="indsats@example.org")
    return notifier.sent[before:]


def deadline_rows(ctx: Context, case_id: str, name: str) -> list[dict[str, Any]]:
    with ctx.db.unit_of_work() as uow:
        return [r for r in uow.repo.reminders_for(case_id) if r["deadline"] == name]


def test_the_receipt_deadline_runs_from_the_opening_while_the_case_moves(
    ctx: Context, clock: FixedClock, opened: str, notifier: RecordingNotifier
) -> None:
    # Mon 2 March + 6 hverdage: 3, 4, 5, 6, 9, 10 March; the end of Tuesday 10 March.
    receipt = show_case(ctx, actor="fie", case_id=opened).case_deadlines[0]
    assert (receipt.name, receipt.due_at, receipt.met_at) == ("receipt", at(10, 16), None)

    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="assess")  # a new state: the receipt runs on

    view = show_case(ctx, actor="fie", case_id=opened)
    assert view.state == "assessed"
    assert [(d.name, d.due_at) for d in view.case_deadlines if d.met_at is None] == [
        ("receipt", at(10, 16)),
        # One month from 3 March is 3 April, Langfredag: Easter closes the days to Tuesday 7 April.
        ("decision", at(7, 16, month=4)),
    ]
    assert {r["status"] for r in deadline_rows(ctx, opened, "receipt")} == {"pending"}
    # The warning one working day before (Monday 9 March 16:00), then the reminder at the deadline, to Fie.
    warned = run(ctx, clock, notifier, at(9, 16))
    assert [(m.to, m.subject.split(":")[0]) for m in warned if "Kvittering" in m.body] == [
        ((FIE,), "Fristen nærmer sig")
    ]
    late = run(ctx, clock, notifier, at(10, 16))
    assert [(m.to, m.subject.split(":")[0]) for m in late] == [((FIE,), "Påmindelse")]
    assert "Kvittering for modtagelse (frist for sagen" in late[0].body
    assert f"indsats advance {opened} send_receipt" in late[0].body


def test_an_overdue_case_deadline_is_stuck_until_its_trigger_meets_it(
    ctx: Context, clock: FixedClock, opened: str
) -> None:
    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="assess")  # the state's own deadline is not overdue

    stuck = stuck_cases(ctx, actor="sup", at=at(11, 9))
    assert [(s.case_id, s.reason, s.case_deadline, s.deadline) for s in stuck] == [
        (opened, StuckReason.case_deadline, "Kvittering for modtagelse", at(10, 16))
    ]

    clock.set(at(11, 9))
    advance(ctx, actor="fie", case_id=opened, trigger="send_receipt")

    assert stuck_cases(ctx, actor="sup", at=at(11, 9)) == []
    receipt = next(d for d in show_case(ctx, actor="fie", case_id=opened).case_deadlines if d.name == "receipt")
    assert receipt.met_at == at(11, 9)
    assert {r["status"] for r in deadline_rows(ctx, opened, "receipt")} <= {"cancelled", "sent"}
    assert verify(ctx).ok
    report = step_report(ctx, actor="sup").plans[0]
    assert [(d.name, d.started, d.met, d.on_time, d.breaches, d.running) for d in report.case_deadlines] == [
        ("receipt", 1, 1, 0, 1, 0),  # met a day late
        ("decision", 1, 0, 0, 0, 1),  # running, due in April
    ]


def test_a_published_deadline_warns_that_the_citizen_must_be_told_in_writing(
    ctx: Context, clock: FixedClock, opened: str, notifier: RecordingNotifier
) -> None:
    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="assess")

    # The decision is due at the end of Tuesday 7 April; warn_before 5 days is 2 April, Skærtorsdag (closed),
    # so the warning comes at the closing of the open day before it, Wednesday 1 April.
    assert [m for m in run(ctx, clock, notifier, at(1, 15, month=4)) if "Afgørelse" in m.body] == []
    warned = [m for m in run(ctx, clock, notifier, at(1, 16, month=4)) if "Afgørelse" in m.body]

    assert [m.subject.split(":")[0] for m in warned] == ["Fristen nærmer sig"]
    assert "retssikkerhedsloven § 3, stk. 2" in warned[0].body
    assert "skriftligt have besked om, hvornår afgørelsen kan forventes" in warned[0].body


def test_closing_the_case_ends_its_case_deadlines_reminders(ctx: Context, clock: FixedClock, opened: str) -> None:
    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="assess")
    advance(ctx, actor="lea", case_id=opened, trigger="decide")

    with ctx.db.unit_of_work() as uow:
        pending = [r for r in uow.repo.reminders_for(opened) if r["status"] == "pending"]
    assert pending == []
    assert stuck_cases(ctx, actor="sup", at=at(20, 9)) == []


def _tamper(ctx: Context, sql: str, **params: Any) -> None:
    """Edit the database by hand, as someone with direct access would."""
    from sqlalchemy import text

    with ctx.db.connect() as conn:
        conn.execute(text(sql), params)
        conn.commit()


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        ("UPDATE reminders SET status = 'cancelled' WHERE case_id = :c AND deadline = 'receipt' AND kind = 'reminder'",
         "of the case deadline 'receipt' was cancelled while it still runs"),
        ("UPDATE reminders SET due_at = due_at + INTERVAL '1 day' WHERE case_id = :c AND deadline = 'receipt' "
         "AND kind = 'reminder'", "that the case deadline 'receipt' planned is missing or moved"),
        ("DELETE FROM reminders WHERE case_id = :c AND deadline = 'decision'",
         "that the case deadline 'decision' planned is missing or moved"),
    ],
    ids=["cancelled", "moved", "deleted"],
)
def test_verify_catches_a_case_deadlines_reminder_rows_edited(
    ctx: Context, clock: FixedClock, opened: str, edit: str, found: str
) -> None:
    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="assess")  # starts 'decision' beside the running 'receipt'
    assert verify(ctx).ok
    if "INTERVAL" in edit and ctx.db.is_sqlite:
        edit = edit.replace("due_at + INTERVAL '1 day'", "datetime(due_at, '+1 day')")
    _tamper(ctx, edit, c=opened)

    report = verify(ctx)
    assert not report.ok
    assert any(found in p for p in report.problems), report.problems


def test_verify_catches_a_met_case_deadlines_reminder_made_pending_again(
    ctx: Context, clock: FixedClock, opened: str
) -> None:
    clock.set(at(3, 10))
    advance(ctx, actor="fie", case_id=opened, trigger="send_receipt")  # meets 'receipt': its rows are cancelled
    assert verify(ctx).ok
    _tamper(ctx, "UPDATE reminders SET status = 'pending' WHERE case_id = :c AND deadline = 'receipt'", c=opened)

    report = verify(ctx)
    assert any("of the case deadline 'receipt' is still pending though" in p for p in report.problems), report.problems


def test_a_statutory_case_deadline_is_not_stretched_by_a_july_closure(ctx: Context, org: Any) -> None:
    july = frozenset(date(2026, 7, 1) + timedelta(days=n) for n in range(31))
    ctx = type(ctx)(**{**ctx.__dict__, "calendar": WorkingCalendar(CalendarConfig(closed=july))})
    ctx.clock.set(localize(datetime(2026, 6, 29, 10, 0), LOCAL_TZ))  # type: ignore[attr-defined]

    case_id = open_case(ctx, actor="emil", plan_id="frister", subject_ref="REF-1").case_id

    receipt = show_case(ctx, actor="fie", case_id=case_id).case_deadlines[0]
    # 30 June, 1, 2, 3, 6, 7 July: the shutdown is the installation's, not the law's.
    assert receipt.due_at == localize(datetime(2026, 7, 7, 16, 0), LOCAL_TZ)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("met_by: send_receipt", "met_by: send_reciept"), "case_deadlines.receipt.met_by: 'send_reciept' is not a trigger"),
        (("from: assess\n", "from: asess\n"), "case_deadlines.decision.from: 'asess' is neither 'opened' nor a trigger"),
        (("within: P1M", "within: P1DT2H"), "bad duration 'P1DT2H'"),
    ],
)
def test_a_case_deadline_that_names_no_trigger_is_refused_when_the_plan_loads(
    edit: tuple[str, str], message: str
) -> None:
    from indsats import i18n

    i18n.use("en")  # the messages below are the English ones (this module otherwise reads Danish)
    text = (PLANS / "frister.yaml").read_text(encoding="utf-8").replace(*edit)

    with pytest.raises(Invalid, match=message.replace("(", r"\(")) as raised:
        parse_plan(text, "frister.yaml")
    assert str(raised.value).startswith("frister.yaml:")


def test_the_plan_document_lists_the_case_deadlines() -> None:
    from indsats.engine.plans.document import export_plan

    text = export_plan(parse_plan((PLANS / "frister.yaml").read_text(encoding="utf-8")), {}, "md")

    assert "Kvittering for modtagelse (receipt): 6 arbejdsdage (lovbestemt" in text
    assert "Regnes fra: 'Vurderet'; overholdt ved 'Afgørelse truffet'" in text
    assert "retssikkerhedsloven § 3, stk. 2" in text


def test_the_underretning_receipt_runs_from_the_opening_while_the_case_moves(
    ctx: Context, clock: FixedClock, org: Any, notifier: RecordingNotifier
) -> None:
    from indsats.engine.org.users import add_user

    for login, role, leader in (("fam", "familiechef", None), ("tina", "teamleder", "fam"),
                                ("sara", "sagsbehandler", "tina")):
        add_user(ctx, actor="admin", login=login, name=login.title(), role=role, email=f"{login}@example.org",
                 reports_to=leader)
    case_id = open_case(ctx, actor="sara", plan_id="underretning", subject_ref="BARN-REF-1",
                        source="professional").case_id
    # Received Monday 2 March 09:00: 6 hverdage (statutory) end on Tuesday 10 March at closing.
    assert [(d.name, d.due_at, d.statutory) for d in show_case(ctx, actor="sara", case_id=case_id).case_deadlines] == [
        ("receipt", at(10, 16), True)
    ]

    clock.set(at(2, 15))  # assessed within 24 hours: a new state, with its own deadline; the receipt runs on
    advance(ctx, actor="sara", case_id=case_id, trigger="assess",
            values={"immediate_danger": "no", "summary": "Barnet er ikke i akut fare"})
    view = show_case(ctx, actor="sara", case_id=case_id)
    assert view.state == "assessed"
    assert [(d.name, d.due_at, d.met_at) for d in view.case_deadlines] == [("receipt", at(10, 16), None)]
    assert [s.case_id for s in stuck_cases(ctx, actor="tina", at=at(10, 17))] == [case_id]

    clock.set(at(4, 10))
    advance(ctx, actor="sara", case_id=case_id, trigger="send_receipt")

    receipt = show_case(ctx, actor="sara", case_id=case_id).case_deadlines[0]
    assert receipt.met_at == at(4, 10)
    assert verify(ctx).ok
