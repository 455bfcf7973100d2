"""What was recorded on a case, as a person reads it: the notes, and the fields each trigger recorded (the
assessment, the decision) under the plan's labels, with values as a person writes them (yes/no, a choice's
label, a date, concern signs by their labels), never Python literals.

``case_record`` picks, from a case's events, those that carry a note or fields (``show``); ``event_details``
renders the rest of an event's payload for ``history``. Both are pure: they take the plan and the events.
``read_history`` is the ``history`` use case for people: the events (``viewed`` rows only when asked) with
their details, the read logged like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import Event, EventKind
from indsats.engine.plans.schema import FieldType
from indsats.engine.time.clock import to_local
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import FieldSpec, Plan

# Payload keys that are not details: the note has its own column, the planned reminders (a state's, the case
# deadlines', those a change of chain cancelled) are for verify, the deputy's principal is shown with the actor.
NOT_DETAILS = frozenset({"note", "reminders", "case_deadlines", "cancelled_reminders", "acting_for", "fields"})
# A payload key's words (translated where shown); a key not named here is shown as its name.
KEY_WORDS = {
    "subject_ref": N_("subject"), "os_login": N_("OS login"), "plan_id": N_("plan"), "plan_version": N_("plan version"),
    "source": N_("source"), "minor": N_("minor"), "unit": N_("unit"), "deadline": N_("deadline"),
    "flags": N_("flags"), "reporter": N_("reporter"), "assignee": N_("assignee"),
    "held_reminders": N_("held reminders"), "from": N_("from"), "to": N_("to"), "duties": N_("duties"),
    "levels": N_("levels"), "archive": N_("archive"), "command": N_("command"), "via": N_("via"),
    "reminder_id": N_("reminder id"), "level": N_("level"), "kind": N_("kind"), "recipients": N_("recipients"),
    "attempts": N_("attempts"), "error": N_("error"), "paused_at": N_("paused at"),
    "paused_seconds": N_("paused seconds"), "shifted_reminders": N_("shifted reminders"),
}
# Payload keys whose values are words of the log (marked with N_ where they are written): shown translated.
WORD_VALUES = frozenset({"duties"})
# What each kind of event is called where a person reads it (``show``, ``history``, the web view's case page).
KIND_WORDS = {
    EventKind.opened: N_("Opened"),
    EventKind.advanced: N_("Moved on"),
    EventKind.recorded: N_("Recorded"),
    EventKind.note: N_("Note"),
    EventKind.assigned: N_("Caseworker named"),
    EventKind.handed_over: N_("Handed over"),
    EventKind.rechained: N_("Escalations re-planned"),
    EventKind.reminder_sent: N_("Reminder sent"),
    EventKind.escalated: N_("Escalated"),
    EventKind.delivery_failed: N_("Reminder not delivered"),
    EventKind.viewed: N_("Viewed"),
    EventKind.paused: N_("Paused"),
    EventKind.resumed: N_("Resumed"),
    EventKind.archived: N_("Archived"),
    EventKind.purged: N_("Personal data deleted"),
}


def kind_text(kind: EventKind | str) -> str:
    """The words for a kind of event, in the reader's language (an unknown kind: its name)."""
    try:
        words = KIND_WORDS.get(EventKind(kind))
    except ValueError:
        words = None
    return str(kind.value if isinstance(kind, EventKind) else kind) if words is None else _(words)


@dataclass(frozen=True, kw_only=True)
class Detail:
    """One recorded value: its name, its label (the plan's, for a field) and its value as a person writes it."""

    name: str
    label: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One event that recorded something: a note, a trigger's fields, or both."""

    seq: int
    at: datetime
    actor: str | None
    kind: str
    trigger: str | None
    # What a person reads for the event: the plan's label of its trigger, or (no trigger) the kind in words.
    trigger_label: str | None
    note: str | None
    fields: list[Detail]
    kind_label: str = ""  # the kind in words ("Notat", "Oprettet")


@dataclass(frozen=True, kw_only=True)
class HistoryRow:
    """An event of ``history``, with its details (fields under their labels, then the rest) as text."""

    seq: int
    at: datetime
    kind: str
    actor: str | None
    acting_for: str | None
    trigger: str | None
    from_state: str | None
    to_state: str | None
    note: str | None
    details: list[Detail]
    # The same in words, in the reader's language: the kind, the plan's labels of the trigger and the states.
    kind_label: str = ""
    trigger_label: str | None = None
    from_label: str | None = None
    to_label: str | None = None
    fields: list[Detail] = field(default_factory=list)  # the trigger's fields only (the first of ``details``)


def yes_no(value: bool) -> str:
    """How a yes/no reads."""
    return _("yes") if value else _("no")


def value_text(plan: Plan, spec: FieldSpec | None, value: Any) -> str:
    """A field's value as a person writes it: yes/no, a choice's label, a date, signs by their labels."""
    if spec is not None and spec.type is FieldType.yes_no and isinstance(value, str):
        return yes_no(value == "yes")
    if spec is not None and spec.type is FieldType.choice and isinstance(value, str):
        return spec.options.get(value, value)
    if isinstance(value, dict) and (spec is None or spec.type is FieldType.signs):
        return _signs_text(plan, value)
    return plain_text(value)


def plain_text(value: Any) -> str:
    """Any other recorded value: booleans as yes/no, instants in Copenhagen time, lists joined."""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, datetime):
        return to_local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        instant = _instant(value)
        return value if instant is None else to_local(instant).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {plain_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _instant(text: str) -> datetime | None:
    """An ISO instant with its offset (as the log stores deadlines); a date or any other text is not one."""
    if len(text) < 19 or text[10:11] != "T":
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _signs_text(plan: Plan, signs: dict[str, Any]) -> str:
    categories = {c.id: c.label for c in plan.concern_signs.categories} if plan.concern_signs else {}
    strengths = plan.concern_signs.strengths if plan.concern_signs else {}
    return ", ".join(f"{categories.get(k, k)}: {strengths.get(str(v), str(v))}" for k, v in signs.items())


def field_details(plan: Plan, trigger: str | None, fields: dict[str, Any]) -> list[Detail]:
    """A trigger's recorded fields in the plan's order, under the plan's labels."""
    transition = plan.transition(trigger) if trigger else None
    specs = dict(transition.fields) if transition is not None else {}
    order = [n for n in specs if n in fields] + [n for n in fields if n not in specs]
    return [
        Detail(name=n, label=specs[n].label if n in specs else n, text=value_text(plan, specs.get(n), fields[n]))
        for n in order
    ]


def event_details(plan: Plan, event: Event) -> list[Detail]:
    """What an event recorded, besides its note: its fields first, then the rest of its payload."""
    payload = event.payload or {}
    details = field_details(plan, event.trigger, payload.get("fields") or {})
    for key, value in payload.items():
        if key in NOT_DETAILS or value is None or value == "" or value == []:
            continue
        words = KEY_WORDS.get(key)
        if key in WORD_VALUES and isinstance(value, list):
            text = ", ".join(_(str(v)) for v in value)
        elif key == "source" and isinstance(value, str) and value in plan.sources:
            text = plan.sources[value].label  # the plan's word for where the concern came from
        else:
            text = plain_text(value)
        details.append(Detail(name=key, label=key.replace("_", " ") if words is None else _(words), text=text))
    return details


def case_record(plan: Plan, events: list[Event]) -> list[Entry]:
    """The events that recorded a note or fields, oldest first: what ``show`` gives those who may read it."""
    entries = []
    for event in events:
        payload = event.payload or {}
        note = payload.get("note")
        fields = payload.get("fields") or {}
        if not note and not fields:
            continue
        kind = kind_text(event.kind)
        entries.append(Entry(
            seq=event.seq, at=event.at, actor=event.actor, kind=event.kind.value, trigger=event.trigger,
            trigger_label=trigger_text(plan, event.trigger) if event.trigger else kind, note=note or None,
            fields=field_details(plan, event.trigger, fields), kind_label=kind,
        ))
    return entries


def trigger_text(plan: Plan, trigger: str) -> str:
    """The plan's label of a trigger (one it no longer has: its id)."""
    transition = plan.transition(trigger)
    return trigger if transition is None else transition.label


def state_text(plan: Plan, state: str | None) -> str | None:
    """The plan's label of a state (one it no longer has: its id)."""
    if state is None:
        return None
    found = plan.states.get(state)
    return state if found is None else found.label


def history_rows(plan: Plan, events: list[Event], *, views: bool = False) -> list[HistoryRow]:
    """The events as ``history`` shows them to people: ``viewed`` rows only if ``views``, each with its details
    and its words (kind, trigger and states under the plan's labels)."""
    rows = []
    for e in events:
        if e.kind is EventKind.viewed and not views:
            continue
        payload = e.payload or {}
        rows.append(HistoryRow(
            seq=e.seq, at=e.at, kind=e.kind.value, actor=e.actor, acting_for=payload.get("acting_for"),
            trigger=e.trigger, from_state=e.from_state, to_state=e.to_state, note=payload.get("note") or None,
            details=event_details(plan, e), kind_label=kind_text(e.kind),
            trigger_label=trigger_text(plan, e.trigger) if e.trigger else None,
            from_label=state_text(plan, e.from_state), to_label=state_text(plan, e.to_state),
            fields=field_details(plan, e.trigger, payload.get("fields") or {}),
        ))
    return rows


def read_history(ctx: Context, *, actor: str, case_id: str, views: bool = False,
                 via: str | None = None) -> list[HistoryRow]:
    """The ``history`` of a case for people: every event but the ``viewed`` ones (unless ``views``), each with
    its details; the read is logged as a ``viewed`` event, as ``case_history`` logs it (``via``: the door)."""
    from indsats.engine.cases.views import read_events

    plan, events = read_events(ctx, actor=actor, case_id=case_id, via=via)
    return history_rows(plan, events, views=views)
