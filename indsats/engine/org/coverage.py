"""Nobody left to act: no organisation change may leave a case with nobody who can act on it.

What needs someone on a case is its state (while the case is open), each later step it cannot reach its end
without (``unavoidable_states`` from where it stands: a change that strands a case one advance later strands
it all the same), and each of its running case deadlines that names who must meet it (a closed case's too,
while such a duty outlives the closing). Someone can act there when a person the plan names as responsible
(``Organisation.responsible``: whoever the sweep reminds) may also fire a trigger that moves the case on from
that state, or the trigger that meets that deadline.

Every change that can take that away (``users edit --reports-to/--no-reports-to``, ``users deactivate``,
``users reactivate``, ``users revoke``, ``users grant``; a deputy changes who is told, never who must act) reads ``who_can_act`` before it writes and calls
``require_someone_left`` before it commits: if a case that had someone has nobody now, the change is
refused (``Invalid``: exit 5, the cases by id with the state or deadline and whom the plan names there,
nothing written). A case that had nobody already is shown by ``stuck``; it never blocks the change that
could mend it. A change that only shortens the chain escalations climb (a leader taken from someone who
still acts) is not refused: ``rechain`` re-plans those escalations.

>>> before = who_can_act(ctx, repo)                            # doctest: +SKIP
>>> repo.update_user("emil", {"reports_to": None})             # doctest: +SKIP
>>> require_someone_left(ctx, repo, before, fix="…")           # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.org.people import CaseFacts, organisation
from indsats.engine.plans.checks import unavoidable_states
from indsats.errors import Invalid
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.cases.case import Case
    from indsats.engine.reminders.reminder import RemindedCase
    from indsats.engine.context import Context
    from indsats.engine.org.people import Organisation
    from indsats.engine.plans.schema import Actor
    from indsats.storage.repository import Repository


@dataclass(frozen=True, kw_only=True)
class Need:
    """Where a case needs someone: its state, a later step it must pass through (``ahead``), or one of its
    running case deadlines (``deadline``)."""

    case_id: str
    state: str  # the case's state; for a step ahead, that step
    deadline: str | None
    who: str  # whom the plan names there, as a person reads it (role labels, relations in words)
    ahead: bool = False

    @property
    def key(self) -> tuple[str, str, str | None, bool]:
        return (self.case_id, self.state, self.deadline, self.ahead)

    def text(self) -> str:
        if self.deadline is not None:
            return _("{case_id}, case deadline '{deadline}' ({who})").format(
                case_id=self.case_id, deadline=self.deadline, who=self.who)
        if self.ahead:
            return _("{case_id} on reaching '{state}' ({who})").format(
                case_id=self.case_id, state=self.state, who=self.who)
        return _("{case_id} in '{state}' ({who})").format(case_id=self.case_id, state=self.state, who=self.who)


Served = frozenset[tuple[str, str, str | None, bool]]


def who_can_act(ctx: Context, repo: Repository, *, cases: list[RemindedCase] | None = None) -> Served:
    """Every need of every case that somebody can act on now (``Need.key``): what a change must keep.

    ``cases``: ``repo.cases_owed()``, when the caller has read it already (a change to users and grants leaves
    it as it was: a command reads it once for every check it makes)."""
    return frozenset(need.key for need, able in _needs(ctx, repo, cases) if able)


def left_without(ctx: Context, repo: Repository, before: Served, *, cases: list[RemindedCase] | None = None) -> list[Need]:
    """The needs someone could act on ``before`` that nobody can act on now, by case id."""
    return sorted((need for need, able in _needs(ctx, repo, cases) if not able and need.key in before),
                  key=lambda n: (n.case_id, n.ahead, n.deadline or ""))


def require_someone_left(ctx: Context, repo: Repository, before: Served, *, fix: str,
                         cases: list[RemindedCase] | None = None) -> None:
    """Refuse (``Invalid``, naming the cases) a change that left a case with nobody to act; ``fix`` says what
    the admin can do instead (translated by the caller)."""
    lost = left_without(ctx, repo, before, cases=cases)
    if lost:
        if any(n.ahead for n in lost):  # the caller's fix is about where the cases stand; a step ahead needs a holder
            fix = fix.rstrip(".") + ". " + _("For a step ahead, name someone there first (indsats users grant LOGIN ROLE, indsats "
                           "users edit LOGIN --reports-to LOGIN).")
        raise Invalid(_("after this change nobody could act on {count} case(s): {listed}; nothing was written. {fix}")
                      .format(count=len({n.case_id for n in lost}), listed=listed(lost), fix=fix))


def listed(needs: list[Need], most: int = 20) -> str:
    shown = "; ".join(n.text() for n in needs[:most])
    return shown + (_(" and {count} more").format(count=len(needs) - most) if len(needs) > most else "")


def _needs(ctx: Context, repo: Repository, cases: list[RemindedCase] | None) -> Iterator[tuple[Need, bool]]:
    running: dict[str, list[str]] = defaultdict(list)
    for case_id, name in repo.unmet_case_deadlines():
        running[case_id].append(name)
    orgs: dict[tuple[str, str], Organisation] = {}
    # Cases alike in what the organisation sees of them (plan version, state, running deadlines, opener, unit,
    # caseworker) need the same people: resolved once (a million cases are a few thousand such).
    seen: dict[tuple[object, ...], list[tuple[str, str, str | None, bool, bool]]] = {}
    for case in repo.cases_owed() if cases is None else cases:
        deadlines = tuple(sorted(running.get(case.id, [])))
        key = (case.plan_id, case.plan_version, case.state, case.is_open, deadlines, case.opened_by, case.unit,
               case.assignee)
        if key not in seen:
            plan_key = (case.plan_id, case.plan_version)
            if plan_key not in orgs:
                orgs[plan_key] = organisation(repo, ctx.catalog.pinned(repo, *plan_key), ctx.clock)
            seen[key] = list(_case_needs(orgs[plan_key], case, deadlines))
        for state, who, deadline, ahead, able in seen[key]:
            yield Need(case_id=case.id, state=state, deadline=deadline, who=who, ahead=ahead), able


def _case_needs(org: Organisation, case: Case | RemindedCase, deadlines: tuple[str, ...]
                ) -> Iterator[tuple[str, str, str | None, bool, bool]]:
    """What ``case`` needs someone for: (the state, whom the plan names, the case deadline or None for the
    state, a step ahead, can act)."""
    plan = org.plan
    facts = CaseFacts.of(case)
    if case.is_open and case.state in plan.states:
        # Where it stands, then the steps ahead that every way to its end passes through.
        for name in unavoidable_states(plan, case.state):
            spec = plan.states[name].responsible
            if spec is None:
                continue
            # The triggers that move the case on from there; a state left only by "any state" triggers needs
            # only someone who must act.
            onward = [a for t in plan.transitions if name in t.source and t.dest for a in t.allowed]
            yield name, spec.describe(plan.roles), None, name != case.state, _able(org, spec, onward, facts)
    for name in deadlines:
        spec = plan.case_deadlines[name].responsible if name in plan.case_deadlines else None
        if spec is None or not (case.is_open or plan.outlives_closing(name)):
            continue  # without its own responsible, a deadline falls to whoever must act in the state (above)
        met_by = plan.transition(plan.case_deadlines[name].met_by)
        yield (case.state, spec.describe(plan.roles), name, False,
               _able(org, spec, list(met_by.allowed) if met_by else [], facts))


def _able(org: Organisation, spec: Actor, allowed: list[Actor], facts: CaseFacts) -> bool:
    """Does someone the plan names (``spec``) exist, who may also fire one of ``allowed`` (if any are given)?"""
    owners = org.responsible(spec, facts)
    return any(any(org.matches_as(a, o, facts) for a in allowed) for o in owners) if allowed else bool(owners)
