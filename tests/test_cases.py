"""The case service on SQLite and PostgreSQL: the walk by the right people, the guards, one transaction per
command, conflicts, reminders rows, need to know, and a hash-chained history that ``verify`` checks."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text, update

from indsats.engine.plans import machine
from indsats.engine.cases.service import add_note, advance, open_case
from indsats.engine.log.events import EventKind
from indsats.engine.reminders.planning import AHEAD
from indsats.engine.org.handover import deactivate_user
from indsats.engine.org.users import add_user
from indsats.engine.log.verify import verify
from indsats.engine.cases.views import case_history, list_cases, show_case
from indsats.errors import Conflict, Invalid, NotAllowed, NotFound, StorageUnavailable
from indsats.storage.database import Database, UnitOfWork
from indsats.storage.models import events
from indsats.storage.repository import Repository

from conftest import PLAN, walk

if TYPE_CHECKING:
    from indsats.engine.reminders.reminder import Reminder
    from collections.abc import Callable

    from indsats.engine.time.clock import FixedClock
    from indsats.engine.context import Context

pytestmark = pytest.mark.usefixtures("org")

UTC = timezone.utc
ASSESSMENT = {"summary": "Samtale med borgeren", "signs": "behaviour:strong,relations:weak"}
DECISION = {"police_report": "no", "rationale": "Ingen strafbare forhold"}


def snapshot(ctx: Context) -> dict[str, Any]:
    """Every case row, event and reminder row, to compare before and after a command."""
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        rows = repo.list_cases(is_open=None)
        return {
            "cases": rows,
            "events": list(repo.iter_events()),
            "reminders": [r for c in rows for r in repo.reminders_for(c.id)],
        }


def history(ctx: Context, case_id: str) -> list[Any]:
    """The case's story: its events without the access log's ``viewed`` entries (tested in test_privacy)."""
    return [e for e in case_history(ctx, actor="admin", case_id=case_id) if e.kind is not EventKind.viewed]


def reminders(ctx: Context, case_id: str) -> list[Reminder]:
    with ctx.db.unit_of_work() as uow:
        return uow.repo.reminders_for(case_id)


def state_of(ctx: Context, case_id: str) -> str:
    return show_case(ctx, actor="admin", case_id=case_id).state


def tamper(ctx: Context, sql: str, **params: Any) -> None:
    """Edit the database by hand, as someone with direct access would."""
    with ctx.db.connect() as conn:
        conn.execute(text(sql), params)
        conn.commit()


# -- the walk -------------------------------------------------------------------------------------


def test_the_whole_walk_reaches_decided_each_step_by_the_right_person(ctx: Context) -> None:
    opened = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="BORGER-REF-1", note="Hørt i frokoststuen")
    assert (opened.state, opened.is_open) == ("suspected", True)
    steps = [
        ("emil", "notify_leader", {}, "leader_notified"),
        ("lea", "notify_specialist", {}, "specialist_notified"),
        ("fie", "assess", ASSESSMENT, "assessed"),
        ("lea", "decide", DECISION, "decided"),
    ]
    for actor, trigger, values, state in steps:
        out = advance(ctx, actor=actor, case_id=opened.case_id, trigger=trigger, values=values)
        assert out.state == state
    assert not out.is_open and out.deadline is None
    view = show_case(ctx, actor="emil", case_id=opened.case_id)
    assert (view.state, view.is_open, view.closed_at) == ("decided", False, ctx.clock.now())
    kinds = [(e.kind, e.actor, e.trigger) for e in history(ctx, opened.case_id)]
    assert kinds == [
        (EventKind.opened, "emil", None),
        (EventKind.advanced, "emil", "notify_leader"),
        (EventKind.advanced, "lea", "notify_specialist"),
        (EventKind.advanced, "fie", "assess"),
        (EventKind.advanced, "lea", "decide"),
    ]


@pytest.mark.parametrize(
    ("state", "must_act"),
    [
        ("suspected", ["emil"]),
        ("leader_notified", ["lea"]),
        ("specialist_notified", ["fie"]),
        ("assessed", ["lea"]),
        ("decided", []),
    ],
)
def test_each_state_names_who_must_act(ctx: Context, case_in: Callable[..., str], state: str, must_act: list[str]) -> None:
    view = show_case(ctx, actor="sup", case_id=case_in(state))
    assert view.state == state
    assert [p.login for p in view.must_act] == must_act


def test_the_deadline_counts_working_time_from_entering_the_state(ctx: Context, clock: FixedClock) -> None:
    # Monday 09:00 + 4 working hours = Monday 13:00 in Copenhagen.
    opened = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="BORGER-REF-1")
    assert opened.deadline == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock.advance(hours=3)  # Monday 12:00: one working day to notify the specialist, to Tuesday's closing
    out = advance(ctx, actor="emil", case_id=opened.case_id, trigger="notify_leader")
    assert out.deadline == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


# -- the wrong person -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actor", "trigger", "values"),
    [
        ("suspected", "lea", "notify_leader", {}),  # the employee who opened the case notifies
        ("suspected", "sup", "notify_leader", {}),
        ("leader_notified", "emil", "notify_specialist", {}),  # the employee's leader notifies
        ("leader_notified", "sol", "notify_specialist", {}),  # the leader's leader does not
        ("leader_notified", "fie", "notify_specialist", {}),
        ("specialist_notified", "emil", "assess", ASSESSMENT),  # a medarbejder cannot assess
        ("specialist_notified", "lea", "assess", ASSESSMENT),
        ("assessed", "fie", "decide", DECISION),  # a fagspecialist cannot decide
        ("assessed", "emil", "decide", DECISION),
        ("assessed", "sol", "decide", DECISION),
        ("leader_notified", "lea", "inform_socialchef", {"socialchef_informed": "yes"}),
        ("suspected", "fie", "acute", {}),  # fie may see the case but is not on it
    ],
)
def test_the_wrong_person_is_not_allowed_and_nothing_is_written(
    ctx: Context, case_in: Callable[..., str], state: str, actor: str, trigger: str, values: dict[str, str]
) -> None:
    case_id = case_in(state)
    before = snapshot(ctx)
    with pytest.raises(NotAllowed) as caught:
        advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=values, note="112 ringet op")
    assert caught.value.exit_code == 4
    assert f"'{actor}'" in caught.value.message and case_id in caught.value.message
    assert snapshot(ctx) == before


def test_another_teams_leader_cannot_notify_specialist_and_is_told_no_such_case(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")
    with pytest.raises(NotFound):
        advance(ctx, actor="leo", case_id=case_id, trigger="notify_specialist")
    assert state_of(ctx, case_id) == "leader_notified"


def test_an_unregistered_or_deactivated_user_can_do_nothing(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    with pytest.raises(NotAllowed, match="not a registered user"):
        advance(ctx, actor="nobody", case_id=case_id, trigger="notify_leader")
    deactivate_user(ctx, actor="admin", login="emil", handover_to="ida")
    with pytest.raises(NotAllowed, match="deactivated"):
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")


def test_a_supervisor_cannot_open_a_case(ctx: Context) -> None:
    with pytest.raises(NotAllowed):
        open_case(ctx, actor="sup", plan_id=PLAN, subject_ref="BORGER-REF-1")


def test_only_an_admin_registers_users(ctx: Context) -> None:
    with pytest.raises(NotAllowed):
        add_user(ctx, actor="lea", login="ny", name="Ny", role="medarbejder", reports_to="lea")


# -- fields and states ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actor", "trigger", "values", "message"),
    [
        ("specialist_notified", "fie", "assess", {}, "needs field 'summary'"),
        ("specialist_notified", "fie", "assess", {"summary": "x", "colour": "red"}, "has no field 'colour'"),
        ("specialist_notified", "fie", "assess", {"summary": "x", "signs": "hair:strong"}, "unknown category 'hair'"),
        ("specialist_notified", "fie", "assess", {"summary": "x", "signs": "behaviour:huge"}, "unknown strength"),
        ("specialist_notified", "fie", "assess", {"summary": "x", "infohus": "maybe"}, "'maybe' is not yes or no"),
        ("assessed", "lea", "decide", {"rationale": "r"}, "needs field 'police_report'"),
        ("assessed", "lea", "decide", {"police_report": "no"}, "needs field 'rationale'"),
        ("assessed", "lea", "decide", {**DECISION, "police_report": "maybe"}, "'maybe' is not yes or no"),
        ("assessed", "lea", "decide", {**DECISION, "follow_up": "prison"}, "'prison' is not one of"),
        ("suspected", "emil", "report_to_childrens_services", {"reported_on": "i går"}, "is not a date"),
        ("suspected", "emil", "notify_specialist", {}, "Possible now: notify_leader"),
        ("suspected", "emil", "jump", {}, "has no trigger 'jump'"),
    ],
)
def test_a_missing_unknown_or_bad_field_or_trigger_is_invalid_and_nothing_is_written(
    ctx: Context,
    case_in: Callable[..., str],
    state: str,
    actor: str,
    trigger: str,
    values: dict[str, str],
    message: str,
) -> None:
    case_id = case_in(state)
    before = snapshot(ctx)
    with pytest.raises(Invalid, match=message) as caught:
        advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=values)
    assert caught.value.exit_code == 5
    assert snapshot(ctx) == before


def test_a_trigger_fired_twice_says_what_is_possible_now(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("leader_notified")
    with pytest.raises(Invalid) as caught:
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    assert f"case {case_id} is in 'leader_notified'" in caught.value.message
    assert "Possible now: notify_specialist" in caught.value.message


def test_the_decision_stores_police_report_no_as_the_string_no(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("assessed")
    values = {"police_report": "nej", "rationale": "Ingen strafbare forhold", "follow_up": "concern_conversation"}
    advance(ctx, actor="lea", case_id=case_id, trigger="decide", values=values)
    decision = history(ctx, case_id)[-1]
    assert decision.payload == {
        "fields": {"police_report": "no", "rationale": "Ingen strafbare forhold", "follow_up": "concern_conversation"}
    }


def test_the_assessment_records_concern_signs_by_category(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("specialist_notified")
    advance(ctx, actor="fie", case_id=case_id, trigger="assess", values={**ASSESSMENT, "infohus": "ja"})
    fields = history(ctx, case_id)[-1].payload["fields"]
    assert fields["signs"] == {"behaviour": "strong", "relations": "weak"}
    assert fields["infohus"] == "yes"


@pytest.mark.parametrize("trigger", ["acute", "decide", "report_to_childrens_services"])
def test_a_closed_case_cannot_be_advanced(ctx: Context, case_in: Callable[..., str], trigger: str) -> None:
    case_id = case_in("decided")
    before = snapshot(ctx)
    with pytest.raises(Invalid, match="closed"):
        advance(ctx, actor="lea", case_id=case_id, trigger=trigger, values={}, note="igen")
    assert snapshot(ctx) == before


@pytest.mark.parametrize("actor", ["emil", "ida", "admin"])
def test_an_unknown_case_is_not_found(ctx: Context, actor: str) -> None:
    for call in (
        lambda: advance(ctx, actor=actor, case_id="RAD-2026-9999", trigger="notify_leader"),
        lambda: show_case(ctx, actor=actor, case_id="RAD-2026-9999"),
        lambda: case_history(ctx, actor=actor, case_id="RAD-2026-9999"),
        lambda: add_note(ctx, actor=actor, case_id="RAD-2026-9999", text="hej"),
    ):
        with pytest.raises(NotFound, match="RAD-2026-9999") as caught:
            call()
        assert caught.value.exit_code == 3


def test_an_unknown_plan_is_not_found(ctx: Context) -> None:
    with pytest.raises(NotFound, match="no plan 'mobning'"):
        open_case(ctx, actor="emil", plan_id="mobning", subject_ref="BORGER-REF-1")


# -- side duties ----------------------------------------------------------------------------------


def test_the_leaders_leader_records_inform_socialchef_without_changing_the_state(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("leader_notified")
    out = advance(ctx, actor="sol", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "no"})
    assert (out.from_state, out.state) == ("leader_notified", "leader_notified")
    last = history(ctx, case_id)[-1]
    assert (last.kind, last.actor, last.payload) == (EventKind.recorded, "sol", {"fields": {"socialchef_informed": "no"}})
    assert state_of(ctx, case_id) == "leader_notified"


@pytest.mark.parametrize("state", ["suspected", "leader_notified", "specialist_notified", "assessed"])
def test_the_leaders_leader_may_inform_socialchef_in_every_open_state(
    ctx: Context, case_in: Callable[..., str], state: str
) -> None:
    # The plan allows inform_socialchef from any open state ("*") to the opener's leader's leader.
    case_id = case_in(state)
    out = advance(ctx, actor="sol", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    assert out.state == state


def test_the_leader_cannot_record_inform_socialchef(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("leader_notified")
    with pytest.raises(NotAllowed, match="the leader's nearest leader"):
        advance(ctx, actor="lea", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "yes"})


def test_acute_needs_a_note(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    with pytest.raises(Invalid, match="needs a note"):
        advance(ctx, actor="emil", case_id=case_id, trigger="acute")
    with pytest.raises(Invalid, match="needs a note"):
        advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="   ")


@pytest.mark.parametrize(("state", "actor"), [("suspected", "emil"), ("specialist_notified", "lea"), ("assessed", "fie")])
def test_acute_by_anyone_on_the_case_marks_it_acute_and_leaves_the_state(
    ctx: Context, case_in: Callable[..., str], state: str, actor: str
) -> None:
    case_id = case_in(state)
    before = show_case(ctx, actor="admin", case_id=case_id)
    out = advance(ctx, actor=actor, case_id=case_id, trigger="acute", note="Truede med vold; 112 ringet op")
    after = show_case(ctx, actor="admin", case_id=case_id)
    assert (out.state, after.state, after.deadline) == (state, state, before.deadline)
    assert not before.acute and after.acute
    assert history(ctx, case_id)[-1].payload == {"note": "Truede med vold; 112 ringet op"}


def test_acute_alerts_the_whole_chain_at_once(ctx: Context, case_in: Callable[..., str], clock: FixedClock) -> None:
    case_id = case_in("suspected")
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 ringet op")
    alerts = [(r.level, r.due_at) for r in reminders(ctx, case_id) if r.kind == "acute"]
    assert alerts == [(0, clock.now()), (1, clock.now()), (2, clock.now())]  # emil, lea, sol


def test_a_minor_case_cannot_be_decided_before_the_report_to_childrens_services(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("assessed", minor=True)
    with pytest.raises(Invalid, match="record 'report_to_childrens_services' first"):
        advance(ctx, actor="lea", case_id=case_id, trigger="decide", values=DECISION)
    assert state_of(ctx, case_id) == "assessed"
    advance(ctx, actor="emil", case_id=case_id, trigger="report_to_childrens_services", values={"reported_on": "2026-03-02"})
    assert advance(ctx, actor="lea", case_id=case_id, trigger="decide", values=DECISION).state == "decided"


def test_the_employee_may_record_the_report_to_childrens_services_without_the_leader(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected", minor=True)
    out = advance(ctx, actor="emil", case_id=case_id, trigger="report_to_childrens_services", values={"reported_on": "2026-03-02"})
    assert out.state == "suspected"
    last = history(ctx, case_id)[-1]
    assert (last.kind, last.actor, last.payload) == (
        EventKind.recorded, "emil", {"fields": {"reported_on": "2026-03-02"}}
    )


def test_a_case_that_is_not_a_minor_is_decided_without_the_report(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("assessed")
    assert advance(ctx, actor="lea", case_id=case_id, trigger="decide", values=DECISION).state == "decided"


# -- opening --------------------------------------------------------------------------------------


def test_case_ids_are_readable_and_count_up_per_plan_and_year(ctx: Context) -> None:
    ids = [open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{n}").case_id for n in range(3)]
    assert ids == ["RAD-2026-0001", "RAD-2026-0002", "RAD-2026-0003"]


def test_the_case_year_is_the_year_in_copenhagen(ctx: Context, clock: FixedClock) -> None:
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # already 1 January 2027 in Copenhagen
    assert open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF").case_id == "RAD-2027-0001"


def test_an_anonymous_concern_with_a_reporter_is_refused(ctx: Context) -> None:
    with pytest.raises(Invalid, match="anonymous"):
        open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF", source="anonymous", reporter="Naboen")
    assert snapshot(ctx)["cases"] == []


def test_an_anonymous_concern_stores_no_reporter(ctx: Context) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF", source="anonymous").case_id
    payload = history(ctx, case_id)[0].payload
    assert payload is not None and "reporter" not in payload
    assert {k: payload[k] for k in ("subject_ref", "source", "minor")} == {"subject_ref": "REF", "source": "anonymous", "minor": False}


@pytest.mark.parametrize(("subject", "source"), [("  ", "employee"), ("REF", "rumour")])
def test_a_case_needs_a_subject_and_a_known_source(ctx: Context, subject: str, source: str) -> None:
    with pytest.raises(Invalid):
        open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=subject, source=source)


def test_a_case_pins_its_plan_version(ctx: Context) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF").case_id
    view = show_case(ctx, actor="emil", case_id=case_id)
    assert view.plan_version == ctx.catalog.get(PLAN).plan.version


# -- one transaction per command ------------------------------------------------------------------


class RemindersCannotBeWritten(Repository):
    """A repository whose disk fills up exactly when reminder rows are written."""

    def insert_reminders(self, rows: Any) -> None:
        raise StorageUnavailable("the disk is full (a fake)")


class FailingUnitOfWork(UnitOfWork):
    @property
    def repo(self) -> Repository:
        return RemindersCannotBeWritten(self.conn)


class DiskFullForReminders(Database):
    """The same database, whose units of work fail on the last write of a command."""

    def unit_of_work(self, *, write: bool = False, read_first: bool = False) -> UnitOfWork:
        return FailingUnitOfWork(self, write=write)


@pytest.fixture
def failing_ctx(ctx: Context) -> Any:
    from dataclasses import replace

    db = DiskFullForReminders(ctx.db.url)
    yield replace(ctx, db=db)
    db.dispose()


def test_an_advance_that_fails_midway_leaves_case_events_and_reminders_as_they_were(
    ctx: Context, failing_ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    before = snapshot(ctx)
    with pytest.raises(StorageUnavailable):
        advance(failing_ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    assert snapshot(ctx) == before
    assert verify(ctx).ok
    assert advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader").state == "leader_notified"


def test_an_open_that_fails_midway_writes_nothing_and_uses_no_case_number(ctx: Context, failing_ctx: Context) -> None:
    with pytest.raises(StorageUnavailable):
        open_case(failing_ctx, actor="emil", plan_id=PLAN, subject_ref="REF")
    assert snapshot(ctx) == {"cases": [], "events": [], "reminders": []}
    assert open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF").case_id == "RAD-2026-0001"


# -- concurrent changes ---------------------------------------------------------------------------


class InterleavingDatabase:
    """A Database through which another command runs between a command's reading and its first write
    (the version check), as when two people act at the same moment."""

    def __init__(self, db: Database, before_write: Callable[[], object]) -> None:
        self.db = db
        self.before_write: Callable[[], object] | None = before_write

    def unit_of_work(self, *, write: bool = False, read_first: bool = False) -> Any:
        return _Interleaving(self, self.db.unit_of_work(write=write, read_first=read_first))


class _Interleaving:
    def __init__(self, outer: InterleavingDatabase, uow: Any) -> None:
        self.outer, self.uow = outer, uow

    def __enter__(self) -> _Interleaving:
        self.uow.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.uow.__exit__(*exc)

    def commit(self) -> None:
        self.uow.commit()

    @property
    def repo(self) -> Any:
        outer, repo = self.outer, self.uow.repo

        class Racing:
            def __getattr__(self, name: str) -> Any:
                return getattr(repo, name)

            def bump_version(self, *args: Any, **kwargs: Any) -> Any:
                if outer.before_write is not None:
                    run, outer.before_write = outer.before_write, None
                    run()
                return repo.bump_version(*args, **kwargs)

        return Racing()


def test_a_stale_version_updates_nothing(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    with ctx.db.unit_of_work(write=True) as uow:
        version = uow.repo.get_case(case_id).version
        assert not uow.repo.update_case(case_id, {"state": "decided"}, expected_version=version - 1)
        assert uow.repo.update_case(case_id, {"last_activity_at": ctx.clock.now()}, expected_version=version)
        uow.commit()
    assert state_of(ctx, case_id) == "suspected"


def test_two_people_advancing_the_same_case_at_once_the_second_gets_a_conflict(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    from dataclasses import replace

    case_id = case_in("suspected")

    def the_other_click() -> None:
        advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")

    racing = replace(ctx, db=InterleavingDatabase(ctx.db, the_other_click))
    with pytest.raises(Conflict, match=case_id) as caught:
        advance(racing, actor="emil", case_id=case_id, trigger="notify_leader")
    assert caught.value.exit_code == 6
    assert [e.trigger for e in history(ctx, case_id)] == [None, "notify_leader"]
    assert verify(ctx).ok


def test_a_note_between_reading_and_writing_makes_the_advance_conflict_and_write_nothing(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    from dataclasses import replace

    case_id = case_in("leader_notified")

    def a_note() -> None:
        add_note(ctx, actor="emil", case_id=case_id, text="Ny oplysning")

    racing = replace(ctx, db=InterleavingDatabase(ctx.db, a_note))
    with pytest.raises(Conflict):
        advance(racing, actor="lea", case_id=case_id, trigger="notify_specialist")
    assert [e.kind for e in history(ctx, case_id)][-1] is EventKind.note
    assert state_of(ctx, case_id) == "leader_notified"
    assert advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist").state == "specialist_notified"


# -- reminders rows -------------------------------------------------------------------------------


def test_opening_writes_the_pending_reminder_and_escalation_rows_of_the_first_state(ctx: Context) -> None:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF").case_id
    rows = [(r.state, r.level, r.kind, r.status, r.due_at) for r in reminders(ctx, case_id)]
    assert rows == [
        # a notice to emil now (Mon 09:00); no warning, for half a working day before 13:00 is now;
        ("suspected", 0, "notice", "pending", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        # emil at the deadline (Mon 13:00), then lea and sol each 2 working hours later (Mon 15:00, Tue 09:00).
        ("suspected", 0, "reminder", "pending", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("suspected", 1, "escalation", "pending", datetime(2026, 3, 2, 14, 0, tzinfo=UTC)),
        ("suspected", 2, "escalation", "pending", datetime(2026, 3, 3, 8, 0, tzinfo=UTC)),
    ]


def test_leaving_a_state_cancels_its_reminders_and_entering_the_next_writes_its_own(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in("suspected")
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    rows = [(r.state, r.level, r.status) for r in reminders(ctx, case_id) if r.kind not in AHEAD]
    assert rows == [
        ("suspected", 0, "cancelled"),
        ("suspected", 1, "cancelled"),
        ("suspected", 2, "cancelled"),
        ("leader_notified", 0, "pending"),  # lea
        ("leader_notified", 1, "pending"),  # sol
    ]


def test_a_recorded_trigger_keeps_the_states_reminders(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("leader_notified")
    before = reminders(ctx, case_id)
    advance(ctx, actor="sol", case_id=case_id, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    assert reminders(ctx, case_id) == before


def test_a_decided_case_has_no_pending_reminders(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("decided")
    # Only the leader's leader's assessment (a case deadline met by an after_close trigger) outlives the decision.
    assert {r.status for r in reminders(ctx, case_id) if r.deadline is None} == {"cancelled"}
    assert {r.deadline for r in show_case(ctx, actor="emil", case_id=case_id).reminders} == {"socialchef_assessment"}


# -- show, history and need to know ---------------------------------------------------------------


def test_show_lists_only_the_triggers_the_actor_may_fire(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    assert [o.trigger for o in show_case(ctx, actor="emil", case_id=case_id).possible] == [
        "notify_leader",
        "acute",
        "report_to_childrens_services",
    ]
    assert [o.trigger for o in show_case(ctx, actor="sol", case_id=case_id).possible] == ["inform_socialchef"]
    assert show_case(ctx, actor="sup", case_id=case_id).possible == []
    assert show_case(ctx, actor="fie", case_id=case_id).possible == []


def test_show_gives_each_possible_trigger_with_its_fields(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("assessed")
    decide = next(o for o in show_case(ctx, actor="lea", case_id=case_id).possible if o.trigger == "decide")
    fields = {f.name: f for f in decide.fields}
    assert (fields["police_report"].required, fields["police_report"].type) == (True, "yes|no")
    assert fields["rationale"].required
    assert not fields["follow_up"].required and "outreach" in fields["follow_up"].options
    assert decide.to_state == "decided"
    assert decide.command.startswith(f"indsats advance {case_id} decide --set police_report=")


def test_show_of_a_closed_case_offers_nothing(ctx: Context, case_in: Callable[..., str]) -> None:
    view = show_case(ctx, actor="lea", case_id=case_in("decided"))
    assert (view.possible, view.deadline, view.must_act) == ([], None, [])


def test_history_is_every_event_in_order_chained_to_the_one_before(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("assessed")
    add_note(ctx, actor="lea", case_id=case_id, text="Ringede til fagspecialisten")
    found = history(ctx, case_id)
    assert [e.seq for e in found] == [1, 2, 3, 4, 5]
    assert [e.to_state for e in found] == ["suspected", "leader_notified", "specialist_notified", "assessed", "assessed"]
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(found, found[1:]))


def test_an_outsider_is_told_the_case_does_not_exist(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("leader_notified")
    for call in (
        lambda: show_case(ctx, actor="ida", case_id=case_id),
        lambda: case_history(ctx, actor="ida", case_id=case_id),
        lambda: add_note(ctx, actor="ida", case_id=case_id, text="hej"),
        lambda: advance(ctx, actor="ida", case_id=case_id, trigger="acute", note="x"),
        lambda: show_case(ctx, actor="leo", case_id=case_id),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.message == f"no case '{case_id}' (or it is not one you may see)"
    assert list_cases(ctx, actor="ida") == []


@pytest.mark.parametrize("actor", ["emil", "lea", "sol", "fie", "sup", "admin"])
def test_those_with_a_need_to_know_see_the_case(ctx: Context, case_in: Callable[..., str], actor: str) -> None:
    case_id = case_in("leader_notified")
    assert show_case(ctx, actor=actor, case_id=case_id).id == case_id
    assert [c.id for c in list_cases(ctx, actor=actor)] == [case_id]


# -- one Machine per plan version -----------------------------------------------------------------


def test_advancing_many_cases_builds_no_new_machine(
    ctx: Context, case_in: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case_in("leader_notified")  # the plan's Machine exists now

    def no_second_machine(plan: Any) -> Any:
        raise AssertionError(f"a second Machine was built for {plan.id}")

    monkeypatch.setattr(machine, "build_machine", no_second_machine)
    for _ in range(3):
        case_in("decided")


def test_reading_cases_builds_and_binds_no_machine(
    ctx: Context, case_in: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = case_in("assessed")

    def no_machine(plan: Any) -> Any:
        raise AssertionError("a read asked for a Machine")

    monkeypatch.setattr(machine, "machine_for", no_machine)
    show_case(ctx, actor="lea", case_id=case_id)
    case_history(ctx, actor="lea", case_id=case_id)
    list_cases(ctx, actor="lea")
    verify(ctx)


# -- verify ---------------------------------------------------------------------------------------


@pytest.fixture
def busy_database(ctx: Context, case_in: Callable[..., str]) -> dict[str, str]:
    """A few cases in different states, with notes and side duties: the ids by name."""
    done = case_in("decided")
    acute = case_in("specialist_notified")
    advance(ctx, actor="lea", case_id=acute, trigger="acute", note="112 ringet op")
    add_note(ctx, actor="fie", case_id=acute, text="Infohus orienteret")
    minor = case_in("leader_notified", minor=True)
    advance(ctx, actor="sol", case_id=minor, trigger="inform_socialchef", values={"socialchef_informed": "yes"})
    return {"decided": done, "acute": acute, "minor": minor}


def test_verify_passes_on_a_database_written_only_by_the_engine(ctx: Context, busy_database: dict[str, str]) -> None:
    report = verify(ctx)
    assert report.problems == []
    assert (report.ok, report.cases, report.events) == (True, 3, 5 + 5 + 3)


def test_verify_reports_an_event_payload_edited_by_hand(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["decided"]
    tamper(
        ctx,
        "UPDATE events SET payload = REPLACE(payload, '\"police_report\":\"no\"', '\"police_report\":\"yes\"') "
        "WHERE case_id = :case_id AND trigger = 'decide'",
        case_id=case_id,
    )
    assert history(ctx, case_id)[-1].payload["fields"]["police_report"] == "yes"
    assert verify(ctx).problems == [f"case {case_id} event 5: payload does not match its digest (edited)"]


def test_verify_reports_an_event_time_edited_by_hand(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["acute"]
    with ctx.db.connect() as conn:
        conn.execute(
            update(events)
            .where(events.c.case_id == case_id, events.c.seq == 2)
            .values(at=datetime(2026, 2, 27, 8, 0, tzinfo=UTC))
        )
        conn.commit()
    assert verify(ctx).problems == [f"case {case_id} event 2: hash does not match its contents (edited)"]


def test_verify_reports_an_event_deleted_from_the_middle(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["decided"]
    tamper(ctx, "DELETE FROM events WHERE case_id = :case_id AND seq = 3", case_id=case_id)
    problems = verify(ctx).problems
    assert problems and all(p.startswith(f"case {case_id}") for p in problems)
    assert any("removed" in p for p in problems)


def test_verify_reports_the_last_event_deleted(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["acute"]
    tamper(ctx, "DELETE FROM events WHERE case_id = :case_id AND seq = 5", case_id=case_id)
    problems = verify(ctx).problems
    assert problems and all(p.startswith(f"case {case_id}:") for p in problems)


def test_verify_reports_a_state_edited_in_the_cases_projection(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["minor"]
    tamper(ctx, "UPDATE cases SET state = 'assessed' WHERE id = :case_id", case_id=case_id)
    assert verify(ctx).problems == [f"case {case_id}: 'state' is 'assessed' but its events say 'leader_notified'"]


def test_verify_reports_the_acute_mark_removed_from_the_projection(ctx: Context, busy_database: dict[str, str]) -> None:
    case_id = busy_database["acute"]
    tamper(ctx, "UPDATE cases SET acute = :no WHERE id = :case_id", case_id=case_id, no=False)
    assert verify(ctx).problems == [f"case {case_id}: 'acute' is False but its events say True"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("to_state", "closed_by_hand"),  # not a state of the plan
        ("kind", "erased"),  # not an EventKind
        ("payload", "{not json"),
    ],
)
def test_verify_reports_an_event_edited_into_nonsense_instead_of_crashing(
    ctx: Context, busy_database: dict[str, str], column: str, value: str
) -> None:
    case_id = busy_database["decided"]
    tamper(ctx, f"UPDATE events SET {column} = :value WHERE case_id = :case_id AND seq = 2", value=value, case_id=case_id)
    report = verify(ctx)
    assert not report.ok
    assert any(p.startswith(f"case {case_id} event 2") for p in report.problems), report.problems


def test_verify_reports_a_whole_case_removed(ctx: Context, busy_database: dict[str, str]) -> None:
    # Case numbers are handed out in the transaction that opens the case, so a gap means a removal.
    case_id = busy_database["acute"]
    tamper(ctx, "DELETE FROM reminders WHERE case_id = :case_id", case_id=case_id)
    tamper(ctx, "DELETE FROM case_deadlines WHERE case_id = :case_id", case_id=case_id)
    tamper(ctx, "DELETE FROM state_visits WHERE case_id = :case_id", case_id=case_id)
    tamper(ctx, "DELETE FROM events WHERE case_id = :case_id", case_id=case_id)
    tamper(ctx, "DELETE FROM cases WHERE id = :case_id", case_id=case_id)
    report = verify(ctx)
    assert not report.ok
    assert any(case_id in p for p in report.problems), report.problems


def test_notes_and_side_duties_bump_the_version_that_verify_replays(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("suspected")
    add_note(ctx, actor="emil", case_id=case_id, text="Mere")
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112")
    assert show_case(ctx, actor="emil", case_id=case_id).version == 3
    assert verify(ctx).ok


def test_a_walk_with_every_kind_of_step_verifies(ctx: Context, case_in: Callable[..., str], clock: FixedClock) -> None:
    case_id = case_in("suspected", minor=True)
    clock.advance(hours=1)
    walk(ctx, case_id, "decided", minor=True)
    assert state_of(ctx, case_id) == "decided"
    assert verify(ctx).ok


def test_a_case_opened_by_a_leader_is_decided_by_that_leader_not_their_socialchef(ctx: Context, org: Any) -> None:
    case_id = open_case(ctx, actor="lea", plan_id=PLAN, subject_ref="REF-L").case_id
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_leader")
    advance(ctx, actor="sol", case_id=case_id, trigger="notify_specialist")
    advance(ctx, actor="fie", case_id=case_id, trigger="assess", values={"summary": "s"})
    assert [p.login for p in show_case(ctx, actor="lea", case_id=case_id).must_act] == ["lea"]
    advance(ctx, actor="lea", case_id=case_id, trigger="decide", values={"police_report": "no", "rationale": "r"})
    assert verify(ctx).ok
