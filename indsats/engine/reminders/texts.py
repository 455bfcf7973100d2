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
    from indsats.engine.plans.schema import Plan

SUBJECTS = {
    "reminder": "Påmindelse: sag {case_id} – {state_label} – {lateness}",
    "escalation": "Eskalering (niveau {level}): sag {case_id} – {state_label} – {lateness}",
    "acute": "AKUT: sag {case_id} – politiet er kontaktet (112/114)",
}

INTRO = {
    "reminder": "Du er ansvarlig for det næste skridt i denne sag, og fristen er {lateness_long}.",
    "escalation": (
        "Du modtager denne besked, fordi du er leder (niveau {level}) over den, der skal handle, "
        "og trinnet ikke er gennemført. Følg op, så sagen kommer videre."
    ),
    "acute": (
        "Der er registreret en akut situation på sagen: politiet er kontaktet på 112/114. "
        "Hele kæden får denne besked på én gang. Tag kontakt med det samme."
    ),
}

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


def render(
    *,
    plan: Plan,
    case_id: str,
    state: str,
    kind: str,
    level: int,
    responsible_role: str,
    deadline: datetime | None,
    lateness: str,
    overdue: bool,
) -> RenderedMessage:
    """Render one reminder, escalation or acute alert."""
    s = plan.states[state]
    commands = []
    for t in plan.transitions_from(state):
        if t.dest is None or t.dest == state:
            continue
        sets = "".join(f" --set {name}=…" for name, f in t.fields.items() if f.required)
        commands.append(f"  indsats advance {case_id} {t.trigger}{sets}")
    late_short = f"{lateness} over fristen" if overdue else f"{lateness} til fristen"
    late_long = f"overskredet med {lateness} ({_time_kind(plan, state)})" if overdue else f"om {lateness}"
    values = dict(
        case_id=case_id,
        plan_title=plan.title,
        state_label=s.label,
        level=level,
        lateness=late_short,
        lateness_long=late_long,
        responsible_role=plan.roles.get(responsible_role, responsible_role),
        deadline=to_local(deadline).strftime("%d-%m-%Y kl. %H:%M") if deadline else "ingen",
        deadline_rule=s.deadline or "",
        action_card="\n".join(f"  [ ] {item}" for item in s.action_card) or "  (intet handlekort)",
        commands="\n".join(commands) or "  (ingen)",
    )
    intro = INTRO[kind].format(**values)
    return RenderedMessage(subject=SUBJECTS[kind].format(**values), body=BODY.format(intro=intro, **values))


def _time_kind(plan: Plan, state: str) -> str:
    duration = plan.deadline_of(state)
    return "arbejdstid" if duration is not None and duration.working else "kalendertid"
