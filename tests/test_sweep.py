"""Reminders and escalation, through the service functions, on SQLite and PostgreSQL.

Every test is a timeline: the clock starts on Monday 2 March 2026, 09:00 in Copenhagen (the ``clock``
fixture) and is moved forward, never slept on. Emil (medarbejder) reports to Lea (leder), who reports
to Sol (socialchef, the plan's escalation ceiling). In 'suspected' the deadline is 4 working hours,
escalations follow every 2 working hours, and the top repeats every working day; the working day is
08:00-16:00 Monday to Thursday and 08:00-13:30 on Friday.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from fakes import RecordingNotifier
from indsats.engine.org.deputies import set_deputy
from indsats.engine.org.handover import deactivate_user
from indsats.engine.time.calendar import WorkingCalendar
from indsats.engine.cases.service import add_note, advance, open_case
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.engine.context import Context
from indsats.engine.log.events import EventKind
from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url
from indsats.engine.reminders.planning import AHEAD
from indsats.engine.reminders.sweep import SweepResult, sweep
from indsats.engine.org.users import add_user, edit_user, list_users
from indsats.engine.log.verify import verify
from indsats.engine.supervision.stuck import StuckReason, iter_stuck
from indsats.engine.cases.tasks import my_tasks
from indsats.engine.cases.views import case_history, show_case
from indsats.errors import Invalid
from indsats.storage.database import Database
from smtp_sink import free_port, smtp_sink

if TYPE_CHECKING:
    from indsats.engine.reminders.reminder import Reminder
    from collections.abc import Callable, Sequence

    from indsats.engine.ports import DeliveryResult, Message, Notifier

MAIL_FROM = "indsats@example.org"
EMIL, LEA, SOL = "emil@example.org", "lea@example.org", "sol@example.org"
FIE = "fie@example.org"  # the plan's specialist, told of an acute case with whoever must act
CPR = re.compile(r"\b\d{6}-?\d{4}\b")

# E-mails and the plan document are checked in Danish, the language of the shipped plans.
pytestmark = pytest.mark.usefixtures("danish")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A wall-clock time in Copenhagen in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ)


def run_sweep(ctx: Context, notifier: Notifier, **options: Any) -> SweepResult:
    return sweep(ctx, notifier, worker="test-worker", mail_from=MAIL_FROM, **options)


def reminders(ctx: Context, case_id: str, *, status: str | None = None, ahead: bool = False) -> list[Reminder]:
    """A case's reminder rows; the notices and warnings ahead of the deadline only with ``ahead``
    (``tests/test_told_on_time.py`` is about those)."""
    with ctx.db.unit_of_work() as uow:
        rows = uow.repo.reminders_for(case_id)
    return [r for r in rows if (status is None or r.status == status) and (ahead or r.kind not in AHEAD)]


def addressees(messages: Sequence[Message]) -> list[tuple[str, ...]]:
    return [m.to for m in messages]


def history(ctx: Context, case_id: str) -> list[Any]:
    return case_history(ctx, actor="emil", case_id=case_id)


def sweep_events(ctx: Context, case_id: str) -> list[tuple[EventKind, int, list[str]]]:
    kinds = (EventKind.reminder_sent, EventKind.escalated)
    return [(e.kind, e.payload["level"], e.payload["recipients"]) for e in history(ctx, case_id) if e.kind in kinds]


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


# -- 1. entering a state writes its rows; leaving it cancels them --------------------------------------


def test_opening_a_case_plans_a_reminder_at_the_deadline_and_one_escalation_per_leader_up_to_the_ceiling(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")

    rows = reminders(ctx, case_id)

    assert [(r.level, r.kind, r.status) for r in rows] == [
        (0, "reminder", "pending"),
        (1, "escalation", "pending"),
        (2, "escalation", "pending"),
    ]
    # 09:00 + 4 working hours = 13:00; +2 = 15:00; +2 = 16:00 is closing, so one hour carries to Tuesday.
    assert [r.due_at for r in rows] == [at(2, 13), at(2, 15), at(3, 9)]
    assert all(r.next_attempt_at == r.due_at and r.attempts == 0 for r in rows)


def test_every_planned_reminder_falls_due_within_working_hours_and_a_deadline_at_closing_at_that_closing(
    ctx: Context, clock: FixedClock, org: Any
) -> None:
    clock.set(at(6, 9, 30))  # Friday: the 4 working hours end exactly at 13:30, when Friday closes

    case_id = open_case(ctx, actor="emil", plan_id="radikalisering", subject_ref="REF-1").case_id

    rows = reminders(ctx, case_id)
    # Reminded at Friday's closing (not Monday 08:00); the escalations count on from there.
    assert [r.due_at for r in rows] == [at(6, 13, 30), at(9, 10), at(9, 12)]
    assert all(ctx.calendar.deliverable(r.due_at) == r.due_at for r in rows)


def test_leaving_a_state_cancels_its_reminders_and_plans_the_next_states(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    clock.set(at(2, 10))

    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")

    rows = reminders(ctx, case_id)
    assert {r.status for r in rows if r.state == "suspected"} == {"cancelled"}
    # Lea must act within 1 working day (to Tuesday's closing); the escalation above her reaches Sol, the ceiling.
    assert [(r.level, r.status, r.due_at) for r in rows if r.state == "leader_notified"] == [
        (0, "pending", at(3, 16)),
        (1, "pending", at(4, 16)),
    ]


def test_a_closed_case_has_no_pending_reminders(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("decided")

    # Only the leader's leader's assessment (a case deadline met by an after_close trigger) outlives the decision.
    assert {r.deadline for r in reminders(ctx, case_id, status="pending", ahead=True)} == {"socialchef_assessment"}


def test_the_leaders_leaders_assessment_is_reminded_to_that_person_after_the_decision_until_recorded(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    # Lea tells the specialist on Monday 09:00: Sol (Lea's leader) has 2 working days, to the end of Wednesday.
    case_id = case_in("decided")
    duty = show_case(ctx, actor="sol", case_id=case_id).case_deadlines
    assert [(d.name, d.due_at, d.met_at) for d in duty] == [("socialchef_assessment", at(4, 16), None)]
    assert verify(ctx).ok  # its rows pending on a closed case are what the events planned
    assert [(t.case_id, t.trigger, t.deadline) for t in my_tasks(ctx, actor="sol")] == [
        (case_id, "inform_socialchef", at(4, 16))
    ]
    assert my_tasks(ctx, actor="lea") == [] and my_tasks(ctx, actor="emil") == []

    # The warning half a working day before, then the reminder at the deadline: to Sol and nobody else.
    for when in (at(4, 12), at(4, 16)):
        clock.set(when)
        run_sweep(ctx, notifier)
    assert [(m.to, m.subject.split(":")[0]) for m in notifier.sent] == [
        ((SOL,), "Fristen nærmer sig"),
        ((SOL,), "Påmindelse"),
    ]
    assert notifier.sent[0].subject.endswith(" – 4 t til fristen")  # working time ahead of the deadline
    assert all("Vurdering af om socialchefen/souschefen skal underrettes" in m.body for m in notifier.sent)
    assert all(f"indsats advance {case_id} inform_socialchef" in m.body for m in notifier.sent)

    # Overdue on Thursday morning: stuck though the case is decided, with Sol as the one who must act.
    stuck = list(iter_stuck(ctx, actor="sup", at=at(5, 9)))
    assert [(s.case_id, s.reason, s.case_deadline, [p.login for p in s.must_act]) for s in stuck] == [
        (case_id, StuckReason.case_deadline, "Vurdering af om socialchefen/souschefen skal underrettes", ["sol"])
    ]

    clock.set(at(5, 10))
    advance(ctx, actor="sol", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    assert list(iter_stuck(ctx, actor="sup", at=at(5, 11))) == []
    assert my_tasks(ctx, actor="sol") == []

    assert show_case(ctx, actor="sol", case_id=case_id).case_deadlines[0].met_at == at(5, 10)
    assert reminders(ctx, case_id, status="pending", ahead=True) == []
    clock.set(at(12, 16))  # a week later: the daily repeat is gone with the duty
    sent = len(notifier.sent)
    run_sweep(ctx, notifier)
    assert len(notifier.sent) == sent
    assert verify(ctx).ok


def test_the_leaders_leader_with_the_assessment_still_due_on_a_decided_case_leaves_only_with_a_handover(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("decided")
    with pytest.raises(Invalid, match=f"{case_id} \\(skal handle\\)"):
        deactivate_user(ctx, actor="admin", login="sol")

    deactivate_user(ctx, actor="admin", login="sol", handover_to="leo")  # Lea now reports to Leo
    advance(ctx, actor="leo", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    assert show_case(ctx, actor="leo", case_id=case_id).case_deadlines[0].met_at is not None


def test_the_leaders_leaders_assessment_recorded_before_its_deadline_starts_never_runs(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")
    advance(ctx, actor="sol", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "no"})
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")

    assert show_case(ctx, actor="sol", case_id=case_id).case_deadlines == []
    assert [r for r in reminders(ctx, case_id, ahead=True) if r.deadline] == []


def test_a_sweep_reminds_whoever_must_act_in_the_new_state_not_the_old_one(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("leader_notified")  # at Monday 09:00: Lea's deadline is the end of Tuesday

    clock.set(at(3, 16))
    run_sweep(ctx, notifier)
    clock.set(at(4, 16))
    run_sweep(ctx, notifier)

    assert addressees(notifier.sent) == [(LEA,), (SOL,)]
    assert sweep_events(ctx, case_id) == [(EventKind.reminder_sent, 0, ["lea"]), (EventKind.escalated, 1, ["sol"])]


# -- 2. the timeline of one stalled state -----------------------------------------------------------------


def test_sweep_at_the_deadline_reminds_the_employee_and_nobody_else(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")

    clock.set(at(2, 12, 59))
    assert run_sweep(ctx, notifier).sent == 1  # the notice from 09:00, when the state became Emil's
    clock.set(at(2, 13))
    result = run_sweep(ctx, notifier)

    assert result.sent == 1
    assert addressees(notifier.sent) == [(EMIL,), (EMIL,)]
    assert notifier.sent[0].subject.startswith(f"Ny opgave: sag {case_id}")
    assert notifier.sent[1].subject.startswith(f"Påmindelse: sag {case_id}")
    assert [r.status for r in reminders(ctx, case_id)] == ["sent", "pending", "pending"]


def test_an_unanswered_reminder_escalates_to_the_leader_and_then_to_the_leaders_leader(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    timeline = [
        (at(2, 13), [(EMIL,)]),
        (at(2, 14, 59), []),
        (at(2, 15), [(LEA,)]),
        (at(2, 16), []),
        (at(3, 8, 59), []),
        (at(3, 9), [(SOL,)]),
    ]

    for when, expected in timeline:
        clock.set(when)
        before = len(notifier.sent)
        run_sweep(ctx, notifier)
        assert addressees(notifier.sent[before:]) == expected, when

    assert notifier.sent[1].subject.startswith(f"Eskalering (niveau 1): sag {case_id}")
    assert notifier.sent[2].subject.startswith(f"Eskalering (niveau 2): sag {case_id}")


def test_reminders_and_escalations_appear_in_the_case_history(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")

    for when in (at(2, 13), at(2, 15), at(3, 9)):
        clock.set(when)
        run_sweep(ctx, notifier)

    assert sweep_events(ctx, case_id) == [
        (EventKind.reminder_sent, 0, ["emil"]),
        (EventKind.escalated, 1, ["lea"]),
        (EventKind.escalated, 2, ["sol"]),
    ]
    sent = {m.reminder_id for m in notifier.sent}
    assert {e.payload["reminder_id"] for e in history(ctx, case_id) if e.payload and "reminder_id" in e.payload} == sent
    assert verify(ctx).ok


def test_show_case_tells_the_escalation_level_and_how_many_reminders_were_sent(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    seen = []

    for when in (at(2, 12), at(2, 13), at(2, 15), at(3, 9)):
        clock.set(when)
        run_sweep(ctx, notifier)
        view = show_case(ctx, actor="emil", case_id=case_id)
        seen.append((view.escalation_level, view.reminders_sent))

    # The notice on entry counts as a reminder sent (at the 12:00 sweep), then one per deadline row.
    assert seen == [(0, 1), (0, 2), (1, 3), (2, 4)]


def test_the_top_of_the_chain_is_reminded_again_every_repeat_interval(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    for when in (at(2, 13), at(2, 15)):
        clock.set(when)
        run_sweep(ctx, notifier)
    assert reminders(ctx, case_id, status="pending")[-1].level == 2

    clock.set(at(3, 9))
    run_sweep(ctx, notifier)  # the top level is sent: a repeat is armed, one working day on (end of Wednesday)

    pending = reminders(ctx, case_id, status="pending")
    assert [(r.level, r.kind, r.due_at) for r in pending] == [(2, "escalation", at(4, 16))]
    assert pending[0].due_at > clock.now()

    clock.set(at(4, 16))
    run_sweep(ctx, notifier)

    assert addressees(notifier.sent) == [(EMIL,), (LEA,), (SOL,), (SOL,)]
    assert [(r.level, r.due_at) for r in reminders(ctx, case_id, status="pending")] == [(2, at(5, 16))]


# -- 3. a worker that was down -------------------------------------------------------------------------


def test_sweep_after_a_week_down_sends_one_message_per_recipient_and_state(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    clock.set(at(9, 9))  # a week later: every level and six repeats have come and gone

    result = run_sweep(ctx, notifier)

    assert sorted(addressees(notifier.sent)) == [(EMIL,), (LEA,), (SOL,)]
    assert result.sent == 3
    pending = reminders(ctx, case_id, status="pending")
    assert len(pending) == 1 and pending[0].level == 2 and pending[0].due_at > clock.now()
    assert verify(ctx).ok


def test_a_second_sweep_at_the_same_time_sends_nothing(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_in("suspected")
    case_in("suspected")
    clock.set(at(9, 9))
    assert run_sweep(ctx, notifier).sent == 6

    again = run_sweep(ctx, notifier)

    assert (again.claimed, again.sent) == (0, 0)
    assert len(notifier.sent) == 6


def test_two_sweeps_at_once_share_the_due_reminders_and_send_each_exactly_once(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    for _ in range(12):
        case_in("suspected")
    clock.set(at(9, 9))
    url = ctx.db.url.render_as_string(hide_password=False)
    meeting = threading.Barrier(2)

    def one_worker(name: str) -> list[int]:
        own = Context(
            db=Database(url), clock=FixedClock(clock.now()), catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
            keys=ctx.keys,
        )
        notifier = MeetingNotifier(meeting)
        try:
            sweep(own, notifier, worker=name, mail_from=MAIL_FROM, batch_size=10)
        finally:
            own.db.dispose()
        return [m.reminder_id for m in notifier.sent]

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(one_worker, ["worker-a", "worker-b"])

    assert first and second, "each sweep claims a batch while the other holds one"
    assert sorted(first + second) == sorted(set(first + second))
    with ctx.db.unit_of_work() as uow:
        sent = {r.id: r for c in uow.repo.case_ids() for r in uow.repo.reminders_for(c) if r.status == "sent"}
    # 12 cases, each with a notice, a reminder and two escalations: every one is sent. The notice and the reminder
    # go to the same person, so where both land in one batch they are one message (the most urgent row's), the
    # other row marked as coalesced into it. With SKIP LOCKED that happens when the two claims, scanning at
    # once, lock the first rows between them: a batch then reaches past the notices into the reminders.
    delivered = set(first + second)
    coalesced = {rid for rid, r in sent.items() if r.last_error == "coalesced into another message"}
    assert len(sent) == 48 and delivered | coalesced == set(sent) and not delivered & coalesced
    for rid in coalesced:  # it rode along with a delivered message of its own case visit, to the same people
        row = sent[rid]
        assert any(other.id in delivered and other.case_id == row.case_id and other.entry_seq == row.entry_seq
                   and other.recipients == row.recipients for other in sent.values())


class MeetingNotifier(RecordingNotifier):
    """Holds its first batch until the other sweep has claimed one too, so that the two really overlap."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self._barrier = barrier
        self._met = False

    def deliver(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        if messages and not self._met:
            self._met = True
            try:
                self._barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
        return super().deliver(messages)


# -- 4. delivery failures ------------------------------------------------------------------------------


def test_a_temporary_delivery_failure_is_retried_after_a_back_off_and_delivered_once(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    notifier = RecordingNotifier(fail_next=1)
    clock.set(at(2, 13))

    result = run_sweep(ctx, notifier)

    assert (result.sent, result.retrying) == (0, 1)
    row = reminders(ctx, case_id)[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, at(2, 13, 10))
    assert row.last_error

    clock.set(at(2, 13, 9))
    assert run_sweep(ctx, notifier).claimed == 0
    clock.set(at(2, 13, 10))
    assert run_sweep(ctx, notifier).sent == 1
    clock.set(at(2, 14))
    run_sweep(ctx, notifier)

    assert addressees(notifier.sent) == [(EMIL,)]
    row = reminders(ctx, case_id)[0]
    assert (row.status, row.attempts) == ("sent", 2)
    assert sweep_events(ctx, case_id) == [(EventKind.reminder_sent, 0, ["emil"])]


def test_a_permanently_refused_reminder_is_marked_failed_and_stays_visible(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    notifier = RecordingNotifier(refuse={EMIL})
    clock.set(at(2, 13))

    result = run_sweep(ctx, notifier)

    assert (result.sent, result.failed) == (0, 1)
    row = reminders(ctx, case_id)[0]
    assert (row.status, row.attempts) == ("failed", 1)
    failures = [e for e in history(ctx, case_id) if e.kind is EventKind.delivery_failed]
    assert [(e.payload["reminder_id"], e.payload["level"]) for e in failures] == [(row.id, 0)]
    view = show_case(ctx, actor="emil", case_id=case_id)
    late = [(r.level, r.status) for r in view.reminders if r.kind not in AHEAD]
    assert late == [(0, "failed"), (1, "pending"), (2, "pending")]

    clock.set(at(2, 15))
    run_sweep(ctx, notifier)  # no retry of the refusal; the escalation goes out as planned

    assert len(notifier.batches) == 2
    assert addressees(notifier.sent) == [(LEA,)]
    assert reminders(ctx, case_id)[0].attempts == 1
    assert verify(ctx).ok


def test_a_reminder_is_given_up_after_the_plans_max_attempts(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    notifier = RecordingNotifier(fail_next=100)
    clock.set(at(2, 13))
    retries = []

    for _ in range(5):  # the plan's max_attempts
        run_sweep(ctx, notifier)
        row = reminders(ctx, case_id)[0]
        retries.append(row.next_attempt_at)
        clock.set(row.next_attempt_at)

    assert (row.status, row.attempts) == ("failed", 5)
    # retry_after 10 minutes, doubling: 13:10, 13:30, 14:10, 15:30.
    assert retries[:4] == [at(2, 13, 10), at(2, 13, 30), at(2, 14, 10), at(2, 15, 30)]
    failures = [e.payload for e in history(ctx, case_id) if e.kind is EventKind.delivery_failed]
    assert [(p["reminder_id"], p["attempts"]) for p in failures] == [(row.id, 5)]
    shown = [r for r in show_case(ctx, actor="emil", case_id=case_id).reminders if r.kind not in AHEAD]
    assert (shown[0].id, shown[0].status) == (row.id, "failed")

    notifier.fail_next = 0
    clock.advance(days=1)
    run_sweep(ctx, notifier)  # the mail server is back: the escalations go out, the given-up reminder does not

    assert row.id not in {m.reminder_id for m in notifier.sent}
    assert sum(row.id in {m.reminder_id for m in batch} for batch in notifier.batches) == 5
    assert reminders(ctx, case_id)[0].attempts == 5


# -- 5. a real SMTP server ---------------------------------------------------------------------------


def test_the_reminder_and_the_escalation_arrive_over_smtp_with_the_right_recipients(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    port = free_port()
    notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}"), MAIL_FROM)
    rows = reminders(ctx, case_id)

    with smtp_sink(port) as server:
        clock.set(at(2, 13))
        run_sweep(ctx, notifier)
        clock.set(at(2, 15))
        run_sweep(ctx, notifier)

    assert [r.rcpt_tos for r in server.received] == [[EMIL], [LEA]]
    assert [r.mail_from for r in server.received] == [MAIL_FROM, MAIL_FROM]
    assert [r.mail["Message-ID"] for r in server.received] == [
        f"<indsats-reminder-{rows[0].id}@example.org>",
        f"<indsats-reminder-{rows[1].id}@example.org>",
    ]
    assert server.received[0].subject.startswith(f"Påmindelse: sag {case_id}")
    assert server.received[1].subject.startswith(f"Eskalering (niveau 1): sag {case_id}")
    assert f"indsats advance {case_id} notify_leader" in server.received[0].text


def test_reminders_wait_while_the_smtp_server_is_down_and_go_out_once_when_it_is_up(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    port = free_port()
    notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=5"), MAIL_FROM)
    clock.set(at(2, 13))

    down = run_sweep(ctx, notifier)  # nobody listens on the port

    assert (down.sent, down.retrying) == (0, 1)
    row = reminders(ctx, case_id)[0]
    assert (row.status, row.attempts) == ("pending", 1)
    assert "cannot connect" in row.last_error

    with smtp_sink(port) as server:
        clock.set(row.next_attempt_at)
        up = run_sweep(ctx, notifier)
        clock.advance(minutes=30)
        later = run_sweep(ctx, notifier)

    assert (up.sent, later.sent) == (1, 0)
    assert [r.rcpt_tos for r in server.received] == [[EMIL]]
    assert server.received[0].mail["Message-ID"] == f"<indsats-reminder-{row.id}@example.org>"
    assert sweep_events(ctx, case_id) == [(EventKind.reminder_sent, 0, ["emil"])]


# -- 6. privacy --------------------------------------------------------------------------------------


def test_no_reminder_carries_the_subject_reference_notes_field_values_a_cpr_number_or_a_name(
    ctx: Context, clock: FixedClock, org: Any, notifier: RecordingNotifier
) -> None:
    add_user(ctx, actor="admin", login="kko", name="Karen Kvist Østergaard", role="medarbejder",
             email="kko@example.org", reports_to="lea")
    secrets = [
        "0101901234",
        "Naboen Jens Hviid så ham med et IS-flag",
        "Han har brudt med familien i Vollsmose",
        "Drøftet med moderen på Rådhuspladsen",
        "Sammenfatning: radikaliseret via Telegram-gruppen Nordlys",
        "behaviour:strong,relations:weak",
        "Politiet kom kl. 03 til Hjortevej 7",
        "Hans Reporter Hansen",
    ]
    case_id = open_case(ctx, actor="kko", plan_id="radikalisering", subject_ref=secrets[0], note=secrets[1],
                        source="neighbour", reporter=secrets[7]).case_id
    add_note(ctx, actor="kko", case_id=case_id, text=secrets[2])
    steps = [
        ("kko", "notify_leader", {}, secrets[3]),
        ("lea", "notify_specialist", {}, None),
        ("fie", "assess", {"summary": secrets[4], "signs": secrets[5], "infohus": "yes"}, None),
    ]
    for actor, trigger, values, note in steps:
        clock.advance(days=14)
        run_sweep(ctx, notifier)
        advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=values, note=note)
    clock.advance(days=14)
    run_sweep(ctx, notifier)
    advance(ctx, actor="kko", case_id=case_id, trigger="acute", note=secrets[6])
    run_sweep(ctx, notifier)

    kinds = {m.subject.split(":")[0] for m in notifier.sent}
    assert len(notifier.sent) >= 10
    assert {"Påmindelse", "AKUT"} <= kinds and any(k.startswith("Eskalering") for k in kinds)
    names = [u.name for u in list_users(ctx, actor="admin")]
    for message in notifier.sent:
        text = f"{message.subject}\n{message.body}"
        assert case_id in text
        for secret in secrets:
            assert secret not in text, (secret, message.subject)
        assert not CPR.search(text), message.subject
        for name in names:
            assert not re.search(rf"\b{re.escape(name)}\b", text), (name, message.subject)


# -- 7. acute --------------------------------------------------------------------------------------


def test_acute_alerts_the_whole_chain_at_once(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    run_sweep(ctx, notifier)  # the notice of 09:00
    notifier.sent.clear()
    clock.set(at(2, 9, 30))

    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 ringet op")

    acute = [r for r in reminders(ctx, case_id) if r.kind == "acute"]
    assert [(r.level, r.status, r.due_at) for r in acute] == [
        (0, "pending", clock.now()),
        (1, "pending", clock.now()),
        (2, "pending", clock.now()),
    ]
    run_sweep(ctx, notifier)
    assert sorted(addressees(notifier.sent)) == [(EMIL, FIE), (LEA,), (SOL,)]
    assert all(m.subject.startswith(f"AKUT: sag {case_id}") for m in notifier.sent)
    assert [r.status for r in reminders(ctx, case_id) if r.kind != "acute"] == ["pending"] * 3
    assert show_case(ctx, actor="emil", case_id=case_id).acute


def test_acute_alerts_go_out_on_a_sunday_night_while_ordinary_reminders_wait_for_monday_morning(
    ctx: Context, clock: FixedClock, org: Any, notifier: RecordingNotifier
) -> None:
    clock.set(at(6, 13))  # Friday 13:00; 30 minutes are left on Friday, the deadline is Monday 11:30
    case_id = open_case(ctx, actor="emil", plan_id="radikalisering", subject_ref="REF-1").case_id
    run_sweep(ctx, notifier)  # the notice, at once
    notifier.sent.clear()
    clock.set(at(8, 3))  # Sunday, 03:00
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 ringet op")

    run_sweep(ctx, notifier)

    assert sorted(addressees(notifier.sent)) == [(EMIL, FIE), (LEA,), (SOL,)]
    assert {m.subject.split(":")[0] for m in notifier.sent} == {"AKUT"}
    clock.set(at(9, 11, 29))
    assert run_sweep(ctx, notifier).sent == 0
    clock.set(at(9, 11, 30))
    assert run_sweep(ctx, notifier).sent == 1
    assert notifier.sent[-1].to == (EMIL,) and notifier.sent[-1].subject.startswith("Påmindelse")


def test_acute_alerts_still_reach_the_whole_chain_when_the_case_moves_on_before_the_sweep(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    # Police were called; the employee records it and, a minute later, that the leader is told.
    # The chain must still be alerted: the alert is about what happened, not about a stalled state.
    case_id = case_in("suspected")
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 ringet op")
    clock.advance(minutes=1)
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")

    run_sweep(ctx, notifier)

    assert sorted(m.to for m in notifier.sent if m.subject.startswith("AKUT")) == [(EMIL, FIE), (LEA,), (SOL,)]


# -- who gets told -------------------------------------------------------------------------------------


def test_a_specialist_without_an_e_mail_address_does_not_stop_the_others_being_reminded(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    add_user(ctx, actor="admin", login="fia", name="Fia", role="fagspecialist")  # no address registered
    case_id = case_in("specialist_notified")  # every fagspecialist must act; 5 working days, to Monday's closing
    clock.set(at(9, 16))

    run_sweep(ctx, notifier)

    assert ("fie@example.org",) in addressees(notifier.sent)
    first = next(r for r in reminders(ctx, case_id) if r.state == "specialist_notified")
    assert "fia" in (first.last_error or "")  # the missing address is not kept quiet either


def test_an_escalation_goes_to_the_leader_of_the_moment_it_fires_not_when_it_was_planned(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_in("suspected")
    with ctx.db.unit_of_work(write=True) as uow:  # no command moves a user yet: Emil now reports to Leo
        uow.repo.update_user("emil", {"reports_to": "leo"})
        uow.commit()

    for when in (at(2, 13), at(2, 15), at(3, 9)):
        clock.set(when)
        run_sweep(ctx, notifier)

    assert addressees(notifier.sent) == [(EMIL,), ("leo@example.org",), (SOL,)]


def _two_levels_below_sol(ctx: Context) -> None:
    """Max (leder) reports to Mia (leder), who reports to Sol: two levels up to the ceiling, not one."""
    add_user(ctx, actor="admin", login="mia", name="Mia", role="leder", email="mia@example.org", reports_to="sol")
    add_user(ctx, actor="admin", login="max", name="Max", role="leder", email="max@example.org", reports_to="mia")


def test_after_a_handover_to_someone_with_another_leader_the_escalations_climb_the_successors_chain(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    _two_levels_below_sol(ctx)
    case_id = case_in("leader_notified")  # Lea must act by Tuesday's closing; her chain is Sol alone
    clock.set(at(3, 16))
    run_sweep(ctx, notifier)
    assert addressees(notifier.sent) == [(LEA,)]

    clock.set(at(4, 9))
    deactivate_user(ctx, actor="admin", login="lea", handover_to="max")  # Emil now reports to Max

    # One working day after the deadline the next escalation goes to Max's leader, Mia; a day later to Sol
    # (a level Lea's chain did not have), who is then reminded every working day.
    for when in (at(4, 16), at(5, 16), at(6, 13, 30)):
        clock.set(when)
        run_sweep(ctx, notifier)
    assert addressees(notifier.sent) == [(LEA,), ("mia@example.org",), (SOL,), (SOL,)]
    assert [(r.level, r.status) for r in reminders(ctx, case_id) if r.state == "leader_notified"][-1] == (2, "pending")
    assert verify(ctx).ok


def test_after_a_handover_to_someone_with_a_shorter_chain_no_escalation_climbs_past_its_top(
    ctx: Context, clock: FixedClock, notifier: RecordingNotifier, org: Any
) -> None:
    _two_levels_below_sol(ctx)
    add_user(ctx, actor="admin", login="eva", name="Eva", role="medarbejder", email="eva@example.org", reports_to="max")
    case_id = open_case(ctx, actor="eva", plan_id="radikalisering", subject_ref="BORGER-REF-2").case_id
    advance(ctx, actor="eva", case_id=case_id, trigger="notify_leader")  # Max must act; Mia, then Sol above
    clock.set(at(3, 10))
    deactivate_user(ctx, actor="admin", login="max", handover_to="lea")  # Eva now reports to Lea; Sol above
    assert max(r.level for r in reminders(ctx, case_id, status="pending")) == 1  # Mia's level is gone

    for when in (at(3, 16), at(4, 16), at(5, 16)):
        clock.set(when)
        run_sweep(ctx, notifier)
    # Lea at the deadline, Sol a working day later, and Sol again each working day: one repeat, at the top.
    assert addressees(notifier.sent) == [(LEA,), (SOL,), (SOL,)]
    assert [(r.level, r.due_at) for r in reminders(ctx, case_id, status="pending")] == [(1, at(6, 13, 30))]
    assert verify(ctx).ok


def test_a_new_leader_given_with_users_edit_re_plans_the_escalation_to_the_new_chains_depth(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    _two_levels_below_sol(ctx)
    case_id = case_in("suspected")  # Emil must act; Lea, then Sol above
    edit_user(ctx, actor="admin", login="emil", reports_to="max")  # now Max, Mia, then Sol

    assert sorted(r.level for r in reminders(ctx, case_id, status="pending")) == [0, 1, 2, 3]
    assert EventKind.rechained in [e.kind for e in case_history(ctx, actor="admin", case_id=case_id)]
    for when in (at(2, 13), at(2, 15), at(3, 9), at(3, 11)):
        clock.set(when)
        run_sweep(ctx, notifier)
    assert addressees(notifier.sent) == [(EMIL,), ("max@example.org",), ("mia@example.org",), (SOL,)]
    assert verify(ctx).ok


# -- dry run -----------------------------------------------------------------------------------------


def test_a_dry_run_lists_what_is_due_and_changes_nothing(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    clock.set(at(9, 9))
    before = reminders(ctx, case_id)

    result = run_sweep(ctx, notifier, dry_run=True)

    assert sorted(d.recipients for d in result.deliveries) == [["emil"], ["lea"], ["sol"]]
    assert notifier.batches == []
    assert reminders(ctx, case_id) == before
    assert sweep_events(ctx, case_id) == []


# -- coalescing ----------------------------------------------------------------------------------------


def test_a_deputy_who_stands_in_at_two_levels_gets_one_message_not_two(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")
    set_deputy(ctx, actor="admin", login="lea", deputy="sol")  # Lea is away; Sol stands in
    clock.set(at(9, 9))

    result = run_sweep(ctx, notifier)

    assert sorted(addressees(notifier.sent)) == [(EMIL,), (SOL,)]
    # Sol's two levels are one message; Emil's notice rides along with his reminder.
    assert (result.sent, result.coalesced) == (2, 2)
    assert [r.status for r in reminders(ctx, case_id)][:3] == ["sent", "sent", "sent"]
    assert [(r.level, r.status) for r in reminders(ctx, case_id, status="pending")] == [(2, "pending")]
    assert run_sweep(ctx, notifier).sent == 0


def test_a_message_says_how_late_in_working_time_across_the_night_and_the_weekend(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str], notifier: RecordingNotifier
) -> None:
    case_id = case_in("suspected")  # at 09:00 on Monday; the deadline is four working hours later, 13:00
    for when in (at(2, 13), at(2, 15), at(3, 9), at(6, 13), at(9, 9)):
        clock.set(when)
        run_sweep(ctx, notifier)

    # Working time only: 16:00 to 08:00 and the weekend do not count; Friday closes at 13:30.
    assert all(m.subject.split(" – ")[0].endswith(case_id) for m in notifier.sent)
    assert [m.subject.rsplit(" – ", 1)[1] for m in notifier.sent] == [
        "0 min over fristen",
        "2 t over fristen",
        "4 t over fristen",  # Monday 13-16 and Tuesday 8-9
        "32 t over fristen",  # Monday 3 h, Tuesday to Thursday 8 h each, Friday 8-13
        "33 t 30 min over fristen",  # and Friday 13-13:30, Monday 8-9
    ]
