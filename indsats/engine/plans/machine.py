"""One ``transitions`` Machine per plan version, built once; a case binds to it for one operation.

The Machine owns the graph: which trigger leads where from which state. A command consults it through
the table read off it once per plan version, (state, trigger) → destination (binding a model to the
Machine costs more than everything else a command computes). Guards that need the
actor, the fields or the case's history live in ``guards.py`` so that their errors can say exactly
what is wrong. Reads never build a Machine: they ask the plan directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transitions import Machine, MachineError

from indsats.i18n import _
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable

    from indsats.engine.plans.schema import Plan

_MACHINES: dict[tuple[str, str], Machine] = {}
_TABLES: dict[tuple[str, str], dict[tuple[str, str], str]] = {}


class _Bound:
    """The model a case becomes for one operation: just its state."""

    trigger: Callable[..., bool]  # added by ``Machine.add_model``

    def __init__(self, state: str) -> None:
        self.state = state


def machine_for(plan: Plan) -> Machine:
    """The Machine for this plan version, built on first use and kept."""
    key = (plan.id, plan.version)
    machine = _MACHINES.get(key)
    if machine is None:
        machine = _MACHINES[key] = build_machine(plan)
    return machine


def build_machine(plan: Plan) -> Machine:
    """Build the plan's Machine: states, and one transition per (trigger, source) pair.

    ``auto_transitions=False``: otherwise every model gets ``to_<state>()`` triggers that jump past the
    plan. Transitions with no destination are internal: they are recorded without leaving the state.
    """
    machine = Machine(
        model=None,
        states=list(plan.states),
        initial=plan.initial,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,
    )
    open_states = [name for name, s in plan.states.items() if not s.final]
    for t in plan.transitions:
        every = list(plan.states) if t.after_close else open_states
        sources: list[Any] = every if "*" in t.source else t.source  # transitions wants a list[str | State]
        if t.dest is None:
            machine.add_transition(t.trigger, sources, None)
        else:
            machine.add_transition(t.trigger, sources, t.dest)
    return machine


def transition_table(plan: Plan) -> dict[tuple[str, str], str]:
    """(state, trigger) → the state it lands in, read off the plan's Machine once per plan version."""
    key = (plan.id, plan.version)
    table = _TABLES.get(key)
    if table is None:
        table = {}
        machine = machine_for(plan)
        for trigger, event in machine.events.items():
            for source, found in event.transitions.items():
                if found:
                    table[(source, trigger)] = found[0].dest or source  # no destination: internal, stays
        _TABLES[key] = table
    return table


def fire(plan: Plan, state: str, trigger: str, case_id: str) -> str:
    """Fire ``trigger`` on a case in ``state``; return the state it lands in. ``Invalid`` if not possible."""
    dest = transition_table(plan).get((state, trigger))
    if dest is None:
        raise Invalid(_not_possible(plan, state, trigger, case_id))
    return dest


def fire_on_machine(plan: Plan, state: str, trigger: str, case_id: str) -> str:
    """``fire`` by binding a model to the Machine itself (what the table is read from; tests compare the two)."""
    machine = machine_for(plan)
    model = _Bound(state)
    machine.add_model(model, initial=state)
    try:
        model.trigger(trigger)
    except (MachineError, AttributeError):
        raise Invalid(_not_possible(plan, state, trigger, case_id)) from None
    finally:
        machine.remove_model(model)
    return model.state


def _sources_text(plan: Plan, trigger: str) -> str:
    t = plan.transition(trigger)
    if t is None:
        return ""
    return _("any open state") if "*" in t.source else ", ".join(f"'{s}'" for s in t.source)


def _not_possible(plan: Plan, state: str, trigger: str, case_id: str) -> str:
    possible = ", ".join(t.trigger for t in plan.transitions_from(state)) or _("nothing (the case is closed)")
    if plan.transition(trigger) is None:
        known = ", ".join(t.trigger for t in plan.transitions)
        return _("plan '{id}' has no trigger '{trigger}' (triggers: {known})").format(
            id=plan.id, trigger=trigger, known=known)
    return _("case {case_id} is in '{state}'; '{trigger}' is possible only from {sources}. Possible now: {possible}").format(
        case_id=case_id, state=state, trigger=trigger, sources=_sources_text(plan, trigger), possible=possible)
