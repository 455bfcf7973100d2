"""Checking the values a person gives with a trigger (``--set FIELD=VALUE``). Pure.

Values arrive as text and are stored typed: yes/no as "yes"/"no" (never a YAML boolean), choices by
their id, dates as ISO dates, concern signs as {category: strength}.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from indsats.engine.plans.schema import FieldType
from indsats.errors import Invalid

if TYPE_CHECKING:
    from indsats.engine.plans.schema import FieldSpec, Plan, Transition

YES = {"yes", "ja", "y", "j", "true"}
NO = {"no", "nej", "n", "false"}


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """Split ``FIELD=VALUE`` strings; a field given twice is an error."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise Invalid(f"bad --set '{pair}': use FIELD=VALUE")
        if name in values:
            raise Invalid(f"field '{name}' is given twice")
        values[name] = value.strip()
    return values


def check_fields(plan: Plan, transition: Transition, given: dict[str, str]) -> dict[str, Any]:
    """Return the typed values, or raise ``Invalid`` naming the first missing, unknown or bad field."""
    specs = transition.fields
    unknown = sorted(set(given) - set(specs))
    if unknown:
        known = ", ".join(specs) or "none"
        raise Invalid(f"'{transition.trigger}' has no field '{unknown[0]}' (its fields: {known})")
    for name, spec in specs.items():
        if spec.required and not given.get(name):
            raise Invalid(
                f"'{transition.trigger}' needs field '{name}' ({spec.label}, {describe_type(spec)}): "
                f"add --set {name}=…"
            )
    return {name: parse_value(plan, transition.trigger, name, specs[name], text) for name, text in given.items()}


def parse_value(plan: Plan, trigger: str, name: str, spec: FieldSpec, text: str) -> Any:
    def bad(why: str) -> Invalid:
        return Invalid(f"'{trigger}' field '{name}': {why}")

    if spec.type is FieldType.yes_no:
        lowered = text.lower()
        if lowered in YES:
            return "yes"
        if lowered in NO:
            return "no"
        raise bad(f"'{text}' is not yes or no")
    if spec.type is FieldType.choice:
        if text not in spec.options:
            raise bad(f"'{text}' is not one of: {', '.join(spec.options)}")
        return text
    if spec.type is FieldType.date:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise bad(f"'{text}' is not a date (YYYY-MM-DD)") from None
    if spec.type is FieldType.signs:
        return parse_signs(plan, text, bad)
    if not text:
        raise bad("must not be empty")
    return text


def parse_signs(plan: Plan, text: str, bad: Any) -> dict[str, str]:
    """``behaviour:strong,relations:weak`` → {"behaviour": "strong", "relations": "weak"}."""
    if plan.concern_signs is None:
        raise bad("this plan defines no concern-sign categories")
    categories = {c.id for c in plan.concern_signs.categories}
    strengths = plan.concern_signs.strengths
    signs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        category, _, strength = item.partition(":")
        if category not in categories:
            raise bad(f"unknown category '{category}' (categories: {', '.join(sorted(categories))})")
        if strength not in strengths:
            raise bad(f"unknown strength '{strength}' (strengths: {', '.join(strengths)})")
        signs[category] = strength
    if not signs:
        raise bad("give at least one CATEGORY:STRENGTH")
    return signs


def describe_type(spec: FieldSpec) -> str:
    if spec.type is FieldType.choice:
        return "one of " + "|".join(spec.options)
    return {
        FieldType.yes_no: "yes|no",
        FieldType.text: "text",
        FieldType.date: "YYYY-MM-DD",
        FieldType.signs: "CATEGORY:STRENGTH,…",
    }[spec.type]
