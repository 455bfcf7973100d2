"""A plan drawn as a graph: states (label and deadline) and transitions (trigger and who may fire it).

Emits Mermaid (``stateDiagram-v2``) or Graphviz DOT text; ``indsats.adapters.graphviz`` draws the DOT as SVG.
Triggers that are recorded without moving the case (no ``to``) are self-loops when they name their
states, and one note when they apply in any open state.

>>> print(graph(plan, "mermaid"))   # doctest: +SKIP
stateDiagram-v2
    state "Mistanke registreret (4 working hours)" as suspected
    ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.plans.wording import duration_text
from indsats.i18n import _
from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Plan, Transition

FORMATS = ("mermaid", "dot")


def _who(t: Transition) -> str:
    return _(" or ").join(a.describe() for a in t.allowed)


def _moves(plan: Plan) -> list[tuple[str, str, Transition]]:
    """(source, dest, transition) for every edge, ``*`` expanded, recorded-only ones with named states as loops."""
    open_states = [name for name, s in plan.states.items() if not s.final]
    found = []
    for t in plan.transitions:
        if t.dest is None and "*" in t.source:
            continue
        for source in open_states if "*" in t.source else t.source:
            found.append((source, t.dest or source, t))
    return found


def _anywhere(plan: Plan) -> list[Transition]:
    """Recorded-only triggers possible in any open state: drawn as one note, not a loop on every state."""
    return [t for t in plan.transitions if t.dest is None and "*" in t.source]


def _state_text(plan: Plan, name: str) -> tuple[str, str]:
    state = plan.states[name]
    detail = _("final") if state.final else _("deadline {rule}").format(rule=duration_text(state.deadline))
    return state.label, detail


def mermaid(plan: Plan) -> str:
    def quote(text: str) -> str:
        return text.replace('"', "#quot;").replace(":", "#58;")

    lines = ["stateDiagram-v2", f"    %% {plan.title} ({plan.id}, version {plan.version})"]
    for name in plan.states:
        label, detail = _state_text(plan, name)
        lines.append(f'    state "{quote(label)} ({name})<br/>{quote(detail)}" as {name}')
    lines.append(f"    [*] --> {plan.initial}")
    for source, dest, t in _moves(plan):
        lines.append(f"    {source} --> {dest} : {t.trigger} ({quote(_who(t))})")
    for name in plan.final_states:
        lines.append(f"    {name} --> [*]")
    anywhere = _anywhere(plan)
    if anywhere:
        lines.append(f"    note right of {plan.initial}")
        lines.append("        " + _("In any open state (recorded without changing state)"))
        for t in anywhere:
            lines.append(f"        {t.trigger} ({quote(_who(t))})")
        lines.append("    end note")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(plan: Plan) -> str:
    title = _("{title} (version {version})").format(title=plan.title, version=plan.version)
    lines = [
        f"digraph {_dot_quote(plan.id)} {{",
        f"    label={_dot_quote(title)};",
        "    labelloc=t;",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        "    __start [shape=point, label=\"\"];",
    ]
    for name, state in plan.states.items():
        label, detail = _state_text(plan, name)
        extra = ", peripheries=2" if state.final else ""
        text = "\n".join((label, f"({name})", detail))
        lines.append(f"    {_dot_quote(name)} [label={_dot_quote(text)}{extra}];")
    lines.append(f"    __start -> {_dot_quote(plan.initial)};")
    for source, dest, t in _moves(plan):
        text = "\n".join((t.trigger, _who(t)))
        lines.append(f"    {_dot_quote(source)} -> {_dot_quote(dest)} [label={_dot_quote(text)}];")
    anywhere = _anywhere(plan)
    if anywhere:
        text = _("In any open state\n(recorded without changing state):") + "\n" + "\n".join(
            f"{t.trigger} ({_who(t)})" for t in anywhere
        )
        lines.append(f"    __anywhere [shape=note, label={_dot_quote(text)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph(plan: Plan, fmt: str) -> str:
    """The plan as Mermaid or DOT text (SVG is DOT drawn by Graphviz: ``indsats.adapters.graphviz``)."""
    if fmt == "mermaid":
        return mermaid(plan)
    if fmt == "dot":
        return dot(plan)
    raise Invalid(_("unknown graph format '{fmt}' (formats: {listed})").format(fmt=fmt, listed=', '.join(FORMATS)))
