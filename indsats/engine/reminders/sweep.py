"""One sweep: claim due reminders, deliver them through a Notifier, mark them sent.

Claiming, delivering and marking are three steps: a claim is a lease (``claimed_by``, ``lease_until``)
written in its own transaction, so several sweeps (processes on one SQLite file, or workers on
PostgreSQL using ``SKIP LOCKED``) never claim the same row; a worker that dies mid-batch has its rows
taken over when the lease runs out (then, at worst, one duplicate — which the Message-ID, derived
from the reminder id, lets mail systems drop).

A sweep after downtime coalesces: rows for the same case visit and the same recipients become one
message, and the repeat at the top of the chain is re-armed after ``now``, never replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from indsats.engine.log import journal

from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.time.clock import to_local
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.reminders.texts import DeadlineText, render
from indsats.i18n import _
from indsats.engine.ports import DeliveryResult, Message, make_message_id
from indsats.engine.reminders.planning import (
    AHEAD,
    ReminderKind,
    ReminderStatus,
    is_working_time,
    next_repeat,
    pending_row,
    retry_at,
)

if TYPE_CHECKING:
    from indsats.engine.reminders.reminder import RemindedCase, Reminder
    from indsats.engine.context import Context
    from indsats.engine.ports import Notifier
    from indsats.engine.plans.schema import Actor, Plan
    from indsats.storage.repository import Repository

DEFAULT_LEASE = timedelta(minutes=5)
# The reason a reminder with no one to tell is marked failed (and so shows in `stuck`).
NOBODY_TO_TELL = "nobody_to_tell"
# A sweep counts every delivery but lists only the first ones: 100,000 objects are no report.
DELIVERIES_LISTED = 1000


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One message the sweep sent (or would send, in a dry run)."""

    reminder_id: int
    case_id: str
    state: str
    kind: str
    level: int
    recipients: list[str]  # logins
    ok: bool
    error: str | None = None
    state_label: str | None = None  # the plan's label of the state, as a person reads it


@dataclass(kw_only=True)
class SweepResult:
    claimed: int = 0
    sent: int = 0
    coalesced: int = 0
    retrying: int = 0
    failed: int = 0
    obsolete: int = 0
    lost_claims: int = 0
    unreachable: int = 0  # deliveries that failed because the mail server could not be reached
    deliveries: list[Delivery] = field(default_factory=list)  # the first DELIVERIES_LISTED
    deliveries_not_listed: int = 0  # those beyond them

    def add_delivery(self, delivery: Delivery) -> None:
        if len(self.deliveries) < DELIVERIES_LISTED:
            self.deliveries.append(delivery)
        else:
            self.deliveries_not_listed += 1

    def listing(self) -> bool:
        """Is the next delivery one of those listed (else it is only counted: no need to build it)?"""
        if len(self.deliveries) < DELIVERIES_LISTED:
            return True
        self.deliveries_not_listed += 1
        return False


class _Prepared(NamedTuple):  # a tuple: one is made per row, and a frozen dataclass costs 3x as much to make
    row: Reminder
    case: RemindedCase
    plan: Plan
    deadline: datetime | None  # what the row is about: the state's deadline, or its case deadline's
    recipients: list[str]
    recipients_json: str  # as the reminder row records them
    addresses: tuple[str, ...]
    top: bool
    problem: str | None  # a permanent reason not to send (nobody, or no address at all)
    warning: str | None  # sent, but not to everyone (someone has no address)


def sweep(
    ctx: Context,
    notifier: Notifier,
    *,
    worker: str,
    mail_from: str = "indsats@localhost",
    batch_size: int = 200,
    lease: timedelta = DEFAULT_LEASE,
    dry_run: bool = False,
) -> SweepResult:
    """Deliver every reminder due now, batch by batch, until none is left."""
    result = SweepResult()
    now = ctx.clock.now()
    abouts: dict[tuple[str, str, str, str | None], _About] = {}  # per plan version, state and case deadline
    lateness = _Lateness(ctx, now)
    if dry_run:
        with ctx.db.unit_of_work() as uow:
            rows = uow.repo.due_reminders(now=now)
            prepared, _duplicates = _prepare(ctx, uow.repo, rows)
        for p in _coalesce(prepared)[0]:
            if result.listing():
                result.add_delivery(_delivery(p, ok=True))
        result.claimed = len(rows)
        return result
    while True:
        with ctx.db.unit_of_work(write=True, hot=True) as uow:
            rows = uow.repo.claim_due(now=now, limit=batch_size, worker=worker, lease_until=now + lease)
            if rows:  # read what the messages need in the claim's transaction: one commit fewer a batch
                prepared, obsolete = _prepare(ctx, uow.repo, rows)
            uow.commit()
        if not rows:
            return result
        result.claimed += len(rows)
        to_send, duplicates = _coalesce(prepared)
        sendable = [p for p in to_send if p.problem is None]
        messages = [_message(p, mail_from, now, abouts, lateness) for p in sendable]
        outcomes = {r.reminder_id: r for r in notifier.deliver(messages)} if messages else {}
        for p in to_send:
            if p.problem is not None:
                outcomes[p.row.id] = DeliveryResult(reminder_id=p.row.id, ok=False, error=p.problem, permanent=True)
        with ctx.db.unit_of_work(write=True, hot=True) as uow:
            _record_batch(ctx, uow.repo, obsolete, to_send, duplicates, outcomes, worker, now, result)
            uow.commit()


def _prepare(ctx: Context, repo: Repository, rows: list[Reminder]) -> tuple[list[_Prepared], list[Reminder]]:
    prepared: list[_Prepared] = []
    obsolete: list[Reminder] = []
    cases = repo.reminded_cases(row.case_id for row in rows)
    # Case deadlines run while the case moves: they are obsolete once met or the case closed (unless the
    # duty outlives the decision: its ``met_by`` may be recorded after closing), not on a move.
    running = repo.running_case_deadlines({row.case_id for row in rows if row.deadline})
    today = to_local(ctx.clock.now()).date()
    # Who hears of a row depends only on the plan version, the state, the deadline, the case's people, level, kind.
    audiences: dict[tuple[Any, ...], _Audience] = {}
    plans: dict[tuple[str, str], Plan] = {}
    for row in rows:
        case = cases.get(row.case_id)
        name = row.deadline
        if case is None:
            obsolete.append(row)
            continue
        pinned = (case.plan_id, case.plan_version)
        plan = plans.get(pinned)
        if plan is None:
            plan = plans[pinned] = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
        if name:
            closed = not case.is_open and not (name in plan.case_deadlines and plan.outlives_closing(name))
            moved_on = closed or (row.case_id, name) not in running
        else:
            moved_on = not case.is_open or case.state != row.state
        # An acute alert is about what happened, not about a stalled state: it goes out regardless.
        if moved_on and row.kind != ReminderKind.acute.value:
            obsolete.append(row)
            continue
        state = case.state if name else row.state
        key = (*pinned, state, name, case.opened_by, case.unit, case.assignee, row.level, row.kind)
        audience = audiences.get(key)
        if audience is None:
            org = Organisation(repo, plan, today)
            audience = audiences[key] = _audience(repo, org, _responsible(plan, state, name), CaseFacts.of(case),
                                                  row.level, row.kind)
        prepared.append(
            _Prepared(
                row=row,
                case=case,
                plan=plan,
                deadline=running[(row.case_id, name)]["due_at"] if name and not moved_on else case.deadline,
                recipients=audience.recipients,
                recipients_json=audience.recipients_json,
                addresses=audience.addresses,
                top=row.level >= audience.levels,
                problem=audience.problem,
                warning=audience.warning,
            )
        )
    return prepared, obsolete


@dataclass(frozen=True, kw_only=True)
class _Audience:
    recipients: list[str]
    recipients_json: str
    addresses: tuple[str, ...]
    levels: int
    problem: str | None
    warning: str | None


def _audience(
    repo: Repository, org: Organisation, spec: Actor | None, facts: CaseFacts, level: int, kind: str
) -> _Audience:
    """Who a reminder at ``level`` for whoever ``spec`` names on the case goes to today, and their addresses."""
    plan = org.plan
    owners = [] if spec is None else org.responsible(spec, facts)
    repo.load_chains(owners)
    levels = org.escalation_levels(owners, facts.unit)
    recipients = org.recipients_at(owners, min(level, max(levels, 0)), facts.unit)
    if level > 0 and levels == 0:
        recipients = []
    if kind == ReminderKind.acute.value and level == 0 and plan.acute_alert is not None:
        # The acute alert also reaches the roles the plan names (the specialist who leads the effort).
        also = {r for role in plan.acute_alert.also for h in org.holders(role, facts.unit) if (r := org.receiver(h))}
        recipients = sorted({*recipients, *also})
    addresses = []
    missing = []
    for login in recipients:
        user = repo.get_user(login)
        if user and user["email"]:
            addresses.append(user["email"])
        else:
            missing.append(login)
    problem = warning = None
    if missing:
        warning = f"no e-mail address registered for {', '.join(missing)}"
    if not recipients:
        problem = f"{NOBODY_TO_TELL}: no active user must act or stands in the reports-to chain at level {level}"
    elif not addresses:
        problem = warning
    return _Audience(
        recipients=recipients, recipients_json=json.dumps(recipients), addresses=tuple(sorted(set(addresses))), levels=levels, problem=problem, warning=warning
    )


def _coalesce(prepared: list[_Prepared]) -> tuple[list[_Prepared], list[_Prepared]]:
    """One message per case visit and recipients: keep the most urgent row, the rest ride along."""
    best: dict[tuple[Any, ...], _Prepared] = {}
    duplicates: list[_Prepared] = []
    for p in prepared:
        key = (p.row.case_id, p.row.deadline, p.row.entry_seq, tuple(p.recipients))
        current = best.get(key)
        if current is None:
            best[key] = p
            continue
        rank = (p.row.kind == ReminderKind.acute.value, p.row.level, p.row.due_at)
        current_rank = (current.row.kind == ReminderKind.acute.value, current.row.level, current.row.due_at)
        if rank > current_rank:
            duplicates.append(current)
            best[key] = p
        else:
            duplicates.append(p)
    return list(best.values()), duplicates


@dataclass(frozen=True, kw_only=True)
class _About:
    """What a message says of the deadline a row is about, the same for every row of a (plan version, state,
    case deadline): who is responsible, whether its time is working time, the deadline's own words."""

    responsible: Actor | None
    working: bool
    text: DeadlineText | None


def _responsible(plan: Plan, state: str, name: str | None) -> Actor | None:
    """Who a row is about: the case deadline's own responsible where it names one, else the state's."""
    rule = plan.case_deadlines.get(name) if name else None
    if rule is not None and rule.responsible is not None:
        return rule.responsible
    return plan.states[state].responsible


def _about(plan: Plan, state: str, name: str | None) -> _About:
    working = is_working_time(plan, state, name)
    about = None
    if name and name in plan.case_deadlines:
        rule = plan.case_deadlines[name]
        about = DeadlineText(label=rule.label, rule=rule.within, working=working, published=rule.published,
                             met_by=rule.met_by)
    return _About(responsible=_responsible(plan, state, name), working=working, text=about)


class _Lateness:
    """How early or late a deadline is at the sweep's ``now``, in words: the working time to ``now`` added up
    once per local day (``Calendar.working_time_to``), each span's words made once (``Calendar.describer``)."""

    def __init__(self, ctx: Context, now: datetime) -> None:
        self._calendar = ctx.calendar
        self._now = now
        self._since = ctx.calendar.working_time_to(now)  # from an overdue deadline up to now
        self._describe = ctx.calendar.describer()

    def __call__(self, deadline: datetime | None, *, working: bool) -> str:
        if deadline is None:
            return _("no deadline")
        now = self._now
        if not working:
            span = now - deadline if now >= deadline else deadline - now
        elif now >= deadline:
            span = self._since(deadline)
        else:
            span = self._calendar.working_time_between(now, deadline)
        return self._describe(span)


def _message(p: _Prepared, mail_from: str, now: datetime, abouts: dict[tuple[str, str, str, str | None], _About],
             lateness: _Lateness) -> Message:
    case = p.case
    name = p.row.deadline
    deadline = p.deadline
    state = case.state if name else p.row.state
    key = (p.plan.id, p.plan.version, state, name)
    found = abouts.get(key)
    if found is None:
        found = abouts[key] = _about(p.plan, state, name)
    spec, about = found.responsible, found.text
    text = render(
        plan=p.plan,
        case_id=case.id,
        state=state,
        kind=p.row.kind,
        level=p.row.level,
        responsible=spec,
        deadline=deadline,
        lateness=lateness(deadline, working=found.working),
        overdue=deadline is not None and now >= deadline,
        about=about,
    )
    return Message(
        reminder_id=p.row.id,
        message_id=make_message_id(p.row.id, mail_from),
        to=p.addresses,
        subject=text.subject,
        body=text.body,
        sent_at=now,
    )


def _record_batch(
    ctx: Context,
    repo: Repository,
    obsolete: list[Reminder],
    to_send: list[_Prepared],
    duplicates: list[_Prepared],
    outcomes: dict[int, DeliveryResult],
    worker: str,
    now: datetime,
    result: SweepResult,
) -> None:
    """Record a delivered batch in a few statements: which rows this worker still holds (one query), their
    new status (one executemany per kind of change), the events (one insert, case heads locked in case-id
    order so two workers recording at once never deadlock) and the re-armed repeats (one insert).
    """
    held = repo.held_reminders(
        [row.id for row in obsolete] + [p.row.id for p in to_send] + [p.row.id for p in duplicates],
        worker=worker,
    )
    marks: list[dict[str, Any]] = []
    sent: list[tuple[int, str, str | None]] = []
    drafts: list[Draft] = []
    repeats: list[dict[str, Any]] = []
    for row in obsolete:
        if row.id in held:
            marks.append({"id": row.id, "status": ReminderStatus.cancelled.value, "claimed_by": None,
                          "lease_until": None, "last_error": "obsolete: the case left the state"})
            result.obsolete += 1
    for p in sorted(to_send, key=lambda p: (p.row.case_id, p.row.id)):
        if p.row.id not in held:  # our lease ran out and another worker took the row: it was sent twice at most
            result.lost_claims += 1
            continue
        _record(ctx, p, outcomes[p.row.id], now, result, marks, sent, drafts, repeats)
    for p in duplicates:
        if p.row.id in held:
            marks.append({"id": p.row.id, "status": ReminderStatus.sent.value, "sent_at": now, "claimed_by": None,
                          "lease_until": None, "recipients": p.recipients_json,
                          "last_error": "coalesced into another message"})
            result.coalesced += 1
    repo.mark_sent(sent, sent_at=now, worker=worker)
    repo.mark_reminders(marks, worker=worker)
    journal.append_many(repo, drafts, case_changes=_counted)
    repo.insert_reminders(repeats)


def _record(
    ctx: Context,
    p: _Prepared,
    outcome: DeliveryResult,
    now: datetime,
    result: SweepResult,
    marks: list[dict[str, Any]],
    sent: list[tuple[int, str, str | None]],
    drafts: list[Draft],
    repeats: list[dict[str, Any]],
) -> None:
    """What one delivery (held by this worker) changes: its reminder row, an event, a re-armed repeat."""
    row = p.row
    attempts = row.attempts + 1
    if outcome.ok:
        warning = p.warning if outcome.error is None else "; ".join(filter(None, (outcome.error, p.warning))) or None
        sent.append((row.id, p.recipients_json, warning))
        kind = EventKind.reminder_sent if row.level == 0 else EventKind.escalated
        drafts.append(_draft(p, kind, now, {"reminder_id": row.id, "level": row.level, "kind": row.kind,
                                            "recipients": p.recipients}))
        if p.top and row.kind != ReminderKind.acute.value and row.kind not in AHEAD:
            again = next_repeat(p.plan, row.state, row.due_at, now, ctx.calendar, row.deadline)
            if again is not None:
                repeats.append(pending_row(case_id=row.case_id, state=row.state, entry_seq=row.entry_seq,
                                           level=row.level, kind=row.kind, due_at=again, deadline=row.deadline))
        result.sent += 1
        if result.listing():
            result.add_delivery(_delivery(p, ok=True))
        return
    give_up = outcome.permanent or attempts >= p.plan.escalation.max_attempts
    values: dict[str, Any] = {"id": row.id, "attempts": attempts, "claimed_by": None, "lease_until": None,
                              "last_error": (outcome.error or "delivery failed")[:500]}
    if give_up:
        values["status"] = ReminderStatus.failed.value
    else:
        retry = retry_at(p.plan, attempts, now)
        if is_working_time(p.plan, row.state, row.deadline) and row.kind != ReminderKind.acute.value:
            retry = ctx.calendar.next_open(retry)  # a working-time reminder is retried within working hours
        values["next_attempt_at"] = retry
    marks.append(values)
    if outcome.unreachable:
        result.unreachable += 1
    if give_up:
        drafts.append(_draft(p, EventKind.delivery_failed, now, {"reminder_id": row.id, "level": row.level,
                                                                 "attempts": attempts, "error": values["last_error"]}))
        result.failed += 1
    else:
        result.retrying += 1
    if result.listing():
        result.add_delivery(_delivery(p, ok=False, error=outcome.error))


def _draft(p: _Prepared, kind: EventKind, now: datetime, payload: dict[str, Any]) -> Draft:
    return Draft(case_id=p.case.id, kind=kind, at=now, from_state=p.row.state, to_state=p.row.state, payload=payload)


_SENT = (EventKind.reminder_sent, EventKind.escalated)


def _counted(draft: Draft, head: dict[str, Any]) -> dict[str, Any]:
    """The case's counters after a reminder went out at its level, from the case's head as it stands."""
    if draft.kind not in _SENT or draft.payload is None:
        return {}
    level = draft.payload["level"]
    return {"reminders_sent": head["reminders_sent"] + 1, "escalation_level": max(head["escalation_level"], level)}


def _delivery(p: _Prepared, *, ok: bool, error: str | None = None) -> Delivery:
    return Delivery(
        reminder_id=p.row.id,
        case_id=p.row.case_id,
        state=p.row.state,
        state_label=p.plan.states[p.row.state].label if p.row.state in p.plan.states else None,
        kind=p.row.kind,
        level=p.row.level,
        recipients=p.recipients,
        ok=ok,
        error=error,
    )
