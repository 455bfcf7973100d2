"""The plan author's use cases: list the plans, show one, export one as a document, draw it, validate a file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from indsats.engine.time.clock import to_local
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.plans.schema import Plan
    from indsats.engine.plans.checks import Finding
    from indsats.engine.ports import PlanText


@dataclass(frozen=True, kw_only=True)
class PlanSummary:
    id: str
    title: str
    version: str
    path: str
    approved_on: date | None
    revision_due: date | None
    revision_overdue: bool


def list_plans(ctx: Context) -> list[PlanSummary]:
    today = to_local(ctx.clock.now()).date()
    found = []
    for plan_id, pf in sorted(ctx.catalog.files().items()):
        due = pf.plan.revision.due_on()
        found.append(
            PlanSummary(
                id=plan_id,
                title=pf.plan.title,
                version=pf.plan.version,
                path=str(pf.path),
                approved_on=pf.plan.revision.approved_on,
                revision_due=due,
                revision_overdue=due is None or due < today,
            )
        )
    return found


def get_plan(ctx: Context, plan_id: str) -> Plan:
    return ctx.catalog.get(plan_id).plan


# -- the plan author's tools: export, graph, validate ----------------------------------------------


def _plan_for(ctx: Context, plan: str, draft: PlanText | None) -> Plan:
    """A plan by id from the catalog, or an author's draft (a plan file's text)."""
    from indsats.engine.plans.schema import parse_plan

    if draft is not None:
        return parse_plan(draft.text, draft.source)
    return ctx.catalog.get(plan).plan


def export(ctx: Context, *, plan_id: str, fmt: str, draft: PlanText | None = None) -> str:
    """The plan as a document (md or html), with Kontaktoplysninger filled from the registered users.

    Contacts are left empty, not an error, when the database is unreachable or not initialised.
    """
    from indsats.engine.org.people import Organisation
    from indsats.engine.plans.document import ContactInfo, export_plan
    from indsats.errors import StorageUnavailable

    plan = _plan_for(ctx, plan_id, draft)
    contacts: dict[str, list[ContactInfo]] = {}
    try:
        with ctx.db.unit_of_work() as uow:
            org = Organisation(uow.repo, plan, to_local(ctx.clock.now()).date())
            for contact in plan.contacts:  # the people granted the role in this plan (in the contact's unit)
                found = []
                for login in org.holders(contact.role, contact.unit):
                    user = uow.repo.get_user(login)
                    if user is not None:
                        found.append(ContactInfo(name=user["name"], email=user["email"]))
                contacts[contact.role] = found
    except StorageUnavailable:
        contacts = {}
    return export_plan(plan, contacts, fmt)


def draw(ctx: Context, *, plan_id: str, fmt: str, draft: PlanText | None = None) -> str:
    """The plan's states and transitions as Mermaid or DOT."""
    from indsats.engine.plans.graph import graph

    return graph(_plan_for(ctx, plan_id, draft), fmt)


@dataclass(frozen=True, kw_only=True)
class Validation:
    """What ``validate`` found: the plan (None if it did not load), findings, and whether users were checked."""

    plan: Plan | None
    findings: list[Finding]
    users_checked: bool
    users_skipped_because: str | None = None


def validate(ctx: Context | None, draft: PlanText) -> Validation:
    """Check a plan file completely: durations (every one, with its line), the schema (``Invalid`` with
    file:line:field), the structure, and, when a database is reachable, the registered users against it."""
    import dataclasses

    from indsats.engine.plans.checks import Finding, Severity, check_durations, check_plan
    from indsats.engine.plans.schema import parse_plan, plan_problems
    from indsats.engine.plans.yamlio import line_of, lines_of, load
    from indsats.errors import StorageUnavailable

    text = draft.text

    def placed(findings: list[Finding], lines: dict[tuple[str | int, ...], int]) -> list[Finding]:
        # A finding about a registered user is not in the file: it gets no line.
        return [
            dataclasses.replace(f, line=line_of(lines, f.path()) if f.path()[:1] in lines else None)
            for f in findings
        ]

    try:
        data, lines = load(text), lines_of(text)
    except Exception:  # not YAML: parse_plan below says where
        data, lines = None, {}
    bad_durations = check_durations(data)
    if bad_durations:
        return Validation(plan=None, findings=placed(bad_durations, lines), users_checked=False,
                          users_skipped_because=_("the plan did not load"))
    if not isinstance(data, dict):
        parse_plan(text, draft.source, complete=False)  # not YAML, or not a mapping: Invalid, with the line
    plan, problems = plan_problems(data, text)
    if plan is None or problems:
        # Every schema error, or every cross-reference problem: the structure is checked once these are fixed.
        found = [Finding(severity=Severity.error, location=".".join(str(p) for p in loc) or "(plan)", message=message)
                 for loc, message in problems]
        return Validation(plan=None, findings=placed(found, lines), users_checked=False,
                          users_skipped_because=_("the plan did not load"))
    users = grants = None
    skipped = None
    if ctx is None:
        skipped = _("no database configured")
    else:
        try:
            with ctx.db.unit_of_work() as uow:
                users, grants = uow.repo.list_users(), uow.repo.list_grants()
        except StorageUnavailable as exc:
            skipped = exc.message
    today = None if ctx is None else to_local(ctx.clock.now()).date()
    findings = placed(check_plan(plan, users, grants, today), lines)
    return Validation(plan=plan, findings=findings, users_checked=users is not None, users_skipped_because=skipped)


def check_organisation(ctx: Context, *, plan_id: str, org: bool) -> Validation:
    """``plans check PLAN [--org]``: the plan's structure and, with ``org``, every state whose responsible
    cannot be resolved in today's organisation (and who would open a case that stops there)."""
    from indsats.engine.plans.checks import check_plan

    plan = ctx.catalog.get(plan_id).plan
    users = grants = None
    if org:
        with ctx.db.unit_of_work() as uow:
            users, grants = uow.repo.list_users(), uow.repo.list_grants()
    findings = check_plan(plan, users, grants, to_local(ctx.clock.now()).date())
    return Validation(plan=plan, findings=findings, users_checked=org,
                      users_skipped_because=None if org else _("not asked (--org)"))
