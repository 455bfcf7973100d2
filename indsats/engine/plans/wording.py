"""The plan's own words in the reader's language: roles and states by their labels, who must act as a
person says it, durations, concern signs. The ids stay what commands take; these are what people read.

>>> from indsats.i18n import use; use("da")
>>> duration_text("4 working hours"), duration_text("6 hverdage")
('4 arbejdstimer', '6 hverdage')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from indsats.i18n import N_, _, language, ngettext

if TYPE_CHECKING:
    from indsats.engine.plans.schema import Actor, Plan

# How a user stands to a case, as a person says it (the relation ids are in the plan and in commands).
RELATIONS = {
    "opener": N_("the one who opened the case"),
    "opener_leader": N_("the nearest leader of the one who opened the case"),
    "opener_leader_leader": N_("the leader's nearest leader"),
    "on_case": N_("someone on the case"),
    "assignee": N_("the caseworker on the case"),
}


def relation_text(relation: str) -> str:
    return _(RELATIONS[relation]) if relation in RELATIONS else relation


def actor_text(actor: Actor, roles: Mapping[str, str] | None = None) -> str:
    """Who an actor is: the role's label, the relation in words, or both ("Leder (nærmeste leder for …)")."""
    role = (roles or {}).get(actor.role, actor.role) if actor.role else None
    relation = relation_text(actor.relation.value) if actor.relation else None
    if role and relation:
        return _("{role} ({relation})").format(role=role, relation=relation)
    return role or relation or ""


def actors_text(actors: list[Actor], roles: Mapping[str, str] | None = None) -> str:
    """Several actors, any of whom may act: "A or B"."""
    return _(" or ").join(actor_text(a, roles) for a in actors)


def duration_text(rule: str | None) -> str:
    """A plan's duration as the reader says it: "4 working hours" reads "4 arbejdstimer" in Danish.

    A rule the plan already writes in Danish ("6 hverdage") stays in its own words when Danish is read."""
    from indsats.engine.time.durations import DurationUnit, parse_duration
    from indsats.errors import Invalid

    if not rule:
        return ""
    try:
        duration = parse_duration(rule)
    except Invalid:
        return rule
    if language() == "da" and not any(word in _ENGLISH for word in rule.lower().split()) and "P" not in rule:
        return rule.strip()
    n = duration.amount
    if duration.working:
        forms = {
            DurationUnit.minutes: ngettext("{n} working minute", "{n} working minutes", n),
            DurationUnit.hours: ngettext("{n} working hour", "{n} working hours", n),
            DurationUnit.days: ngettext("{n} working day", "{n} working days", n),
        }
    else:
        forms = {
            DurationUnit.minutes: ngettext("{n} minute", "{n} minutes", n),
            DurationUnit.hours: ngettext("{n} hour", "{n} hours", n),
            DurationUnit.days: ngettext("{n} day", "{n} days", n),
            DurationUnit.weeks: ngettext("{n} week", "{n} weeks", n),
            DurationUnit.months: ngettext("{n} month", "{n} months", n),
        }
    return forms[duration.unit].format(n=n)


_ENGLISH = frozenset({"working", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month",
                      "months"})


def signs_text(plan: Plan, signs: Mapping[str, str]) -> str:
    """Concern signs by the plan's labels: "Adfærd: stærkt, Relationer: svagt"."""
    cs = plan.concern_signs
    labels = {c.id: c.label for c in cs.categories} if cs else {}
    strengths = dict(cs.strengths) if cs else {}
    return ", ".join(f"{labels.get(k, k)}: {strengths.get(v, v)}" for k, v in signs.items())


def source_text(plan: Plan, source: str) -> str:
    """Where a concern came from, by the plan's label for the source."""
    found = plan.sources.get(source) if isinstance(plan.sources, Mapping) else None
    label = getattr(found, "label", found)
    return str(label) if label else source
