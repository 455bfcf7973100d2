"""The plan as the municipal template lays it out, for print and approval: Markdown or self-contained HTML.

Sections follow the template's own order, from Situation to Action cards; Kontaktoplysninger is filled
from the installation's registered users by role (the plan file itself names no people).

>>> text = export_plan(plan, {"fagspecialist": [ContactInfo(name="A. Specialist", email="a@example.org")]}, "md")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan, State, Transition

FORMATS = ("md", "html")
NONE_REGISTERED = "(ingen registreret)"


@dataclass(frozen=True, kw_only=True)
class ContactInfo:
    """A registered person to contact for a role: name and e-mail."""

    name: str
    email: str | None


# A section is a list of blocks: ("h3"|"h4"|"p"|"prose", text) or ("ul", items).
Block = tuple[str, "str | list[str]"]


def _prose(text: str) -> list[Block]:
    return [("prose", text)] if text.strip() else [("p", "(intet angivet)")]


def _situation(plan: Plan) -> list[Block]:
    blocks = _prose(plan.sections.situation)
    signs = plan.concern_signs
    if signs is None:
        return blocks
    blocks.append(("h3", "Bekymringstegn"))
    if signs.guidance:
        blocks.extend(_prose(signs.guidance))
    for category in signs.categories:
        blocks.append(("p", f"{category.label} ({category.id})"))
        if category.examples:
            blocks.append(("ul", list(category.examples)))
    strengths = ", ".join(f"{label} ({key})" for key, label in signs.strengths.items())
    blocks.append(("p", f"Styrke: {strengths}"))
    return blocks


def _contacts(plan: Plan, contacts_by_role: dict[str, list[ContactInfo]]) -> list[Block]:
    if not plan.contacts:
        return [("p", "(planen nævner ingen kontakter)")]
    blocks: list[Block] = []
    for contact in plan.contacts:
        unit = f", {contact.unit}" if contact.unit else ""
        blocks.append(("p", f"{contact.label} (rolle: {contact.role}{unit})"))
        people = contacts_by_role.get(contact.role, [])
        items = [f"{p.name}, {p.email or 'ingen e-mail'}" for p in people] or [NONE_REGISTERED]
        blocks.append(("ul", items))
    return blocks


def _revision(plan: Plan) -> list[Block]:
    r = plan.revision
    items = [
        f"Udarbejdet af: {r.author}" + (f", {r.written_on.isoformat()}" if r.written_on else ""),
        f"Godkendt af: {r.approved_by or '(ikke angivet)'}",
        f"Godkendt den: {r.approved_on.isoformat() if r.approved_on else '(ikke godkendt)'}",
        f"Næste revision senest: {due.isoformat() if (due := r.due_on()) else '(ukendt: planen er ikke godkendt)'}"
        f" (hvert {r.interval_years}. år)",
        f"Version: {plan.version}",
    ]
    return [("ul", items)]


def _reminder_text(plan: Plan, state: State) -> str:
    if state.reminder is None:
        return "Påmindelse/eskalering: ingen"
    return (
        f"Påmindelse/eskalering: påmindelse ved fristen; derefter eskalering én leder op ad gangen efter "
        f"{state.reminder.escalate_after} pr. niveau, op til {plan.escalation.ceiling}; gentages hver {state.reminder.repeat}"
    )


def _state_card(plan: Plan, name: str, state: State) -> list[Block]:
    blocks: list[Block] = [("h3", f"{state.label} ({name})")]
    if state.description:
        blocks.append(("p", state.description))
    if state.final:
        blocks.append(("p", "Afsluttende tilstand: ingen frist, ingen påmindelser."))
    else:
        who = state.responsible.describe() if state.responsible else "(ingen)"
        blocks.append(("ul", [f"Hvem skal handle: {who}", f"Frist: {_deadline_text(state.deadline, state)}",
                              _reminder_text(plan, state)]))
    if state.action_card:
        blocks.append(("p", "Tjekliste:"))
        blocks.append(("ul", [f"[ ] {item}" for item in state.action_card]))
    moves = [t.trigger for t in plan.transitions_from(name)]
    if moves:
        blocks.append(("p", f"Mulige triggers: {', '.join(moves)}"))
    return blocks


def _trigger_card(t: Transition) -> list[Block]:
    source = "enhver åben tilstand" if "*" in t.source else ", ".join(t.source)
    dest = t.dest or "(registreres; tilstanden er uændret)"
    items = [
        f"Fra: {source}",
        f"Til: {dest}",
        f"Hvem må udføre: {' eller '.join(a.describe() for a in t.allowed)}",
    ]
    for field_name, spec in t.fields.items():
        options = f": {', '.join(spec.options)}" if spec.options else ""
        required = "påkrævet" if spec.required else "valgfri"
        items.append(f"Felt {field_name} ({spec.type.value}{options}, {required}): {spec.label}")
    if t.note_required:
        items.append("Note: påkrævet")
    for req in t.requires:
        when = " (kun for mindreårige)" if req.when == "minor" else ""
        items.append(f"Kræver først: {req.trigger}{when}: {req.reason}")
    if t.help:
        items.append(t.help)
    return [("h4", f"{t.label} ({t.trigger})"), ("ul", items)]


def _deadline_text(within: str | None, spec: Any) -> str:
    """A deadline with what qualifies it: statutory, published, when the warning comes."""
    notes = [
        "lovbestemt: kun de dage, loven lukker, tælles" if spec.statutory else "",
        "offentliggjort frist (retssikkerhedsloven § 3, stk. 2)" if spec.published else "",
        f"varsel {spec.warn_before} før" if spec.warn_before else "",
    ]
    shown = "; ".join(n for n in notes if n)
    return f"{within}" + (f" ({shown})" if shown else "")


def _case_deadlines(plan: Plan) -> list[Block]:
    if not plan.case_deadlines:
        return []
    blocks: list[Block] = [("h3", "Frister for hele sagen")]
    for name, d in plan.case_deadlines.items():
        start = "sagen oprettes" if d.start == "opened" else f"'{d.start}'"
        who = d.responsible.describe() if d.responsible else "den, der skal handle i sagens tilstand"
        blocks.append(("ul", [f"{d.label} ({name}): {_deadline_text(d.within, d)}",
                              f"Regnes fra: {start}; overholdt ved '{d.met_by}'", f"Hvem skal handle: {who}"]))
    return blocks


def _action_cards(plan: Plan) -> list[Block]:
    blocks: list[Block] = _case_deadlines(plan)
    for name, state in plan.states.items():
        blocks.extend(_state_card(plan, name, state))
    blocks.append(("h3", "Triggers"))
    for t in plan.transitions:
        blocks.extend(_trigger_card(t))
    return blocks


def document(plan: Plan, contacts_by_role: dict[str, list[ContactInfo]]) -> list[tuple[str, list[Block]]]:
    """The plan's sections in the template's order: (heading, blocks)."""
    s = plan.sections
    return [
        ("Situation", _situation(plan)),
        ("Alarmering", _prose(s.alarmering)),
        ("Opgaver", _prose(s.opgaver)),
        ("Handling", _prose(s.handling)),
        ("Ledelse og organisation", _prose(s.ledelse_og_organisation)),
        ("Bemanding og udstyr", _prose(s.bemanding_og_udstyr)),
        ("Kommunikation", _prose(s.kommunikation)),
        ("Kontaktoplysninger", _contacts(plan, contacts_by_role)),
        ("Evt. andre opmærksomhedspunkter", _prose(s.andre_opmaerksomhedspunkter)),
        ("Oprettelse/revision", _revision(plan)),
        ("Action cards", _action_cards(plan)),
    ]


# -- rendering -------------------------------------------------------------------------------------


def _prose_parts(text: str) -> list[tuple[str, str | list[str]]]:
    """Split plan prose into paragraphs and '- ' lists (continuation lines join the item above)."""
    parts: list[tuple[str, str | list[str]]] = []
    for chunk in text.strip().split("\n\n"):
        lines = [line.strip() for line in chunk.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- ") or not items:
                    items.append(line.removeprefix("- "))
                else:
                    items[-1] += " " + line
            parts.append(("ul", items))
        else:
            parts.append(("p", " ".join(lines)))
    return parts


def to_markdown(plan: Plan, sections: list[tuple[str, list[Block]]]) -> str:
    out = [f"# {plan.title}", "", f"Plan `{plan.id}`, version {plan.version}", ""]
    for heading, blocks in sections:
        out += [f"## {heading}", ""]
        for kind, value in blocks:
            if kind == "prose":
                assert isinstance(value, str)
                out += [value.strip(), ""]
            elif kind in ("h3", "h4"):
                out += [f"{'#' * int(kind[1])} {value}", ""]
            elif kind == "ul":
                out += [f"- {item}" for item in value] + [""]
            else:
                out += [str(value), ""]
    return "\n".join(out).rstrip() + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #1d1d1d; }
h1 { border-bottom: 3px solid #1d4e89; padding-bottom: .3rem; }
h2 { background: #1d4e89; color: #fff; padding: .3rem .6rem; margin-top: 2rem; }
h3 { border-bottom: 1px solid #ccc; margin-top: 1.4rem; }
.meta { color: #555; }
@media print { h2 { break-after: avoid; } h3 { break-after: avoid; } }
""".strip()


def to_html(plan: Plan, sections: list[tuple[str, list[Block]]]) -> str:
    e = html.escape

    def ul(items: str | list[str]) -> str:
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"

    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(plan.language)}">',
        '<head><meta charset="utf-8">',
        f"<title>{e(plan.title)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body>",
        f"<h1>{e(plan.title)}</h1>",
        f'<p class="meta">Plan {e(plan.id)}, version {e(plan.version)}</p>',
    ]
    for heading, blocks in sections:
        out.append(f"<section><h2>{e(heading)}</h2>")
        for kind, value in blocks:
            if kind == "prose":
                assert isinstance(value, str)
                for part_kind, part in _prose_parts(value):
                    out.append(ul(part) if part_kind == "ul" else f"<p>{e(str(part))}</p>")
            elif kind in ("h3", "h4"):
                out.append(f"<{kind}>{e(str(value))}</{kind}>")
            elif kind == "ul":
                out.append(ul(value))
            else:
                out.append(f"<p>{e(str(value))}</p>")
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def export_plan(plan: Plan, contacts_by_role: dict[str, list[ContactInfo]], fmt: str) -> str:
    """The plan as a document in ``fmt`` ("md" or "html"), contacts filled from ``contacts_by_role``."""
    sections = document(plan, contacts_by_role)
    if fmt == "md":
        return to_markdown(plan, sections)
    if fmt == "html":
        return to_html(plan, sections)
    raise Invalid(f"unknown document format '{fmt}' (formats: {', '.join(FORMATS)})")
