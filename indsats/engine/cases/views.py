"""Reading cases: ``show``, ``history`` and ``cases``. No Machine is built for a read; the plan answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from indsats.engine.plans.wording import source_text
from indsats.engine.log import journal

from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.cases.service import case_flags, on_case_logins
from indsats.engine.privacy.crypto import open_payload
from indsats.engine.log.events import Draft, Event, EventKind
from indsats.engine.plans.fields import describe_type
from indsats.engine.reminders.planning import ReminderStatus, is_working_time, time_between
from indsats.engine.org.users import require_actor
from indsats.engine.cases.visibility import may_see, organisation, require_visible
from indsats.engine.cases.record import Entry, HistoryRow, case_record, history_rows
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.org.users import User
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository


@dataclass(frozen=True, kw_only=True)
class Person:
    login: str
    name: str
    role: str


@dataclass(frozen=True, kw_only=True)
class FieldInfo:
    name: str
    label: str
    type: str
    required: bool
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TriggerOption:
    """A trigger the actor may fire now, with what it needs."""

    trigger: str
    label: str
    to_state: str | None
    note_required: bool
    fields: list[FieldInfo]
    command: str


@dataclass(frozen=True, kw_only=True)
class ReminderInfo:
    id: int
    level: int
    kind: str
    status: str
    due_at: datetime
    attempts: int
    sent_at: datetime | None
    deadline: str | None = None  # the case deadline it is about; None for the state's deadline


@dataclass(frozen=True, kw_only=True)
class CaseDeadlineInfo:
    """A case deadline on the case: running, met, or overdue."""

    name: str
    label: str
    rule: str
    statutory: bool
    published: bool
    met_by: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    working_time: bool
    time_left: timedelta | None  # while running; negative when overdue
    time_left_text: str | None


@dataclass(frozen=True, kw_only=True)
class CaseView:
    """Everything ``show`` tells about a case."""

    id: str
    plan_id: str
    plan_title: str
    plan_version: str
    state: str
    state_label: str
    is_open: bool
    acute: bool
    minor: bool
    source: str
    subject_ref: str | None
    opened_by: str
    assignee: str | None
    flags: dict[str, str]  # the plan's flags set on the case, with their labels
    opened_at: datetime
    state_entered_at: datetime
    closed_at: datetime | None
    deadline: datetime | None
    deadline_rule: str | None
    working_time: bool
    time_left: timedelta | None  # negative when overdue; working time for working-time deadlines
    time_left_text: str | None
    escalation_level: int
    reminders_sent: int
    must_act: list[Person]
    action_card: list[str]
    possible: list[TriggerOption]
    reminders: list[ReminderInfo]
    version: int
    paused_at: datetime | None = None  # paused since; deadlines stand still until resumed
    pause_reason: str | None = None
    case_deadlines: list[CaseDeadlineInfo] = field(default_factory=list)
    # What was recorded: the notes, the assessment, the decision (fields under the plan's labels), oldest first.
    # Everyone who may see the case may read its history, so they may read this too.
    record: list[Entry] = field(default_factory=list)
    source_label: str = ""  # the plan's label for the source


@dataclass(frozen=True, kw_only=True)
class CaseSummary:
    id: str
    plan_id: str
    state: str
    state_label: str
    is_open: bool
    acute: bool
    opened_by: str
    opened_at: datetime
    deadline: datetime | None
    escalation_level: int


def show_case(ctx: Context, *, actor: str, case_id: str, via: str | None = None) -> CaseView:
    """Everything about a case for the actor; the read is logged as a ``viewed`` event.

    :param via: the door the read came through (``"web"``), recorded in the event; None for the CLI.
    """
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        subject_ref = None if case.subject_ref is None else cipher.open(case.subject_ref)
        events = [
            Event.from_row({**row, "payload": open_payload(row["payload"], cipher)}) for row in repo.events_for(case_id)
        ]
        log_view(repo, case, me.login, "show", ctx.clock.now(), via=via, os_login=ctx.os_login)
        view = _view(ctx, repo, plan, case, me, subject_ref, events)
        uow.commit()
    return view


def case_page(ctx: Context, *, actor: str, case_id: str, via: str) -> tuple[CaseView, list[Event]]:
    """``show`` and ``history`` together, as one page shows them: one ``viewed`` event (command ``page``)."""
    view, events, _plan = _page(ctx, actor=actor, case_id=case_id, via=via)
    return view, events


def case_page_history(ctx: Context, *, actor: str, case_id: str, via: str) -> tuple[CaseView, list[HistoryRow]]:
    """``case_page`` with the history as people read it (``history_rows`` under the case's pinned plan, no
    ``viewed`` rows)."""
    view, events, plan = _page(ctx, actor=actor, case_id=case_id, via=via)
    return view, history_rows(plan, events)


def _page(ctx: Context, *, actor: str, case_id: str, via: str) -> tuple[CaseView, list[Event], Plan]:
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        subject_ref = None if case.subject_ref is None else cipher.open(case.subject_ref)
        events = [
            Event.from_row({**row, "payload": open_payload(row["payload"], cipher)}) for row in repo.events_for(case_id)
        ]
        log_view(repo, case, me.login, "page", ctx.clock.now(), via=via, os_login=ctx.os_login)
        view = _view(ctx, repo, plan, case, me, subject_ref, events)
        uow.commit()
    return view, events, plan


def _view(
    ctx: Context, repo: Repository, plan: Plan, case: Case, me: User, subject_ref: str | None, events: list[Event]
) -> CaseView:
    state = plan.states[case.state]
    # While paused the deadlines stand still: time left is counted up to the pause.
    now = case.paused_at or ctx.clock.now()
    working = is_working_time(plan, case.state)
    time_left = None
    if case.deadline is not None and case.is_open:
        time_left = time_between(plan, case.state, now, case.deadline, ctx.calendar)
    org = organisation(repo, plan, ctx.clock)
    must_act = []
    if state.responsible is not None and case.is_open:
        must_act = [_person(repo, org, login, case) for login in org.responsible(state.responsible, CaseFacts.of(case))]
    options = _options_for(repo, org, plan, case, me.login)
    reminders = [
        ReminderInfo(
            id=r.id,
            level=r.level,
            kind=r.kind,
            status=r.status,
            due_at=r.due_at,
            attempts=r.attempts,
            sent_at=r.sent_at,
            deadline=r.deadline,
        )
        for r in repo.reminders_for(case.id)
        if r.status != ReminderStatus.cancelled.value
    ]
    deadlines = [_case_deadline(ctx, plan, case, row, now) for row in repo.case_deadlines_for(case.id)]
    reason = case.pause_reason
    return CaseView(
        id=case.id,
        plan_id=plan.id,
        plan_title=plan.title,
        plan_version=plan.version,
        state=case.state,
        state_label=state.label,
        is_open=case.is_open,
        acute=case.acute,
        minor=case.minor,
        source=case.source,
        subject_ref=subject_ref,
        opened_by=case.opened_by,
        assignee=case.assignee,
        flags={f: plan.flags[f].label if f in plan.flags else f for f in case_flags(case)},
        opened_at=case.opened_at,
        state_entered_at=case.state_entered_at,
        closed_at=case.closed_at,
        deadline=case.deadline if case.is_open else None,
        deadline_rule=state.deadline,
        working_time=working,
        time_left=time_left,
        time_left_text=None if time_left is None else ctx.calendar.describe(time_left),
        escalation_level=case.escalation_level,
        reminders_sent=case.reminders_sent,
        must_act=must_act,
        action_card=list(state.action_card),
        possible=options,
        reminders=reminders,
        version=case.version,
        paused_at=case.paused_at,
        pause_reason=None if reason is None else ctx.keys.cipher().open(reason),
        case_deadlines=deadlines,
        record=case_record(plan, events),
        source_label=source_text(plan, case.source),
    )


def _case_deadline(ctx: Context, plan: Plan, case: Case, row: dict[str, Any], now: datetime) -> CaseDeadlineInfo:
    name = row["name"]
    spec = plan.case_deadlines[name]
    working = is_working_time(plan, case.state, name)
    left = None
    if row["met_at"] is None and (case.is_open or plan.outlives_closing(name)):
        left = time_between(plan, case.state, now, row["due_at"], ctx.calendar, name)
    return CaseDeadlineInfo(
        name=name, label=spec.label, rule=spec.within, statutory=spec.statutory, published=spec.published,
        met_by=spec.met_by, started_at=row["started_at"], due_at=row["due_at"], met_at=row["met_at"],
        working_time=working, time_left=left, time_left_text=None if left is None else ctx.calendar.describe(left),
    )


def case_history(ctx: Context, *, actor: str, case_id: str, via: str | None = None) -> list[Event]:
    """Every event of a case, protected parts opened; the read is logged as a ``viewed`` event."""
    return read_events(ctx, actor=actor, case_id=case_id, via=via)[1]


def read_events(ctx: Context, *, actor: str, case_id: str, via: str | None = None) -> tuple[Plan, list[Event]]:
    """The case's pinned plan and every event, protected parts opened, if ``actor`` may see the case; the
    read is logged as a ``viewed`` event (command ``history``)."""
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        events = [
            Event.from_row({**row, "payload": open_payload(row["payload"], cipher)}) for row in repo.events_for(case_id)
        ]
        log_view(repo, case, me.login, "history", ctx.clock.now(), via=via, os_login=ctx.os_login)
        uow.commit()
    return plan, events


def log_view(
    repo: Repository, case: Case, login: str, command: str, at: datetime, *, via: str | None = None,
    os_login: str | None = None,
) -> None:
    """The access log: who read a case's details, when, through which command and (``via``) which door."""
    payload = {"command": command} if via is None else {"command": command, "via": via}
    journal.append(
        repo,
        Draft(case_id=case.id, kind=EventKind.viewed, at=at, actor=login, from_state=case.state, to_state=case.state,
              payload=payload),
        os_login=os_login,
    )


def list_cases(
    ctx: Context,
    *,
    actor: str,
    plan_id: str | None = None,
    state: str | None = None,
    is_open: bool | None = True,
) -> list[CaseSummary]:
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        found = []
        orgs: dict[tuple[str, str], Organisation] = {}
        for case in repo.list_cases(plan_id=plan_id, state=state, is_open=is_open):
            key = (case.plan_id, case.plan_version)
            if key not in orgs:
                orgs[key] = organisation(repo, ctx.catalog.pinned(repo, *key), ctx.clock)
            plan = orgs[key].plan
            if not may_see(repo, me, case, plan, orgs[key]):
                continue
            found.append(
                CaseSummary(
                    id=case.id,
                    plan_id=case.plan_id,
                    state=case.state,
                    state_label=plan.states[case.state].label,
                    is_open=case.is_open,
                    acute=case.acute,
                    opened_by=case.opened_by,
                    opened_at=case.opened_at,
                    deadline=case.deadline,
                    escalation_level=case.escalation_level,
                )
            )
        return found


def person_in(repo: Repository, org: Organisation, login: str, unit: str | None) -> Person:
    """A person as the case's plan knows them: name and the plan's roles they hold (for the case's unit)."""
    user = repo.get_user(login)
    if user is None:
        return Person(login=login, name=_("(unknown)"), role="?")
    roles = ", ".join(sorted(org.roles_of(login, unit))) or user["role"] or "?"
    return Person(login=login, name=user["name"], role=roles)


def _person(repo: Repository, org: Organisation, login: str, case: Case) -> Person:
    return person_in(repo, org, login, case.unit)


def _options_for(repo: Repository, org: Organisation, plan: Plan, case: Case, login: str) -> list[TriggerOption]:
    on_case = on_case_logins(repo, org, plan, case)
    facts = CaseFacts.of(case, on_case)
    options = []
    for t in plan.transitions_from(case.state):
        if org.acting_as(t.allowed, login, facts) is None:
            continue
        fields = [
            FieldInfo(name=n, label=f.label, type=describe_type(f), required=f.required, options=dict(f.options))
            for n, f in t.fields.items()
        ]
        sets = " ".join(f"--set {f.name}=…" for f in fields if f.required)
        note = " --note …" if t.note_required else ""
        options.append(
            TriggerOption(
                trigger=t.trigger,
                label=t.label,
                to_state=t.dest,
                note_required=t.note_required,
                fields=fields,
                command=f"indsats advance {case.id} {t.trigger}{' ' + sets if sets else ''}{note}",
            )
        )
    return options
