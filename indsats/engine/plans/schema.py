"""The plan schema (pydantic) and ``load_plan``: a plan is data, checked completely when it is loaded.

A plan file carries every section of the municipal template: the situation text and concern-sign
categories, roles, states with deadlines and action cards, transitions with the roles allowed to fire
them and their fields, reminder and escalation rules, contacts by role, and the revision record.
A malformed plan is rejected with the file, the line and the field named.
"""

from __future__ import annotations

import hashlib
from datetime import date
from enum import Enum
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from indsats.i18n import N_, _
from indsats.engine.time.durations import Duration, parse_duration
from indsats.engine.log.canonical import canonical_json  # noqa: F401 - moved to engine/log; importable here as before
from indsats.errors import Invalid

# The installation's own roles, held across every plan; a plan declares all the others.
INSTALLATION_ROLES = ("admin", "supervisor")
Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(_("a duration is text such as '1 working day' or '24 hours'"))
    try:
        return str(parse_duration(value))
    except Invalid as exc:  # pydantic reports ValueErrors with their location; let it
        raise ValueError(exc.message) from None


class FieldType(str, Enum):
    """The kinds of value a transition's field takes."""

    yes_no = "yes_no"
    choice = "choice"
    text = "text"
    date = "date"
    signs = "signs"


class Relation(str, Enum):
    """How a user stands to a case; resolved against the users' reports-to chain."""

    opener = "opener"  # the employee who opened the case
    opener_leader = "opener_leader"  # that employee's nearest leader (reports-to)
    opener_leader_leader = "opener_leader_leader"  # the leader's own leader
    on_case = "on_case"  # anyone who opened, acted on or must act on the case
    assignee = "assignee"  # the caseworker named with `indsats assign`


class Actor(Strict):
    """Who may fire a trigger or must act in a state: a role, a relation, or both (then both must hold)."""

    role: str | None = None
    relation: Relation | None = None

    @model_validator(mode="after")
    def _one_given(self) -> Actor:
        if self.role is None and self.relation is None:
            raise ValueError(_("give a role, a relation or both"))
        return self

    def describe(self, roles: Mapping[str, str] | None = None) -> str:
        """Who this is, as a person reads it: the role (by its label when ``roles`` gives them) and the relation."""
        from indsats.engine.plans.wording import actor_text

        return actor_text(self, roles)


class FieldSpec(Strict):
    """A value a person gives when firing a trigger (``--set NAME=VALUE``)."""

    type: FieldType
    label: str
    required: bool = False
    sensitive: bool = False
    options: dict[Id, str] = Field(default_factory=dict)
    help: str | None = None

    @model_validator(mode="after")
    def _choices(self) -> FieldSpec:
        if self.type is FieldType.choice and not self.options:
            raise ValueError(_("a choice field needs options"))
        if self.type is not FieldType.choice and self.options:
            raise ValueError(_("only choice fields take options (this one is {value})").format(value=self.type.value))
        return self


class Requirement(Strict):
    """A trigger that must have been recorded on the case first, possibly only for minors."""

    trigger: Id
    when: Id | None = None  # a flag of the plan (asked when the case opens): required only when it is set
    reason: str


class Transition(Strict):
    """A named move: from one or more states (``*`` = any open state) to a state, or none (recorded only)."""

    trigger: Id
    label: str
    source: list[str] = Field(alias="from")
    dest: str | None = Field(default=None, alias="to")
    allowed: list[Actor] = Field(min_length=1)
    fields: dict[Id, FieldSpec] = Field(default_factory=dict)
    requires: list[Requirement] = Field(default_factory=list)
    marks_acute: bool = False
    note_required: bool = False
    # Separation of duties: not the person who fired these triggers (or, with ``opener``, who opened the case).
    not_by: list[Id] = Field(default_factory=list)
    after_close: bool = False  # a recorded-only trigger that may still be recorded once the case is closed
    help: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ReminderRule(Strict):
    """When the person who must act is reminded, and how escalation climbs the reports-to chain."""

    escalate_after: Annotated[str, Field(description="after the deadline, per level")]
    repeat: str

    _check = field_validator("escalate_after", "repeat", mode="before")(_duration)


class State(Strict):
    """Where a case stands, with who must act, by when, and the action card (a checklist)."""

    label: str
    final: bool = False
    responsible: Actor | None = None
    deadline: str | None = None
    statutory: bool = False  # the deadline is set by law: counted on the legal calendar, not local closures
    published: bool = False  # a published processing time (retssikkerhedsloven § 3, stk. 2)
    warn_before: str | None = None  # default: half a working day before a working-time deadline
    notice: bool = True  # tell whoever must act when the case enters the state
    action_card: list[str] = Field(default_factory=list)
    reminder: ReminderRule | None = None
    description: str | None = None

    _check = field_validator("deadline", "warn_before", mode="before")(lambda v: None if v is None else _duration(v))

    @model_validator(mode="after")
    def _open_states_need_an_owner(self) -> State:
        if not self.final and (self.responsible is None or self.deadline is None):
            raise ValueError(_("a state that is not final needs 'responsible' and 'deadline'"))
        if self.final and self.reminder is not None:
            raise ValueError(_("a final state has no reminders"))
        if (self.statutory or self.published or self.warn_before) and self.deadline is None:
            raise ValueError(_("'statutory', 'published' and 'warn_before' qualify a deadline: give 'deadline' too"))
        return self


class CaseDeadline(Strict):
    """A deadline of the whole case, beside the per-state ones: ``within`` from the case's opening or from a
    trigger, met when ``met_by`` is fired (e.g. a receipt within 6 working days of receiving a concern)."""

    label: str
    within: str
    start: str = Field(default="opened", alias="from")  # "opened" or a trigger
    met_by: Id
    statutory: bool = False
    published: bool = False  # retssikkerhedsloven § 3, stk. 2: the citizen must be told if it will be missed
    warn_before: str | None = None
    responsible: Actor | None = None  # default: whoever must act in the case's state at the time
    reminder: ReminderRule | None = None

    _check = field_validator("within", "warn_before", mode="before")(lambda v: None if v is None else _duration(v))


class SignCategory(Strict):
    """One category of concern signs (Adfærd, Holdninger, Relationer) with examples from the template."""

    id: Id
    label: str
    examples: list[str] = Field(default_factory=list)


class ConcernSigns(Strict):
    categories: list[SignCategory] = Field(min_length=1)
    strengths: dict[Id, str] = Field(min_length=1)
    guidance: str | None = None


class Escalation(Strict):
    """Plan-wide escalation and delivery rules."""

    ceiling: str | None = None  # a role of the plan; escalation climbs the chain up to it (None: to the top)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_after: str = "10 minutes"

    _check = field_validator("retry_after", mode="before")(_duration)


class Source(Strict):
    """Where a concern can come from; an anonymous source stores no reporter."""

    label: str
    anonymous: bool = False


class Flag(Strict):
    """A yes/no fact asked when a case opens (``indsats open --flag NAME``), e.g. the citizen is a minor."""

    label: str
    help: str | None = None


class AcuteAlert(Strict):
    """The e-mail sent at once, at any hour, when a trigger marks the case acute. ``{case_id}`` is filled in."""

    subject: str
    text: str
    also: list[str] = Field(default_factory=list)  # roles of the plan told besides the chain


class Revision(Strict):
    """Oprettelse/revision: who wrote the plan, who approved it, when, and how often it is revised."""

    author: str
    approved_by: str | None = None
    approved_on: date | None = None
    written_on: date | None = None
    interval_years: int = Field(default=4, ge=1, le=10)

    def due_on(self) -> date | None:
        if self.approved_on is None:
            return None
        try:
            return self.approved_on.replace(year=self.approved_on.year + self.interval_years)
        except ValueError:  # 29 February
            return self.approved_on.replace(year=self.approved_on.year + self.interval_years, day=28)


class Contact(Strict):
    """A contact the plan names by role; the person and address come from the installation's users."""

    role: str
    label: str
    unit: str | None = None


class Sections(Strict):
    """The template's prose sections, in its own order."""

    situation: str
    alarmering: str
    opgaver: str
    handling: str
    ledelse_og_organisation: str
    bemanding_og_udstyr: str = ""
    kommunikation: str
    andre_opmaerksomhedspunkter: str = ""


# (plan id, version) → each trigger's first transition: read off the plan once per plan version.
_FIRST_BY_TRIGGER: dict[tuple[str, str], dict[str, Transition]] = {}
# (plan id, version) → the case deadlines that run on after the case closes (a pinned version never changes).
_OUTLIVING: dict[tuple[str, str], list[str]] = {}


class Plan(Strict):
    """A versioned plan. ``version`` is the content hash of the file; cases pin it."""

    id: Id
    title: str
    case_prefix: str = Field(pattern=r"^[A-Z]{2,6}$")
    language: str = "da"
    sections: Sections
    concern_signs: ConcernSigns | None = None
    roles: dict[Id, str]
    may_open: list[str] = Field(min_length=1)  # the roles that may open a case under this plan
    sees_all: list[str] = Field(default_factory=list)  # the roles that see every case of the plan
    sources: dict[Id, Source] = Field(min_length=1)  # the first one is the default
    flags: dict[Id, Flag] = Field(default_factory=dict)
    acute_alert: AcuteAlert | None = None
    contacts: list[Contact] = Field(default_factory=list)
    initial: str
    states: dict[Id, State]
    transitions: list[Transition] = Field(min_length=1)
    case_deadlines: dict[Id, CaseDeadline] = Field(default_factory=dict)
    escalation: Escalation = Field(default_factory=Escalation)
    revision: Revision
    retention: str | None = Field(default=None, pattern=r"^\s*\d+\s+years?\s+after\s+closing\s*$")
    version: str = ""

    @field_validator("sources", mode="before")
    @classmethod
    def _labels_are_sources(cls, value: Any) -> Any:
        """``sources: {parent: Forælder}`` is short for ``{parent: {label: Forælder}}``."""
        if isinstance(value, dict):
            return {k: {"label": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references that pydantic cannot check field by field: (location, message) pairs."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        for role in self.roles:
            if role in INSTALLATION_ROLES:
                found.append((("roles", role), _("'{role}' is the installation's own role, not a plan's").format(role=role)))
        for key in ("may_open", "sees_all"):
            for n, role in enumerate(getattr(self, key)):
                if role not in self.roles:
                    found.append(((key, n), _("'{role}' is not a role of the plan").format(role=role)))
        if self.acute_alert is not None:
            for n, role in enumerate(self.acute_alert.also):
                if role not in self.roles:
                    found.append((("acute_alert", "also", n), _("'{role}' is not a role of the plan").format(role=role)))
        if any(t.marks_acute for t in self.transitions) and self.acute_alert is None:
            found.append((("acute_alert",), _("a trigger marks cases acute, so the plan needs the alert's text")))
        if self.initial not in self.states:
            found.append((("initial",), _("'{initial}' is not a state").format(initial=self.initial)))
        elif self.states[self.initial].final:
            found.append((("initial",), _("'{initial}' is final").format(initial=self.initial)))
        ceiling = self.escalation.ceiling
        if ceiling is not None and ceiling not in self.roles:
            found.append((("escalation", "ceiling"), _("'{ceiling}' is not a role of the plan").format(ceiling=ceiling)))
        triggers = [t.trigger for t in self.transitions]
        for index, t in enumerate(self.transitions):
            at = ("transitions", index)
            for source in t.source:
                if source == "*":
                    continue
                if source not in self.states:
                    found.append(((*at, "from"), _("'{source}' is not a state").format(source=source)))
                elif self.states[source].final:
                    found.append(((*at, "from"), _("'{source}' is final; nothing leaves a final state").format(source=source)))
            if t.dest is not None and t.dest not in self.states:
                found.append(((*at, "to"), _("'{dest}' is not a state").format(dest=t.dest)))
            if triggers.count(t.trigger) > 1 and (t.dest is None or "*" in t.source):
                found.append(((*at, "trigger"), _("'{trigger}' is defined more than once").format(trigger=t.trigger)))
            for n, actor in enumerate(t.allowed):
                if actor.role is not None and actor.role not in self.roles:
                    found.append(((*at, "allowed", n), _("role '{role}' is not a role of the plan").format(role=actor.role)))
            for n, req in enumerate(t.requires):
                if req.trigger not in triggers:
                    found.append(((*at, "requires", n), _("'{trigger}' is not a trigger of the plan").format(trigger=req.trigger)))
                if req.when is not None and req.when not in self.flags:
                    found.append(((*at, "requires", n, "when"), _("'{when}' is not a flag of the plan").format(when=req.when)))
            for n, name in enumerate(t.not_by):
                if name != "opener" and name not in triggers:
                    found.append(((*at, "not_by", n), _("'{name}' is neither 'opener' nor a trigger of the plan").format(name=name)))
            if t.after_close and t.dest is not None:
                found.append(((*at, "after_close"), _("only a trigger that changes no state may be recorded after closing")))
        for name, state in self.states.items():
            responsible = state.responsible
            where = ("states", name, "responsible")
            if responsible is not None and responsible.role is not None and responsible.role not in self.roles:
                found.append((where, _("role '{role}' is not a role of the plan").format(role=responsible.role)))
            if responsible is not None and responsible.relation is Relation.on_case:
                found.append((where, _("'on_case' names nobody in particular")))
        for name, deadline in self.case_deadlines.items():
            place = ("case_deadlines", name)
            if deadline.start != "opened" and deadline.start not in triggers:
                found.append(((*place, "from"), _("'{start}' is neither 'opened' nor a trigger of the plan").format(start=deadline.start)))
            if deadline.met_by not in triggers:
                found.append(((*place, "met_by"), _("'{met_by}' is not a trigger of the plan").format(met_by=deadline.met_by)))
            who = deadline.responsible
            if who is not None and who.role is not None and who.role not in self.roles:
                found.append(((*place, "responsible"), _("role '{role}' is not a role of the plan").format(role=who.role)))
        return found

    # -- reading the plan (no Machine needed) ------------------------------------------------------

    @property
    def final_states(self) -> list[str]:
        return [name for name, s in self.states.items() if s.final]

    def transition(self, trigger: str) -> Transition | None:
        key = (self.id, self.version)
        found = _FIRST_BY_TRIGGER.get(key)
        if found is None:
            found = {}
            for t in self.transitions:
                found.setdefault(t.trigger, t)
            _FIRST_BY_TRIGGER[key] = found
        return found.get(trigger)

    def transitions_from(self, state: str) -> list[Transition]:
        """The transitions a case in ``state`` may take (from a final state, only those ``after_close``)."""
        if self.states[state].final:
            return [t for t in self.transitions if t.after_close and ("*" in t.source or state in t.source)]
        return [t for t in self.transitions if "*" in t.source or state in t.source]

    def outlives_closing(self, case_deadline: str) -> bool:
        """Does this case deadline run on after the case closes? Yes when its ``met_by`` trigger may be
        recorded after closing (``after_close``): a duty that outlives the decision keeps its reminders."""
        met_by = self.transition(self.case_deadlines[case_deadline].met_by)
        return met_by is not None and met_by.after_close

    def deadlines_outliving_closing(self) -> list[str]:
        found = _OUTLIVING.get((self.id, self.version))
        if found is None:
            found = _OUTLIVING[(self.id, self.version)] = [n for n in self.case_deadlines if self.outlives_closing(n)]
        return list(found)

    def deadline_of(self, state: str) -> Duration | None:
        text = self.states[state].deadline
        return parse_duration(text) if text else None


# -- loading --------------------------------------------------------------------------------------


def plan_version(text: str) -> str:
    """The content hash a case pins: 12 hex digits of SHA-256 over the file's bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# Pydantic's words for the schema errors a plan author meets most, in the reader's language (pydantic speaks
# English only); another error keeps pydantic's message.
SCHEMA_MESSAGES = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_type": N_("Input should be a valid dictionary"),
    "list_type": N_("Input should be a valid list"),
    "date_type": N_("Input should be a valid date"),
    "date_from_datetime_parsing": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "date_parsing": N_("Input should be a valid date in the format YYYY-MM-DD"),
    "string_too_short": N_("String should have at least {min_length} characters"),
    "too_short": N_("List should have at least {min_length} items"),
    "literal_error": N_("Input should be {expected}"),
    "enum": N_("Input should be {expected}"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "greater_than": N_("Input should be greater than {gt}"),
}


def schema_message(error: Any) -> str:
    """One pydantic error's message as the plan author reads it (a validator's own message: as it raised it)."""
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    words = SCHEMA_MESSAGES.get(error["type"])
    if words is None:
        return str(error["msg"])
    context = {k: str(v).replace(" or ", _(" or ")) for k, v in (error.get("ctx") or {}).items()}
    try:
        return _(words).format(**context)
    except (KeyError, IndexError, ValueError):
        return str(error["msg"])


def plan_problems(data: dict[str, Any], text: str) -> tuple[Plan | None, list[tuple[tuple[str | int, ...], str]]]:
    """The plan in ``data`` (loaded from ``text``) and every problem found in it, as (location, message) pairs:
    each schema error pydantic collected (then no plan), else each cross-reference problem. For ``plans
    validate``, which lists them all; ``parse_plan`` stops at the first."""
    try:
        plan = Plan.model_validate({**data, "version": plan_version(text)})
    except ValidationError as exc:
        return None, [(tuple(e["loc"]), schema_message(e)) for e in exc.errors()]
    return plan, plan.problems()


def parse_plan(text: str, source: str = "<plan>", *, complete: bool = True) -> Plan:
    """Validate plan text; raise ``Invalid`` naming the source, line and field of the first problem.

    Loading runs every check ``plans validate`` runs on the plan alone (reachability, dead ends, roles),
    so a plan that validate rejects is never offered. :param complete: False only for validate itself,
    which lists all of those findings rather than stopping at the first.
    """
    import yaml

    from indsats.engine.plans.yamlio import PlanYamlError, line_of, lines_of, load

    try:
        data = load(text)
    except PlanYamlError as exc:
        raise Invalid(f"{source}:{exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else "?"
        raise Invalid(_("{source}:{line}: not valid YAML: {problem}").format(source=source, line=line, problem=exc.problem)) from None
    except yaml.YAMLError as exc:
        raise Invalid(_("{source}:1: not valid YAML: {error}").format(source=source, error=exc)) from None
    if not isinstance(data, dict):
        raise Invalid(_("{source}:1: a plan is a mapping of sections (id, title, states, transitions, …)").format(source=source))
    try:
        plan = Plan.model_validate({**data, "version": plan_version(text)})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(plan)"
        line = line_of(lines_of(text), loc) or 1
        message = schema_message(err)
        more = _(" (and {n} more)").format(n=exc.error_count() - 1) if exc.error_count() > 1 else ""
        raise Invalid(f"{source}:{line}: {field}: {message}{more}") from None
    except Invalid as exc:  # a duration that does not parse, raised inside a validator
        raise Invalid(f"{source}: {exc.message}") from None
    problems = plan.problems()
    if problems:
        loc, message = problems[0]
        more = _(" (and {n} more)").format(n=len(problems) - 1) if len(problems) > 1 else ""
        field = ".".join(str(p) for p in loc)
        raise Invalid(f"{source}:{line_of(lines_of(text), loc) or 1}: {field}: {message}{more}")
    if complete:
        from indsats.engine.plans.checks import Severity, check_structure

        errors = [f for f in check_structure(plan) if f.severity is Severity.error]
        if errors:
            first = errors[0]
            more = _(" (and {n} more)").format(n=len(errors) - 1) if len(errors) > 1 else ""
            line = line_of(lines_of(text), first.path()) or 1
            raise Invalid(f"{source}:{line}: {first.location}: {first.message}{more}")
    return plan

