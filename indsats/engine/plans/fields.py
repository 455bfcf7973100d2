"""Checking the values a person gives with a trigger (``--set FIELD=VALUE``). Pure.

Values arrive as text and are stored typed: yes/no as "yes"/"no" (never a YAML boolean), choices by
their id, dates as ISO dates, concern signs as {category: strength}.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from indsats.engine.plans.schema import FieldType
from indsats.errors import Invalid
from indsats.i18n import _

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
            raise Invalid(_("bad --set '{pair}': use FIELD=VALUE").format(pair=pair))
        if name in values:
            raise Invalid(_("field '{name}' is given twice").format(name=name))
        values[name] = value.strip()
    return values


def check_fields(plan: Plan, transition: Transition, given: dict[str, str]) -> dict[str, Any]:
    """Return the typed values, or raise ``Invalid`` naming the first missing, unknown or bad field."""
    specs = transition.fields
    unknown = sorted(set(given) - set(specs))
    if unknown:
        known = ", ".join(specs) or _("none")
        raise Invalid(_("'{trigger}' has no field '{field}' (its fields: {known})").format(
            trigger=transition.trigger, field=unknown[0], known=known))
    for name, spec in specs.items():
        if spec.required and not given.get(name):
            raise Invalid(_("'{trigger}' needs field '{field}' ({label}, {type}): add --set {field}=…").format(
                trigger=transition.trigger, field=name, label=spec.label, type=describe_type(spec)))
    return {name: parse_value(plan, transition.trigger, name, specs[name], text) for name, text in given.items()}


def parse_value(plan: Plan, trigger: str, name: str, spec: FieldSpec, text: str) -> Any:
    def bad(why: str) -> Invalid:
        return Invalid(_("'{trigger}' field '{field}': {why}").format(trigger=trigger, field=name, why=why))

    if spec.type is FieldType.yes_no:
        lowered = text.lower()
        if lowered in YES:
            return "yes"
        if lowered in NO:
            return "no"
        raise bad(_("'{text}' is not yes or no").format(text=text))
    if spec.type is FieldType.choice:
        chosen = _by_id_or_label(spec.options, text)
        if chosen is None:
            raise bad(_("'{text}' is not one of: {options}").format(text=text, options=", ".join(spec.options)))
        return chosen
    if spec.type is FieldType.date:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise bad(_("'{text}' is not a date (YYYY-MM-DD)").format(text=text)) from None
    if spec.type is FieldType.signs:
        return parse_signs(plan, text, bad)
    if not text:
        raise bad(_("must not be empty"))
    return text


def parse_signs(plan: Plan, text: str, bad: Any) -> dict[str, str]:
    """``behaviour:strong,relations:weak`` → {"behaviour": "strong", "relations": "weak"}; the plan's labels
    are as good as the ids (``adfærd:stærkt,relationer:svagt``), in any case."""
    if plan.concern_signs is None:
        raise bad(_("this plan defines no concern-sign categories"))
    categories = {c.id: c.label for c in plan.concern_signs.categories}
    strengths = plan.concern_signs.strengths
    signs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        given_category, _sep, given_strength = item.partition(":")
        category = _by_id_or_label(categories, given_category.strip())
        strength = _by_id_or_label(strengths, given_strength.strip())
        if category is None:
            known = ", ".join(f"{label.lower()} ({id_})" for id_, label in categories.items())
            raise bad(_("unknown category '{category}' (categories: {known})").format(category=given_category, known=known))
        if strength is None:
            known = ", ".join(f"{label} ({id_})" for id_, label in strengths.items())
            raise bad(_("unknown strength '{strength}' (strengths: {known})").format(strength=given_strength, known=known))
        signs[category] = strength
    if not signs:
        raise bad(_("give at least one CATEGORY:STRENGTH"))
    return signs


def _by_id_or_label(labels: dict[str, str], text: str) -> str | None:
    """The id that ``text`` names, by the id itself or by its label (case does not matter), or None."""
    if text in labels:
        return text
    wanted = text.casefold()
    return next((id_ for id_, label in labels.items() if wanted in (id_.casefold(), label.casefold())), None)


def describe_type(spec: FieldSpec) -> str:
    if spec.type is FieldType.choice:
        return _("one of {options}").format(options="|".join(spec.options))
    return {
        FieldType.yes_no: _("yes|no"),
        FieldType.text: _("text"),
        FieldType.date: _("YYYY-MM-DD"),
        FieldType.signs: _("CATEGORY:STRENGTH,…"),
    }[spec.type]
