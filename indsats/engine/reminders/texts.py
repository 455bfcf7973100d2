"""The Danish text of reminder e-mails. Pure: values in, a subject and a body out.

An e-mail leaves the building, so it carries the case id, the state, the responsible role, how late,
the action card and the exact command to move on — never the subject reference, notes, field values
or anybody's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from indsats.engine.time.clock import to_local

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Actor, Plan

# The acute alert's subject and text are the plan's own (``acute_alert``).
SUBJECTS = {
    "notice": "Ny opgave: sag {case_id} – {state_label} – frist {deadline}",
    "warning": "Fristen nærmer sig: sag {case_id} – {state_label} – {lateness}",
    "reminder": "Påmindelse: sag {case_id} – {state_label} – {lateness}",
    "escalation": "Eskalering (niveau {level}): sag {case_id} – {state_label} – {lateness}",
}

INTRO = {
    "notice": "Sagen er nu hos dig: du er ansvarlig for det næste skridt, og fristen er {deadline}.",
    "warning": "Du er ansvarlig for det næste skridt i denne sag, og fristen udløber {lateness_long}.",
    "reminder": "Du er ansvarlig for det næste skridt i denne sag, og fristen er {lateness_long}.",
    "escalation": (
        "Du modtager denne besked, fordi du er leder (niveau {level}) over den, der skal handle, "
        "og trinnet ikke er gennemført. Følg op, så sagen kommer videre."
    ),
}

# Who must act, when the plan names a relation rather than one of its roles.
RELATIONS = {
    "opener": "den, der oprettede sagen",
    "opener_leader": "nærmeste leder for den, der oprettede sagen",
    "opener_leader_leader": "lederens nærmeste leder",
    "assignee": "sagsbehandleren på sagen",
    "on_case": "en, der er på sagen",
}

# Retssikkerhedsloven § 3, stk. 2: a published processing time that will be missed must be explained in writing.
PUBLISHED = (
    "\n\nFristen er offentliggjort (retssikkerhedsloven § 3, stk. 2). Kan den ikke overholdes, skal borgeren "
    "skriftligt have besked om, hvornår afgørelsen kan forventes."
)

BODY = """{intro}

Sag:        {case_id} ({plan_title})
Trin:       {state_label}
Ansvarlig:  {responsible_role}
Frist:      {deadline} ({deadline_rule})
Status:     {lateness_long}

Handlekort for trinnet:
{action_card}

Næste skridt for den ansvarlige:
{commands}

Se sagen:   indsats show {case_id}

Denne besked indeholder med vilje ingen oplysninger om borgeren. Svar ikke på den; brug indsats.
"""


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
    s = plan.states[state]
    about = about or DeadlineText(rule=s.deadline, working=_working(plan, state), published=s.published)
    commands = []
    for t in plan.transitions_from(state):
        if about.met_by is not None and t.trigger != about.met_by:
            continue
        if about.met_by is None and (t.dest is None or t.dest == state):
            continue
        sets = "".join(f" --set {name}=…" for name, f in t.fields.items() if f.required)
        commands.append(f"  indsats advance {case_id} {t.trigger}{sets}")
    time_kind = "arbejdstid" if about.working else "kalendertid"
    late_short = f"{lateness} over fristen" if overdue else f"{lateness} til fristen"
    late_long = f"overskredet med {lateness} ({time_kind})" if overdue else f"om {lateness}"
    label = s.label if about.label is None else f"{about.label} (frist for sagen; trin nu: {s.label})"
    values = dict(
        case_id=case_id,
        plan_title=plan.title,
        state_label=label,
        level=level,
        lateness=late_short,
        lateness_long=late_long,
        responsible_role=_who(plan, responsible),
        deadline=to_local(deadline).strftime("%d-%m-%Y kl. %H:%M") if deadline else "ingen",
        deadline_rule=about.rule or "",
        action_card="\n".join(f"  [ ] {item}" for item in s.action_card) or "  (intet handlekort)",
        commands="\n".join(commands) or "  (ingen)",
    )
    if kind == "acute":
        alert = plan.acute_alert
        subject = alert.subject if alert else "AKUT: sag {case_id}"
        intro = alert.text if alert else ""
        return RenderedMessage(subject=subject.format(**values), body=BODY.format(intro=intro.format(**values), **values))
    intro = INTRO[kind].format(**values)
    if about.published and kind in ("warning", "reminder", "escalation"):
        intro += PUBLISHED
    return RenderedMessage(subject=SUBJECTS[kind].format(**values), body=BODY.format(intro=intro, **values))


def _who(plan: Plan, actor: Actor | None) -> str:
    if actor is None:
        return "ingen"
    if actor.role is not None:
        return plan.roles.get(actor.role, actor.role)
    assert actor.relation is not None
    return RELATIONS.get(actor.relation.value, actor.relation.value)


def _working(plan: Plan, state: str) -> bool:
    duration = plan.deadline_of(state)
    return duration is not None and duration.working
