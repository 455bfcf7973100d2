"""The coordinator's use cases: open a case, advance it, add a note. One unit of work each.

``advance`` reads and decides, then writes, in one transaction on the driver connection
(``read_first``); its first write succeeds only if the case's version is still the one it read: two
people acting on the same case at once cannot both win, and the loser is told so (``Conflict``)
instead of silently overwriting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log import journal

from indsats.engine.org.people import CaseFacts, Organisation
from indsats.engine.time.clock import to_local
from indsats.engine.log.events import ACTING, GENESIS, Draft, EventKind
from indsats.engine.plans.fields import check_fields
from indsats.engine.plans.machine import fire
from indsats.engine.plans.schema import Relation
from indsats.engine.cases.visits import enter_state, leave_state
from indsats.engine.cases.deadlines import (
    OPENED, deadlines_starting, meet_deadlines, rows as reminder_rows, started_payload, write_started,
)
from indsats.engine.plans.checks import unavoidable_states
from indsats.engine.reminders.planning import (
    PlannedReminder,
    acute_alerts,
    deadline_for,
    plan_reminders,
)
from indsats.engine.log.projection import planned_reminders, to_iso
from indsats.engine.org.users import User, require_actor
from indsats.engine.privacy.fingerprints import writing_cipher
from indsats.engine.cases.visibility import organisation, require_visible
from indsats.errors import Conflict, Invalid, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan, Transition
    from indsats.storage.repository import Repository



@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a command did to a case."""

    case_id: str
    trigger: str | None
    from_state: str | None
    state: str
    is_open: bool
    deadline: datetime | None
    event_seq: int
    # What a person reads: the plan's labels of the states and the trigger (the ids above are for scripts).
    from_label: str | None = None
    state_label: str | None = None
    trigger_label: str | None = None


def open_case(
    ctx: Context,
    *,
    actor: str,
    plan_id: str,
    subject_ref: str,
    source: str | None = None,
    minor: bool = False,
    note: str | None = None,
    reporter: str | None = None,
    flags: list[str] | None = None,
) -> Outcome:
    """Register a concern: a new case in the plan's initial state, its reminders planned.

    :param source: one of the plan's sources (default: its first).
    :param flags: the plan's flags that hold for this case (``minor`` is short for the flag ``minor``).
    :raises Invalid: also when a state every path to a final state passes through would have nobody to act.
    """
    plan_file = ctx.catalog.get(plan_id)
    plan = plan_file.plan
    source = source or next(iter(plan.sources))
    if source not in plan.sources:
        raise Invalid(_("plan '{id}' has no source '{source}' (sources: {value})").format(id=plan.id, source=source, value=', '.join(plan.sources)))
    set_flags = sorted({*(flags or []), *(["minor"] if minor else [])})
    for flag in set_flags:
        if flag not in plan.flags:
            known = ", ".join(plan.flags) or "none"
            raise Invalid(_("plan '{id}' asks no flag '{flag}' when a case opens (its flags: {known})").format(id=plan.id, flag=flag, known=known))
    if not subject_ref.strip():
        raise Invalid(_("a case needs a subject reference (--subject): the citizen's record id, not a name"))
    if reporter is not None and plan.sources[source].anonymous:
        raise Invalid(_("a concern from '{source}' stores no reporter identity: leave out --reporter").format(source=source))
    cipher = ctx.keys.cipher()  # the subject reference is never stored in the clear
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        org = organisation(repo, plan, ctx.clock)
        if not org.roles_of(me.login, me.unit) & set(plan.may_open):
            raise NotAllowed(
                _("'{login}' cannot open cases under plan '{id}' (roles that can: {value})").format(login=me.login, id=plan.id, value=', '.join(plan.may_open))
            )
        _require_someone_to_act(org, plan, CaseFacts(opener=me.login, unit=me.unit))
        now = ctx.clock.now()
        cipher = writing_cipher(repo, cipher, now)
        repo.ensure_plan(plan.id, plan.version, plan_file.text, now)
        year = to_local(now).year
        case_id = f"{plan.case_prefix}-{year}-{repo.next_case_number(plan.case_prefix, year):04d}"
        at = now.replace(microsecond=0)
        facts = CaseFacts(opener=me.login, unit=me.unit)
        deadline = deadline_for(plan, plan.initial, at, ctx.calendar)
        planned = plan_reminders(plan, plan.initial, deadline, _escalation_levels(repo, org, plan.initial, facts),
                                 ctx.calendar, entered_at=at)
        # What verify replays the case's row and reminder rows from (see indsats.engine.log.projection).
        payload: dict[str, Any] = {
            "subject_ref": subject_ref.strip(), "source": source, "minor": "minor" in set_flags, "plan_id": plan.id,
            "plan_version": plan.version, "unit": me.unit, **entered(deadline, planned),
        }
        if set_flags:
            payload["flags"] = set_flags
        if note:
            payload["note"] = note
        if reporter:
            payload["reporter"] = reporter
        starting = deadlines_starting(ctx, repo, plan, case_id, facts, started_by=OPENED, state=plan.initial, at=at)
        payload.update(started_payload(starting))
        repo.insert_case(
            dict(
                id=case_id,
                plan_id=plan.id,
                plan_version=plan.version,
                state=plan.initial,
                is_open=True,
                acute=False,
                minor="minor" in set_flags,
                flags=json.dumps(set_flags) if set_flags else None,
                source=source,
                subject_ref=cipher.seal(subject_ref.strip()),
                subject_index=cipher.index(subject_ref),
                opened_by=me.login,
                unit=me.unit,
                assignee=None,
                opened_at=at,
                state_entered_at=at,
                deadline=deadline,
                closed_at=None,
                escalation_level=0,
                reminders_sent=0,
                last_activity_at=at,
                paused_at=None,
                version=1,
                last_seq=0,
                last_hash=GENESIS,
            )
        )
        journal.append(
            repo,
            Draft(case_id=case_id, kind=EventKind.opened, at=at, actor=me.login, to_state=plan.initial, payload=payload),
            cipher=cipher, os_login=ctx.os_login,
        )
        repo.insert_reminders(reminder_rows(case_id, plan.initial, 1, planned))
        enter_state(repo, plan, case_id=case_id, entry_seq=1, state=plan.initial, at=at, deadline=deadline)
        write_started(repo, case_id, plan.initial, 1, at, starting)
        uow.commit()
    return Outcome(
        case_id=case_id, trigger=None, from_state=None, state=plan.initial, is_open=True, deadline=deadline, event_seq=1,
        state_label=plan.states[plan.initial].label,
    )


def advance(
    ctx: Context,
    *,
    actor: str,
    case_id: str,
    trigger: str,
    values: dict[str, str] | None = None,
    note: str | None = None,
) -> Outcome:
    """Fire ``trigger`` on a case: check state, actor, fields and prerequisites, then write it all at once."""
    values = values or {}
    # One transaction: read and decide, then write, the first write being the version check (see the module).
    with ctx.db.unit_of_work(write=True, read_first=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, plan = require_visible(ctx, repo, me, case_id)
        transition = plan.transition(trigger)
        if transition is None:
            fire(plan, case.state, trigger, case_id)  # raises Invalid naming the plan's triggers
        assert transition is not None
        if not case.is_open and not transition.after_close:
            raise Invalid(_("case {case_id} is closed (in '{state}'); nothing more can be fired on it").format(case_id=case_id, state=case.state))
        dest = fire(plan, case.state, trigger, case_id)
        if dest != case.state and case.paused_at is not None:
            since = to_local(case.paused_at).strftime("%Y-%m-%d %H:%M")
            raise Invalid(
                _("case {case_id} is paused since {since}: '{trigger}' would move it on; resume it first with 'indsats resume {case_id}'").format(case_id=case_id, since=since, trigger=trigger)
            )
        org = organisation(repo, plan, ctx.clock)
        facts = CaseFacts.of(case)
        acting_for = _require_allowed(repo, org, plan, transition, me, case)
        _require_separation(repo, transition, case, {me.login, acting_for})
        typed = check_fields(plan, transition, values)
        if transition.note_required and not (note and note.strip()):
            raise Invalid(_("'{trigger}' needs a note: add --note TEXT").format(trigger=trigger))
        _require_prerequisites(repo, transition, case)
        moved = dest != case.state
        final = plan.states[dest].final
        # Who the new state's reminders (or the acute alerts) climb to is read now, with everything else.
        levels = _escalation_levels(repo, org, dest, facts) if (moved and not final) or transition.marks_acute else 0
        payload: dict[str, Any] = {"fields": typed} if typed else {}
        if note:
            payload["note"] = note
        if acting_for != me.login:
            payload["acting_for"] = acting_for  # a deputy standing in: recorded as "deputy for person"
        sensitive = _sensitive_fields(plan, transition)
        cipher = ctx.keys.cipher() if journal.needs_key(payload, sensitive) else None
        at = ctx.clock.now().replace(microsecond=0)
        head = repo.bump_version(case_id, case.version, at)
        if head is None:
            raise Conflict(
                _("case {case_id} was changed by someone else while you were acting; nothing was written. Look at 'indsats show {case_id}' and try again").format(case_id=case_id)
            )
        entry_seq = head[0] + 1
        projection: dict[str, Any] = {}
        deadline = case.deadline
        planned: list[PlannedReminder] = []
        if moved:
            repo.cancel_pending(case_id, closing=final, outliving=plan.deadlines_outliving_closing())
            deadline = None if final else deadline_for(plan, dest, at, ctx.calendar)
            projection.update(
                state=dest,
                state_entered_at=at,
                deadline=deadline,
                escalation_level=0,
                is_open=not final,
                closed_at=at if final else None,
            )
            if not final:
                planned += plan_reminders(plan, dest, deadline, levels, ctx.calendar, entered_at=at)
                payload.update(entered(deadline, planned))
        if transition.marks_acute:
            projection["acute"] = True
            planned += acute_alerts(levels, at)
        starting = []
        if plan.case_deadlines and not final:
            starting = deadlines_starting(ctx, repo, plan, case_id, facts, started_by=trigger, state=dest,
                                          at=at)
            payload.update(started_payload(starting))
        event = journal.append(
            repo,
            Draft(
                case_id=case_id,
                kind=EventKind.advanced if moved else EventKind.recorded,
                at=at,
                actor=me.login,
                trigger=trigger,
                from_state=case.state,
                to_state=dest,
                payload=payload or None,
            ),
            cipher=cipher,
            sensitive=sensitive,
            case_changes=projection,
            head=head,
            os_login=ctx.os_login,
        )
        repo.insert_reminders(reminder_rows(case_id, dest, entry_seq, planned))
        if moved:  # time in state, counted once: the visit left, and the one entered
            leave_state(repo, plan, case, at, ctx.calendar)
            enter_state(repo, plan, case_id=case_id, entry_seq=entry_seq, state=dest, at=at, deadline=deadline)
        if plan.case_deadlines:
            meet_deadlines(repo, plan, case_id, trigger, at)
            write_started(repo, case_id, dest, entry_seq, at, starting)
        uow.commit()
    return Outcome(
        case_id=case_id,
        trigger=trigger,
        from_state=case.state,
        state=dest,
        is_open=not plan.states[dest].final,
        deadline=deadline,
        event_seq=event.seq,
        from_label=plan.states[case.state].label,
        state_label=plan.states[dest].label,
        trigger_label=transition.label or trigger,
    )


def add_note(ctx: Context, *, actor: str, case_id: str, text: str) -> Outcome:
    """Add a note to a case anyone who may see it may write; it does not change the state."""
    if not text.strip():
        raise Invalid(_("a note must not be empty"))
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_actor(repo, actor)
        case, _plan = require_visible(ctx, repo, me, case_id)
        now = ctx.clock.now().replace(microsecond=0)
        if not repo.update_case(
            case_id, {"version": case.version + 1, "last_activity_at": now}, expected_version=case.version
        ):
            raise Conflict(_("case {case_id} was changed by someone else at the same moment; try again").format(case_id=case_id))
        event = journal.append(
            repo,
            Draft(
                case_id=case_id,
                kind=EventKind.note,
                at=now,
                actor=me.login,
                from_state=case.state,
                to_state=case.state,
                payload={"note": text},
            ),
            cipher=cipher,
            os_login=ctx.os_login,
        )
        uow.commit()
    return Outcome(
        case_id=case_id,
        trigger=None,
        from_state=case.state,
        state=case.state,
        is_open=case.is_open,
        deadline=case.deadline,
        event_seq=event.seq,
    )


# (plan id, version, trigger) → the trigger's fields marked sensitive (a pinned version never changes).
_SENSITIVE: dict[tuple[str, str, str], frozenset[str]] = {}


def _sensitive_fields(plan: Plan, transition: Transition) -> frozenset[str]:
    key = (plan.id, plan.version, transition.trigger)
    found = _SENSITIVE.get(key)
    if found is None:
        found = _SENSITIVE[key] = frozenset(n for n, f in transition.fields.items() if f.sensitive)
    return found


# -- guards -----------------------------------------------------------------------------------------


def _require_allowed(
    repo: Repository, org: Organisation, plan: Plan, transition: Transition, me: User, case: Case
) -> str:
    """Whom ``me`` acts as when firing ``transition``: themselves, or the person they are deputy for."""
    needs_on_case = any(a.relation is Relation.on_case for a in transition.allowed)
    on_case = on_case_logins(repo, org, plan, case) if needs_on_case else set()  # a query: only when needed
    person = org.acting_as(transition.allowed, me.login, CaseFacts.of(case, on_case))
    if person is not None:
        return person
    who = " or ".join(a.describe() for a in transition.allowed)
    held = ", ".join(sorted(org.roles_of(me.login, case.unit))) or _("no role in plan '{plan}'").format(plan=plan.id)
    raise NotAllowed(
        _("'{trigger}' on case {id} may be fired only by {who}; '{login}' holds {held}").format(trigger=transition.trigger, id=case.id, who=who, login=me.login, held=held)
    )


def _require_separation(repo: Repository, transition: Transition, case: Case, people: set[str]) -> None:
    """``not_by``: refuse the person (or the one a deputy stands in for) who opened the case or fired those triggers."""
    if not transition.not_by:
        return
    events = repo.events_for(case.id)
    for rule in transition.not_by:
        if rule == "opener":
            earlier = {case.opened_by}
        else:
            earlier = set()
            for e in events:
                if e["trigger"] == rule and e["actor"]:
                    earlier.add(e["actor"])
                    payload = e["payload"] if isinstance(e["payload"], dict) else {}
                    if payload.get("acting_for"):
                        earlier.add(payload["acting_for"])
        if people & earlier:
            did = _("opened the case") if rule == "opener" else _("fired '{rule}'").format(rule=rule)
            raise NotAllowed(
                _("'{trigger}' on case {id} may not be fired by whoever {did} (separation of duties: not_by {rule})").format(trigger=transition.trigger, id=case.id, did=did, rule=rule)
            )


def case_flags(case: Case) -> list[str]:
    """The plan's flags set on a case when it opened."""
    if case.flags:
        return list(json.loads(case.flags))
    return ["minor"] if case.minor else []


def _require_prerequisites(repo: Repository, transition: Transition, case: Case) -> None:
    flags = case_flags(case)
    needed = [r for r in transition.requires if r.when is None or r.when in flags]
    recorded = repo.fired_triggers(case.id) if needed else set()
    for requirement in needed:
        if requirement.trigger not in recorded:
            raise Invalid(
                _("case {id} cannot '{trigger}' yet: record '{trigger2}' first ({reason})").format(id=case.id, trigger=transition.trigger, trigger2=requirement.trigger, reason=requirement.reason)
            )


def on_case_logins(repo: Repository, org: Organisation, plan: Plan, case: Case) -> set[str]:
    """Everyone on the case: who opened it, its caseworker, who acted on it, who must act now."""
    found = repo.case_actors(case.id, ACTING) | {case.opened_by}
    if case.assignee:
        found.add(case.assignee)
    state = plan.states[case.state]
    if state.responsible is not None and case.is_open:
        found |= set(org.responsible(state.responsible, CaseFacts.of(case)))
    return found


def _require_someone_to_act(org: Organisation, plan: Plan, facts: CaseFacts) -> None:
    """Refuse a case that would stop for good: a state every path to a final state passes through, with
    nobody in today's organisation who could act in it for this opener."""
    for name in unavoidable_states(plan):
        spec = plan.states[name].responsible
        if spec is None or org.responsible(spec, facts):
            continue
        if spec.relation in (Relation.opener_leader, Relation.opener_leader_leader) and org.leader_of(facts.opener) is None:
            why = _("'{login}' has no active leader registered (an admin sets one: indsats users edit {login} "
                    "--reports-to LOGIN)").format(login=facts.opener)
        elif spec.role is not None:
            why = (_("nobody holds the role '{role}' in plan '{plan}' for unit '{unit}'") if facts.unit else
                   _("nobody holds the role '{role}' in plan '{plan}'")).format(role=spec.role, plan=plan.id, unit=facts.unit)
        else:
            why = _("nobody stands as {who} to '{login}'").format(who=spec.describe(), login=facts.opener)
        raise Invalid(_("a case opened now would stop in '{name}' with nobody to act: {why}; nothing was written").format(name=name, why=why))


# -- reminders on entering a state --------------------------------------------------------------------


def entered(deadline: datetime | None, planned: list[PlannedReminder]) -> dict[str, Any]:
    """What an event entering a state records: the deadline it set and the reminder rows it planned."""
    return {"deadline": to_iso(deadline), "reminders": planned_reminders(planned)}


def _escalation_levels(repo: Repository, org: Organisation, state: str, facts: CaseFacts) -> int:
    """How many leaders above whoever must act in ``state`` reminders may climb to."""
    spec = org.plan.states[state].responsible
    owners = [] if spec is None else org.responsible(spec, facts)
    repo.load_chains(owners)
    return org.escalation_levels(owners, facts.unit)
