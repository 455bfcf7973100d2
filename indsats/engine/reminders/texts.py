"""The text of reminder e-mails, in the installation's language. Pure: values in, a subject and a body out.

An e-mail leaves the building, so it carries the case id, the state, the responsible role, how late,
the action card and the exact command to move on — never the subject reference, notes, field values
or anybody's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from indsats.engine.plans.wording import duration_text, relation_text
from indsats.engine.time.clock import to_local
from indsats.i18n import N_, _, language

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Actor, Plan

# The acute alert's subject and text are the plan's own (``acute_alert``).
SUBJECTS = {
    "notice": N_("New task: case {case_id} – {state_label} – deadline {deadline}"),
    "warning": N_("Deadline approaching: case {case_id} – {state_label} – {lateness}"),
    "reminder": N_("Reminder: case {case_id} – {state_label} – {lateness}"),
    "escalation": N_("Escalation (level {level}): case {case_id} – {state_label} – {lateness}"),
}

INTRO = {
    "notice": N_("The case is now yours: you are responsible for the next step, and the deadline is {deadline}."),
    "warning": N_("You are responsible for the next step in this case, and the deadline runs out {lateness_long}."),
    "reminder": N_("You are responsible for the next step in this case, and the deadline is {lateness_long}."),
    "escalation": N_(
        "You receive this message because you are a leader (level {level}) above the one who must act, "
        "and the step has not been done. Follow up so that the case moves on."
    ),
}

# Retssikkerhedsloven § 3, stk. 2: a published processing time that will be missed must be explained in writing.
PUBLISHED = N_(
    "The deadline is published (retssikkerhedsloven § 3, stk. 2). If it cannot be kept, the citizen must be "
    "told in writing when the decision can be expected."
)

BODY = N_("""{intro}

Case:        {case_id} ({plan_title})
Step:        {state_label}
Responsible: {responsible_role}
Deadline:    {deadline} ({deadline_rule})
Status:      {lateness_long}

Action card for the step:
{action_card}

Next step for the one responsible:
{commands}

See the case: indsats show {case_id}

This message deliberately holds no information about the citizen. Do not reply to it; use indsats.
""")


@dataclass(frozen=True, kw_only=True)
class RenderedMessage:
    subject: str
    body: str


@dataclass(frozen=True, kw_only=True)
class DeadlineText:
    """What the message says about the deadline it is about: a state's, or a case deadline's."""

    label: str | None = None  # a case deadline's label; None for the state's own deadline
    rule: str | None = None  # as the plan states it, e.g. "6 working days"
    working: bool = False
    published: bool = False
    met_by: str | None = None  # the trigger that meets a case deadline


@dataclass(frozen=True, kw_only=True)
class _Frame:
    """What a message says that depends only on the plan version, the state, the kind, the deadline it is
    about, who is responsible, whether it is late and the language: worked out once, reused by every message."""

    commands: tuple[str, ...]  # each " TRIGGER --set FIELD=…" of a command that moves the case on
    no_commands: str
    time_kind: str
    late_short: str
    late_long: str
    label: str
    responsible_role: str
    deadline_format: str
    no_deadline: str
    deadline_rule: str
    action_card: str
    subject: str
    intro: str
    published: str | None  # the published-deadline paragraph, where it is added
    body: str


def render(
    *,
    plan: Plan,
    case_id: str,
    state: str,
    kind: str,
    level: int,
    responsible: Actor | None,
    deadline: datetime | None,
    lateness: str,
    overdue: bool,
    about: DeadlineText | None = None,
) -> RenderedMessage:
    """Render one notice, warning, reminder, escalation or acute alert."""
    who = None if responsible is None else (responsible.role, responsible.relation)
    key = (language(), plan.id, plan.version, state, kind, who, overdue, about)
    found = _TEMPLATES.get(key)
    if found is None:
        if len(_TEMPLATES) > 4096:
            _TEMPLATES.clear()
        found = _TEMPLATES[key] = _templates(_frame(plan, state, kind, responsible, overdue, about), plan.title)
    subject, body, deadline_format, no_deadline = found
    values = {
        "case_id": case_id,
        "level": level,
        "lateness": lateness,
        "deadline": to_local(deadline).strftime(deadline_format) if deadline else no_deadline,
    }
    return RenderedMessage(subject=subject.format_map(values), body=body.format_map(values))


# What differs from one message to the next of a frame; everything else is written into its templates.
_VARIABLE = ("case_id", "level", "lateness", "deadline")
_MARK = {name: f"\x00{name}\x00" for name in _VARIABLE}
_TEMPLATES: dict[tuple[object, ...], tuple[str, str, str, str]] = {}


def _templates(frame: _Frame, plan_title: str) -> tuple[str, str, str, str]:
    """The frame's subject and body as format strings over ``_VARIABLE`` alone: rendered once with a marker
    in place of each variable, then every other brace escaped and each marker made a field again."""
    subject, body = _compose(frame, plan_title, **_MARK)

    def template(text: str) -> str:
        text = text.replace("{", "{{").replace("}", "}}")
        for name, mark in _MARK.items():
            text = text.replace(mark, "{" + name + "}")
        return text

    return template(subject), template(body), frame.deadline_format, frame.no_deadline


def _compose(frame: _Frame, plan_title: str, *, case_id: str, level: object, lateness: str,
             deadline: str) -> tuple[str, str]:
    """A message's subject and body from its frame and the values that differ per message."""
    commands = "\n".join(f"  indsats advance {case_id} {c}" for c in frame.commands) or frame.no_commands
    values = dict(
        case_id=case_id,
        plan_title=plan_title,
        state_label=frame.label,
        level=level,
        lateness=frame.late_short.format(lateness=lateness),
        lateness_long=frame.late_long.format(lateness=lateness, time_kind=frame.time_kind),
        responsible_role=frame.responsible_role,
        deadline=deadline,
        deadline_rule=frame.deadline_rule,
        action_card=frame.action_card,
        commands=commands,
    )
    intro = frame.intro.format(**values)
    if frame.published is not None:
        intro += "\n\n" + frame.published
    return frame.subject.format(**values), frame.body.format(intro=intro, **values)


def _frame(plan: Plan, state: str, kind: str, responsible: Actor | None, overdue: bool,
           about: DeadlineText | None) -> _Frame:
    s = plan.states[state]
    about = about or DeadlineText(rule=s.deadline, working=_working(plan, state), published=s.published)
    commands = []
    for t in plan.transitions_from(state):
        if about.met_by is not None and t.trigger != about.met_by:
            continue
        if about.met_by is None and (t.dest is None or t.dest == state):
            continue
        sets = "".join(f" --set {name}=…" for name, f in t.fields.items() if f.required)
        commands.append(f"{t.trigger}{sets}")
    label = s.label if about.label is None else _("{label} (a deadline for the case; step now: {state})").format(
        label=about.label, state=s.label)
    if kind == "acute":
        alert = plan.acute_alert
        subject = alert.subject if alert else _("ACUTE: case {case_id}")
        intro = alert.text if alert else ""
        published = None
    else:
        subject, intro = _(SUBJECTS[kind]), _(INTRO[kind])
        published = _(PUBLISHED) if about.published and kind in ("warning", "reminder", "escalation") else None
    return _Frame(
        commands=tuple(commands),
        no_commands=_("  (none)"),
        time_kind=_("working time") if about.working else _("calendar time"),
        late_short=_("{lateness} past the deadline") if overdue else _("{lateness} to the deadline"),
        late_long=_("exceeded by {lateness} ({time_kind})") if overdue else _("in {lateness}"),
        label=label,
        responsible_role=_who(plan, responsible),
        deadline_format=_("%d-%m-%Y at %H:%M"),
        no_deadline=_("none"),
        deadline_rule=duration_text(about.rule),
        action_card="\n".join(f"  [ ] {item}" for item in s.action_card) or _("  (no action card)"),
        subject=subject,
        intro=intro,
        published=published,
        body=_(BODY),
    )


def _who(plan: Plan, actor: Actor | None) -> str:
    if actor is None:
        return _("nobody")
    if actor.role is not None:
        return plan.roles.get(actor.role, actor.role)
    assert actor.relation is not None
    return relation_text(actor.relation.value)


def _working(plan: Plan, state: str) -> bool:
    duration = plan.deadline_of(state)
    return duration is not None and duration.working
