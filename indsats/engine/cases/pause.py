"""Pausing a case while it waits on someone outside (the police, psychiatry), and resuming it.

While a case is paused its reminders are held (acute alerts still go out) and it cannot move to another
state; ``stuck`` lists it as paused, with the reason and since when. On resume every deadline of the case
(the state's and the running case deadlines) and every held reminder moves on by the paused time, counted
as each deadline counts time: working time for working-time deadlines, elapsed time for elapsed ones.
Who may pause or resume: whoever must act now, the leaders above them, and supervisors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.cases.visibility import require_visible
from indsats.engine.log import journal
from indsats.engine.log.events import Draft, EventKind
from indsats.engine.log.projection import to_iso
from indsats.engine.org.people import CaseFacts, Organisation, organisation
from indsats.engine.org.users import require_actor
from indsats.engine.cases.visits import microseconds
from indsats.engine.reminders.planning import shifted
from indsats.engine.time.clock import to_local
from indsats.errors import Conflict, Invalid, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.ports import Clock
    from indsats.engine.org.users import User
    from indsats.engine.plans.schema import Plan
    from indsats.storage.repository import Repository

PAUSE_ROLES = frozenset({"supervisor"})


@dataclass(frozen=True, kw_only=True)
class PauseOutcome:
    """What ``pause`` or ``resume`` did."""

    case_id: str
    paused: bool
    paused_at: datetime  # when the pause began
    resumed_at: datetime | None
    deadline: datetime | None  # the state's deadline, shifted on resume
    shifted_reminders: int
    event_seq: int


def pause_case(ctx: Context, *, actor: str, case_id: str, reason: str) -> PauseOutcome:
    """Pause a case with a reason: its reminders are held until ``resume_case``."""
    if not reason.strip():
        raise Invalid(_("a pause needs a reason (--reason TEXT): what the case is waiting for"))
    cipher = ctx.keys.cipher()  # the reason is free text: never stored in the clear
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        _require_may_pause(repo, plan, case, me, "pause", ctx.clock)
        if not case.is_open:
            raise Invalid(_("case {case_id} is closed (in '{state}'); there is nothing to pause").format(case_id=case_id, state=case.state))
        if case.paused_at is not None:
            since = to_local(case.paused_at).strftime("%Y-%m-%d %H:%M")
            raise Invalid(_("case {case_id} is already paused since {since}; resume it with 'indsats resume {case_id}'").format(case_id=case_id, since=since))
        at = ctx.clock.now().replace(microsecond=0)
        head = _take(repo, case, at)
        held = repo.hold_pending(case_id)
        repo.pause_visit(case_id)  # the report replays a visit paused at its window's end
        draft = Draft(case_id=case_id, kind=EventKind.paused, at=at, actor=me.login, from_state=case.state,
                      to_state=case.state, payload={"note": reason.strip(), "held_reminders": held})
        event = journal.append(
            repo, draft, cipher=cipher, case_changes={"paused_at": at, "pause_reason": cipher.seal(reason.strip())},
            head=head, os_login=ctx.os_login,
        )
        uow.commit()
    return PauseOutcome(case_id=case_id, paused=True, paused_at=at, resumed_at=None, deadline=case.deadline,
                        shifted_reminders=held, event_seq=event.seq)


def resume_case(ctx: Context, *, actor: str, case_id: str) -> PauseOutcome:
    """Resume a paused case: its deadlines and held reminders move on by the paused time."""
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        _require_may_pause(repo, plan, case, me, "resume", ctx.clock)
        if case.paused_at is None:
            raise Invalid(_("case {case_id} is not paused; pause it with 'indsats pause {case_id} --reason TEXT'").format(case_id=case_id))
        at = ctx.clock.now().replace(microsecond=0)
        since = case.paused_at
        head = _take(repo, case, at)
        state = case.state
        deadline = case.deadline
        if deadline is not None:
            deadline = shifted(plan, state, deadline, since, at, ctx.calendar)
        moved_deadlines = [
            {"case_id": case_id, "name": d["name"],
             "due_at": shifted(plan, state, d["due_at"], since, at, ctx.calendar, d["name"])}
            for d in repo.case_deadlines_for(case_id)
            if d["met_at"] is None
        ]
        repo.move_case_deadlines(moved_deadlines)
        released: list[dict[str, Any]] = []
        for row in repo.held_reminders_of(case_id):
            name = row.deadline
            released.append({
                "id": row.id,
                "due_at": shifted(plan, row.state, row.due_at, since, at, ctx.calendar, name),
                "next_attempt_at": shifted(plan, row.state, row.next_attempt_at, since, at, ctx.calendar, name),
            })
        repo.release_held(released)
        repo.resume_visit(case_id, microseconds(ctx.calendar.working_time_between(since, at)))
        # What verify replays: the visit's deadline and reminder rows as they stand now (moved by the pause).
        moved: dict[int, datetime] = {r["id"]: r["due_at"] for r in released}
        entry_seq = _visit_seq(repo, case_id)
        every = repo.reminders_for(case_id)
        visit = [
            [r.level, r.kind, to_iso(moved.get(r.id, r.due_at))]
            for r in every
            if r.entry_seq == entry_seq and r.kind != "acute" and not r.deadline
        ]
        payload: dict[str, Any] = {
            "paused_at": to_iso(since), "paused_seconds": int((at - since).total_seconds()),
            "shifted_reminders": len(released), "deadline": to_iso(deadline), "reminders": visit,
        }
        if moved_deadlines:  # the running case deadlines and their rows, as they stand now
            payload["case_deadlines"] = {
                d["name"]: {"due_at": to_iso(d["due_at"]),
                            "reminders": [[r.level, r.kind, to_iso(moved.get(r.id, r.due_at))]
                                          for r in every if r.deadline == d["name"] and r.kind != "acute"]}
                for d in moved_deadlines
            }
        draft = Draft(
            case_id=case_id, kind=EventKind.resumed, at=at, actor=me.login, from_state=state, to_state=state,
            payload=payload,
        )
        event = journal.append(
            repo, draft, case_changes={"paused_at": None, "pause_reason": None, "deadline": deadline}, head=head,
            os_login=ctx.os_login,
        )
        uow.commit()
    return PauseOutcome(case_id=case_id, paused=False, paused_at=since, resumed_at=at, deadline=deadline,
                        shifted_reminders=len(released), event_seq=event.seq)


def _visit_seq(repo: Repository, case_id: str) -> int:
    """The seq of the event that entered the case's current state (its reminder rows' ``entry_seq``)."""
    entering = (EventKind.opened.value, EventKind.advanced.value)
    return max(e["seq"] for e in repo.events_for(case_id) if e["kind"] in entering)


def _take(repo: Repository, case: Case, at: datetime) -> tuple[int, str]:
    head = repo.bump_version(case.id, case.version, at)
    if head is None:
        raise Conflict(
            _("case {id} was changed by someone else while you were acting; nothing was written. Look at 'indsats show {id}' and try again").format(id=case.id)
        )
    return head


def may_pause(repo: Repository, plan: Plan, case: Case, me: User, org: Organisation) -> bool:
    """Whoever must act now (or their deputy), the leaders above them (up to the plan's ceiling), or a supervisor."""
    if me.installation_role in PAUSE_ROLES:
        return True
    spec = plan.states[case.state].responsible
    owners = [] if spec is None else org.responsible(spec, CaseFacts.of(case))
    people = set(org.represented_by(me.login))
    if people & set(owners):
        return True
    return any(people & set(org.chain_above(owner, plan.escalation.ceiling, case.unit)) for owner in owners)


def _require_may_pause(repo: Repository, plan: Plan, case: Case, me: User, verb: str, clock: Clock) -> None:
    if not may_pause(repo, plan, case, me, organisation(repo, plan, clock)):
        raise NotAllowed(
            _("'{login}' ({role}) may not {verb} case {id}: only whoever must act in '{state}', the leaders above them, or a supervisor may").format(login=me.login, role=me.role, verb=verb, id=case.id, state=case.state)
        )
