"""The plan as the municipal template lays it out, for print and approval: Markdown or self-contained HTML.

Sections follow the template's own order, from Situation to Action cards; Kontaktoplysninger is filled
from the installation's registered users by role (the plan file itself names no people).

>>> text = export_plan(plan, {"fagspecialist": [ContactInfo(name="A. Specialist", email="a@example.org")]}, "md")  # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from indsats.engine.plans.fields import describe_type
from indsats.engine.plans.wording import duration_text
from indsats.errors import Invalid
from indsats.i18n import N_, _, language

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan, State, Transition

FORMATS = ("md", "html")
NONE_REGISTERED = N_("(nobody registered)")


@dataclass(frozen=True, kw_only=True)
class ContactInfo:
    """A registered person to contact for a role: name and e-mail."""

    name: str
    email: str | None


# A section is a list of blocks: ("h3"|"h4"|"p"|"prose", text) or ("ul", items).
Block = tuple[str, "str | list[str]"]


def _prose(text: str) -> list[Block]:
    return [("prose", text)] if text.strip() else [("p", _("(nothing given)"))]


def _situation(plan: Plan) -> list[Block]:
    blocks = _prose(plan.sections.situation)
    signs = plan.concern_signs
    if signs is None:
        return blocks
    blocks.append(("h3", _("Concern signs")))
    if signs.guidance:
        blocks.extend(_prose(signs.guidance))
    for category in signs.categories:
        blocks.append(("p", category.label))
        if category.examples:
            blocks.append(("ul", list(category.examples)))
    strengths = ", ".join(signs.strengths.values())
    blocks.append(("p", _("Strength: {strengths}").format(strengths=strengths)))
    return blocks


def _contacts(plan: Plan, contacts_by_role: dict[str, list[ContactInfo]]) -> list[Block]:
    if not plan.contacts:
        return [("p", _("(the plan names no contacts)"))]
    blocks: list[Block] = []
    for contact in plan.contacts:
        unit = f", {contact.unit}" if contact.unit else ""
        role = plan.roles.get(contact.role, contact.role)
        blocks.append(("p", _("{label} (role: {role}{unit})").format(label=contact.label, role=role, unit=unit)))
        people = contacts_by_role.get(contact.role, [])
        no_email = _("no e-mail")
        items = [f"{p.name}, {p.email or no_email}" for p in people] or [_(NONE_REGISTERED)]
        blocks.append(("ul", items))
    return blocks


def _revision(plan: Plan) -> list[Block]:
    r = plan.revision
    due = r.due_on()
    items = [
        _("Written by: {author}").format(author=r.author) + (f", {r.written_on.isoformat()}" if r.written_on else ""),
        _("Approved by: {who}").format(who=r.approved_by or _("(not given)")),
        _("Approved on: {day}").format(day=r.approved_on.isoformat() if r.approved_on else _("(not approved)")),
        _("Next revision at the latest: {day} (every {years} years)").format(
            day=due.isoformat() if due else _("(unknown: the plan is not approved)"), years=r.interval_years),
        _("Version: {version}").format(version=plan.version),
    ]
    return [("ul", items)]


def _reminder_text(plan: Plan, state: State) -> str:
    if state.reminder is None:
        return _("Reminder/escalation: none")
    ceiling = plan.escalation.ceiling
    return _("Reminder/escalation: a reminder at the deadline; then escalation one leader up at a time after {after} "
             "per level, up to {ceiling}; repeated every {repeat}").format(
        after=duration_text(state.reminder.escalate_after), ceiling=plan.roles.get(ceiling, ceiling) if ceiling
        else _("the top"), repeat=duration_text(state.reminder.repeat))


def _state_card(plan: Plan, name: str, state: State) -> list[Block]:
    blocks: list[Block] = [("h3", _("{label} ({id})").format(label=state.label, id=name))]
    if state.description:
        blocks.append(("p", state.description))
    if state.final:
        blocks.append(("p", _("Final state: no deadline, no reminders.")))
    else:
        who = state.responsible.describe(plan.roles) if state.responsible else _("(nobody)")
        blocks.append(("ul", [_("Who must act: {who}").format(who=who),
                              _("Deadline: {deadline}").format(deadline=_deadline_text(state.deadline, state)),
                              _reminder_text(plan, state)]))
    if state.action_card:
        blocks.append(("p", _("Checklist:")))
        blocks.append(("ul", [f"[ ] {item}" for item in state.action_card]))
    moves = [t.label for t in plan.transitions_from(name)]
    if moves:
        blocks.append(("p", _("Possible actions: {actions}").format(actions=", ".join(moves))))
    return blocks


def _trigger_card(plan: Plan, t: Transition) -> list[Block]:
    def state_label(name: str) -> str:
        return plan.states[name].label if name in plan.states else name

    source = _("any open state") if "*" in t.source else ", ".join(state_label(n) for n in t.source)
    dest = state_label(t.dest) if t.dest else _("(recorded; the state does not change)")
    items = [
        _("From: {states}").format(states=source),
        _("To: {state}").format(state=dest),
        _("Who may do it: {who}").format(who=_(" or ").join(a.describe(plan.roles) for a in t.allowed)),
    ]
    for field_name, spec in t.fields.items():
        options = f": {', '.join(spec.options.values())}" if spec.options else ""
        required = _("required") if spec.required else _("optional")
        kind = describe_type(spec) if spec.type.value != "choice" else _("choice")
        items.append(_("Field {field} ({type}{options}, {required}): {label}").format(
            field=field_name, type=kind, options=options, required=required, label=spec.label))
    if t.note_required:
        items.append(_("Note: required"))
    for req in t.requires:
        when = " " + _("(only when: {flag})").format(flag=plan.flags[req.when].label) if req.when in plan.flags else ""
        needed = next((x.label for x in plan.transitions if x.trigger == req.trigger), req.trigger)
        items.append(_("Requires first: {action}{when}: {reason}").format(action=needed, when=when, reason=req.reason))
    if t.help:
        items.append(t.help)
    return [("h4", _("{label} ({id})").format(label=t.label, id=t.trigger)), ("ul", items)]


def _deadline_text(within: str | None, spec: Any) -> str:
    """A deadline with what qualifies it: statutory, published, when the warning comes."""
    notes = [
        _("statutory: only the days the law closes are counted") if spec.statutory else "",
        _("published deadline (retssikkerhedsloven § 3, stk. 2)") if spec.published else "",
        _("warning {span} before").format(span=duration_text(spec.warn_before)) if spec.warn_before else "",
    ]
    shown = "; ".join(n for n in notes if n)
    return duration_text(within) + (f" ({shown})" if shown else "")


def _case_deadlines(plan: Plan) -> list[Block]:
    if not plan.case_deadlines:
        return []
    blocks: list[Block] = [("h3", _("Deadlines for the whole case"))]
    labels = {t.trigger: t.label for t in plan.transitions}
    for name, d in plan.case_deadlines.items():
        start = _("the case is opened") if d.start == "opened" else f"'{labels.get(d.start, d.start)}'"
        who = d.responsible.describe(plan.roles) if d.responsible else _("the one who must act in the case's state")
        blocks.append(("ul", [f"{d.label} ({name}): {_deadline_text(d.within, d)}",
                              _("Counted from: {start}; met by '{met_by}'").format(
                                  start=start, met_by=labels.get(d.met_by, d.met_by)),
                              _("Who must act: {who}").format(who=who)]))
    return blocks


def _action_cards(plan: Plan) -> list[Block]:
    blocks: list[Block] = _case_deadlines(plan)
    for name, state in plan.states.items():
        blocks.extend(_state_card(plan, name, state))
    blocks.append(("h3", _("Actions")))
    for t in plan.transitions:
        blocks.extend(_trigger_card(plan, t))
    return blocks


def document(plan: Plan, contacts_by_role: dict[str, list[ContactInfo]]) -> list[tuple[str, list[Block]]]:
    """The plan's sections in the template's order: (heading, blocks)."""
    s = plan.sections
    return [
        (_("Situation"), _situation(plan)),
        (_("Alerting"), _prose(s.alarmering)),
        (_("Tasks"), _prose(s.opgaver)),
        (_("Action"), _prose(s.handling)),
        (_("Management and organisation"), _prose(s.ledelse_og_organisation)),
        (_("Staffing and equipment"), _prose(s.bemanding_og_udstyr)),
        (_("Communication"), _prose(s.kommunikation)),
        (_("Contact information"), _contacts(plan, contacts_by_role)),
        (_("Other points of attention"), _prose(s.andre_opmaerksomhedspunkter)),
        (_("Creation/revision"), _revision(plan)),
        (_("Action cards"), _action_cards(plan)),
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
    out = [f"# {plan.title}", "", _("Plan `{id}`, version {version}").format(id=plan.id, version=plan.version), ""]
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

    meta = _("Plan {id}, version {version}").format(id=plan.id, version=plan.version)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language())}">',
        '<head><meta charset="utf-8">',
        f"<title>{e(plan.title)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body>",
        f"<h1>{e(plan.title)}</h1>",
        f'<p class="meta">{e(meta)}</p>',
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
    raise Invalid(_("unknown document format '{format}' (formats: {formats})").format(
        format=fmt, formats=", ".join(FORMATS)))
