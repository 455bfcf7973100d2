"""The access log and the grants review: who looked at what, who changed what, who can see what and why.

Restricted to ``admin`` and ``supervisor``. The weekly sample (``sample_access``) is the periodic check
of the log Datatilsynet expects: a random handful of reads and changes, each to be justified.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from indsats.engine.log.events import ACTING, EventKind, VERSIONED
from indsats.engine.org.people import CaseFacts, Organisation, deputy_active
from indsats.engine.org.users import User, require_actor
from indsats.engine.cases.visibility import SEES_EVERY_PLAN, case_not_found, organisation
from indsats.errors import Invalid, NotAllowed, NotFound
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.storage.repository import Repository

AUDITORS = ("admin", "supervisor")


@dataclass(frozen=True, kw_only=True)
class AccessEntry:
    """One read or change of a case."""

    case_id: str
    at: datetime
    login: str
    role: str
    action: str  # 'viewed (show)', 'viewed (page, web)', 'advanced assess', 'note', …
    via: str | None = None  # the door a read came through ('web'); None for the CLI and for changes
    os_login: str | None = None  # the OS login that acted as ``login`` (INDSATS_USER in direct mode), if another


@dataclass(frozen=True, kw_only=True)
class Grant:
    """Why someone can see an open case."""

    case_id: str
    login: str
    role: str
    reason: str


def audit_case(ctx: Context, *, actor: str, case_id: str) -> list[AccessEntry]:
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        _require_auditor(repo, actor)
        if repo.get_case(case_id) is None:
            raise case_not_found(case_id)
        return [
            _entry(repo, row) for row in repo.events_for(case_id)
            if row["actor"] and (row["kind"] == EventKind.viewed.value or EventKind(row["kind"]) in VERSIONED)
        ]


def audit_user(ctx: Context, *, actor: str, login: str) -> list[AccessEntry]:
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        _require_auditor(repo, actor)
        if repo.get_user(login) is None:
            raise NotFound(_("no user '{login}'").format(login=login))
        return [_entry(repo, row) for row in repo.events_by_actor(login, [EventKind.viewed.value])]


def access_review(ctx: Context, *, actor: str) -> list[Grant]:
    """For every open case: who can see it and why (the periodic review Datatilsynet expects)."""
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        _require_auditor(repo, actor)
        everyone = [u for u in repo.list_users() if u["active"]]
        grants: list[Grant] = []
        for case in repo.list_cases(is_open=True):
            plan = ctx.catalog.pinned(repo, case.plan_id, case.plan_version)
            reasons: dict[str, list[str]] = {}
            reasons.setdefault(case.opened_by, []).append(_("opened it"))
            for login in sorted(repo.case_actors(case.id, ACTING)):
                reasons.setdefault(login, []).append(_("acted on it"))
            org = organisation(repo, plan, ctx.clock)
            facts = CaseFacts.of(case)
            if case.assignee:
                reasons.setdefault(case.assignee, []).append(_("caseworker"))
            spec = plan.states[case.state].responsible
            owners = [] if spec is None else org.responsible(spec, facts)
            for owner in owners:
                reasons.setdefault(owner, []).append(_("must act now"))
            above_owner, above_opener = _("leader above who must act"), _("leader above the opener")
            for base, why in [*((o, above_owner) for o in owners), (case.opened_by, above_opener)]:
                for leader in org.chain_above(base):
                    if why not in reasons.get(leader, []):
                        reasons.setdefault(leader, []).append(why)
            for user in everyone:
                if user["role"] in SEES_EVERY_PLAN:
                    reasons.setdefault(user["login"], []).append(_("role {role}").format(role=user["role"]))
                for role in sorted(org.roles_of(user["login"], case.unit) & set(plan.sees_all)):
                    reasons.setdefault(user["login"], []).append(
                        _("role {role} in plan {plan_id}").format(role=role, plan_id=plan.id))
            for login in list(reasons):  # a deputy standing in sees what the person sees
                row = repo.get_user(login)
                if row is not None and deputy_active(row, org.today) and row["deputy"] not in reasons:
                    reasons.setdefault(row["deputy"], []).append(_("deputy for {login}").format(login=login))

            grants.extend(
                Grant(case_id=case.id, login=login, role=_role_in(repo, org, login, case.unit), reason="; ".join(why))
                for login, why in sorted(reasons.items())
            )
        return grants


def sample_access(
    ctx: Context, *, actor: str, size: int = 20, days: int = 7, rng: random.Random | None = None
) -> list[AccessEntry]:
    """A random sample of ``size`` reads and changes from the last ``days`` days, oldest first."""
    if size < 1 or days < 1:
        raise Invalid(_("the sample needs a size and a number of days of at least 1"))
    with ctx.db.unit_of_work() as uow:
        _require_auditor(uow.repo, actor)
        return draw_sample(uow.repo, since=ctx.clock.now() - timedelta(days=days), size=size, rng=rng)


def draw_sample(
    repo: Repository, *, since: datetime, size: int, rng: random.Random | None = None
) -> list[AccessEntry]:
    """Up to ``size`` entries drawn at random (without repeats) from the reads and changes since ``since``."""
    kinds = [EventKind.viewed.value, *(kind.value for kind in VERSIONED)]
    rows = [row for row in repo.events_since(since, kinds) if row["actor"]]
    chosen = (rng or random.SystemRandom()).sample(rows, min(size, len(rows)))
    chosen.sort(key=lambda row: (row["at"], row["case_id"], row["seq"]))
    return [_entry(repo, row) for row in chosen]


def _role_in(repo: Repository, org: Organisation, login: str, unit: str | None) -> str:
    """The plan roles ``login`` holds for a case in ``unit``, else the installation role."""
    user = repo.get_user(login)
    return ", ".join(sorted(org.roles_of(login, unit))) or (user["role"] if user else None) or "?"


def _require_auditor(repo: Repository, actor: str) -> User:
    me = require_actor(repo, actor)
    if me.installation_role not in AUDITORS:
        raise NotAllowed(_("only {roles} may read the access log ('{actor}' is {what})").format(
            roles=_(" or ").join(AUDITORS), actor=actor, what=me.what))
    return me


def _entry(repo: Repository, row: dict[str, object]) -> AccessEntry:
    login = str(row["actor"])
    user = repo.get_user(login)
    kind = str(row["kind"])
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    via = payload.get("via") if kind == EventKind.viewed.value else None
    if kind == EventKind.viewed.value:
        action = f"viewed ({payload.get('command', '?')}{'' if via is None else ', ' + str(via)})"
    else:
        action = f"{kind} {row['trigger'] or ''}".strip()
    return AccessEntry(
        case_id=str(row["case_id"]), at=row["at"], login=login, role=user["role"] if user else "?", action=action,  # type: ignore[arg-type]
        via=None if via is None else str(via),
        os_login=str(payload["os_login"]) if payload.get("os_login") else None,
    )
