"""Registering, listing and editing users, and establishing who the actor is.

A user holds the installation's own role (``admin``, ``supervisor``) or none, and any number of grants:
a role of one plan, optionally only for one unit (``grants.py``).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log.org_chain import record_org_change
from indsats.engine.org.coverage import require_someone_left, who_can_act
from indsats.engine.org.rechain import rechain
from indsats.engine.plans.schema import INSTALLATION_ROLES
from indsats.errors import Invalid, NotAllowed, NotFound
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.storage.repository import Repository

LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EVERY_PLAN = "*"


@dataclass(frozen=True, kw_only=True)
class Grant:
    """A role of a plan held by a user (``plan`` ``*``: every plan declaring it), optionally in one unit."""

    role: str
    plan: str
    unit: str | None = None

    def describe(self) -> str:
        where = _("every plan") if self.plan == EVERY_PLAN else self.plan
        return f"{self.role} ({where}{', ' + self.unit if self.unit else ''})"


@dataclass(frozen=True, kw_only=True)
class User:
    """A registered person. ``role`` sums up what they hold: the installation role, else their plan roles."""

    login: str
    name: str
    role: str | None
    email: str | None
    reports_to: str | None
    unit: str | None
    active: bool
    deputy: str | None = None
    deputy_from: date | None = None
    deputy_until: date | None = None
    handed_over_to: str | None = None
    created_at: datetime | None = None
    installation_role: str | None = None
    grants: tuple[Grant, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any], grants: list[dict[str, Any]] | None = None) -> User:
        held = tuple(Grant(role=g["role"], plan=g["plan_id"], unit=g["unit"]) for g in grants or [])
        roles = sorted({g.role for g in held})
        # Only the installation's own roles count in users.role (a plan role there is from before grants).
        installation = row["role"] if row["role"] in INSTALLATION_ROLES else None
        summary = installation or (", ".join(roles) if roles else None)
        return cls(
            login=row["login"], name=row["name"], role=summary, email=row["email"], reports_to=row["reports_to"],
            unit=row["unit"], active=row["active"], deputy=row.get("deputy"), deputy_from=row.get("deputy_from"),
            deputy_until=row.get("deputy_until"), handed_over_to=row.get("handed_over_to"),
            created_at=row.get("created_at"), installation_role=installation, grants=held,
        )

    @property
    def is_admin(self) -> bool:
        return self.installation_role == "admin"

    @property
    def held(self) -> str:
        """What the user holds, for a person to read: the installation role, then each grant."""
        parts = ([self.installation_role] if self.installation_role else []) + [g.describe() for g in self.grants]
        return "; ".join(parts) or _("no role yet")

    @property
    def what(self) -> str:
        """What to call the user in a refusal: their role(s), or that they hold none."""
        return self.role or _("holds no role")


# The users built from one organisation (its ``organisation_key``), kept beside it while it is current: a User
# is frozen, and a long-lived process (the server) asks for the same few actors command after command.
_BUILT: weakref.WeakKeyDictionary[object, dict[str, User]] = weakref.WeakKeyDictionary()


def load_user(repo: Repository, login: str) -> User | None:
    key = repo.organisation_key()
    built = None if key is None else _BUILT.get(key)
    if built is not None and login in built:
        return built[login]
    row = repo.get_user(login)
    user = None if row is None else User.from_row(row, repo.grants_of(login))
    if key is not None and user is not None:
        if built is None:
            built = _BUILT.setdefault(key, {})
        built[login] = user
    return user


def require_actor(repo: Repository, login: str) -> User:
    """The acting user: registered and active, or ``NotAllowed``."""
    if not login:
        raise NotAllowed(_("no user: set INDSATS_USER to your registered login"))
    repo.load_chains([login])  # the actor and the leaders above: relations are resolved against them
    user = load_user(repo, login)
    if user is None:
        raise NotAllowed(_("'{login}' is not a registered user (an admin adds users with 'indsats users add')").format(login=login))
    if not user.active:
        raise NotAllowed(_("user '{login}' is deactivated").format(login=login))
    return user


def require_admin(repo: Repository, actor: str, *, does: str = N_("manages users")) -> User:
    """The acting user, if an admin; else ``NotAllowed``: "only an admin <does> ('<actor>' is <role>)"
    (``does``: marked with ``N_``, translated here)."""
    me = require_actor(repo, actor)
    if not me.is_admin:
        raise NotAllowed(_("only an admin {does} ('{actor}' is {what})").format(does=_(does), actor=actor, what=me.what))
    return me


def record_user(repo: Repository, *, at: datetime, actor: str | None, kind: str, login: str, values: dict[str, Any],
                os_login: str | None = None) -> None:
    """The organisation chain's event for a change to one user row (every writer of ``users`` calls it)."""
    record_org_change(repo, at=at, actor=actor, kind=kind, table="users", key={"login": login}, values=values,
                      os_login=os_login)


def record_grant(
    repo: Repository, *, at: datetime, actor: str | None, kind: str, grant: dict[str, Any], removed: bool = False,
    os_login: str | None = None,
) -> None:
    """The organisation chain's event for a grant made (every column) or taken away."""
    key = {k: grant[k] for k in ("login", "plan_id", "role")}
    record_org_change(repo, at=at, actor=actor, kind=kind, table="grants", key=key, values=grant, removed=removed,
                      os_login=os_login)


def require_user(repo: Repository, login: str) -> dict[str, Any]:
    row = repo.get_user(login)
    if row is None:
        raise NotFound(_("no user '{login}'").format(login=login))
    return row


def require_other_active(repo: Repository, login: str, other: str, *, as_what: str) -> dict[str, Any]:
    """``other`` as ``login``'s leader, deputy or successor (``as_what``): another registered, active user."""
    if other == login:
        raise Invalid(_("'{login}' cannot be their own {as_what}").format(login=login, as_what=as_what))
    row = repo.get_user(other)
    if row is None:
        raise NotFound(_("no user '{other}' (add them first)").format(other=other))
    if not row["active"]:
        raise Invalid(_("'{other}' is deactivated; choose an active {as_what}").format(other=other, as_what=as_what))
    return row


def declaring_plans(ctx: Context, role: str) -> list[str]:
    """The ids of the plans on offer that declare ``role``."""
    return sorted(plan_id for plan_id, pf in ctx.catalog.files().items() if role in pf.plan.roles)


def known_roles(ctx: Context) -> list[str]:
    return sorted({*INSTALLATION_ROLES, *(r for pf in ctx.catalog.files().values() for r in pf.plan.roles)})


def add_user(
    ctx: Context,
    *,
    actor: str,
    login: str,
    name: str,
    role: str | None = None,
    email: str | None = None,
    reports_to: str | None = None,
    unit: str | None = None,
) -> User:
    """Register a user. Only an admin may; the first user is registered by ``init``.

    ``role`` is the installation's own (admin, supervisor) or a grant in every plan on offer declaring it.
    """
    if not LOGIN.match(login):
        raise Invalid(_("bad login '{login}': letters, digits, . _ @ - (at most 64)").format(login=login))
    plans = [] if role is None or role in INSTALLATION_ROLES else declaring_plans(ctx, role)
    if role is not None and role not in INSTALLATION_ROLES and not plans:
        raise Invalid(_("unknown role '{role}': no plan declares it (roles: {value})").format(role=role, value=', '.join(known_roles(ctx))))
    if email is not None and not EMAIL.match(email):
        raise Invalid(_("bad e-mail address for '{login}'").format(login=login))
    if not name.strip():
        raise Invalid(_("a user needs a name (--name)"))
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        if repo.get_user(login) is not None:
            raise Invalid(_("user '{login}' exists already").format(login=login))
        _check_leader(repo, login, reports_to)
        now = ctx.clock.now()
        values: dict[str, Any] = dict(
            login=login, name=name.strip(), role=role if role in INSTALLATION_ROLES else None, email=email,
            reports_to=reports_to, unit=unit, active=True, deputy=None, created_at=now,
        )
        repo.insert_user(values)
        record_user(repo, at=now, actor=me.login, kind="user_added", login=login, values=values, os_login=ctx.os_login)
        for plan_id in plans:
            grant = dict(login=login, plan_id=plan_id, role=role, unit=None, granted_at=now)
            repo.insert_grant(grant)
            record_grant(repo, at=now, actor=me.login, kind="grant_added", grant=grant, os_login=ctx.os_login)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


def _check_leader(repo: Repository, login: str, reports_to: str | None) -> None:
    if reports_to is None:
        return
    require_other_active(repo, login, reports_to, as_what="leader")
    seen = {login}
    current: str | None = reports_to
    while current is not None:  # reporting to someone below oneself would make a cycle
        if current in seen:
            raise Invalid(_("'{login}' cannot report to '{reports_to}': '{reports_to}' reports (up the chain) to '{login}'").format(login=login, reports_to=reports_to))
        seen.add(current)
        row = repo.get_user(current)
        current = row["reports_to"] if row else None


def register_first_admin(repo: Repository, login: str, at: datetime) -> User | None:
    """On a database with no users, register ``login`` as admin (what ``init`` does)."""
    if repo.count_users() > 0 or not login:
        return None
    values: dict[str, Any] = dict(
        login=login, name=login, role="admin", email=None, reports_to=None, unit=None, active=True, deputy=None,
        created_at=at,
    )
    repo.insert_user(values)
    record_user(repo, at=at, actor=None, kind="user_added", login=login, values=values)
    return User.from_row(values)


def record_unchained_users(repo: Repository, at: datetime) -> int:
    """Give every user and grant that the organisation chain does not know yet (a database from before the
    chain, or grants from the migration that made roles per plan) one event with the row as it stands, so
    verify checks them from now on."""
    from indsats.engine.log.org_chain import replay_org

    rows = replay_org(repo.iter_org_events(), []).rows
    n = 0
    for row in repo.list_users():
        if (row["login"],) not in rows["users"]:
            record_user(repo, at=at, actor=None, kind="user_recorded", login=row["login"], values=row)
            n += 1
    for grant in repo.list_grants(every_column=True):
        if (grant["login"], grant["plan_id"], grant["role"]) not in rows["grants"]:
            record_grant(repo, at=at, actor=None, kind="grant_recorded", grant=grant)
            n += 1
    return n


def list_users(ctx: Context, *, actor: str) -> list[User]:
    with ctx.db.unit_of_work() as uow:
        require_actor(uow.repo, actor)
        by_login: dict[str, list[dict[str, Any]]] = {}
        for grant in uow.repo.list_grants():
            by_login.setdefault(grant["login"], []).append(grant)
        return [User.from_row(r, by_login.get(r["login"], [])) for r in uow.repo.list_users()]


_UNCHANGED: Any = object()


def edit_user(
    ctx: Context,
    *,
    actor: str,
    login: str,
    name: str | None = None,
    email: str | None = None,
    reports_to: str | None = _UNCHANGED,
    unit: str | None = None,
) -> User:
    """Change a user's name, e-mail, leader (None: no leader) or unit. The next reminder follows the change.

    A new leader (or none) is refused (``Invalid``) when it would leave a case with nobody who can act on it
    (``coverage``); one that only shortens the chain escalations climb is not.
    """
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise Invalid(_("a user needs a name (--name)"))
        values["name"] = name.strip()
    if email is not None:
        if not EMAIL.match(email):
            raise Invalid(_("bad e-mail address for '{login}'").format(login=login))
        values["email"] = email
    if unit is not None:
        values["unit"] = unit.strip() or None
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        row = require_user(repo, login)
        if reports_to is not _UNCHANGED:
            _check_leader(repo, login, reports_to)
            values["reports_to"] = reports_to
        if not values:
            raise Invalid(_("nothing to change: give --name, --email, --reports-to, --no-reports-to or --unit"))
        # Who acts on a case can follow the reports-to chain (the opener's leader, the leader's leader):
        # a new leader, or none, may not leave a case with nobody who can act on it.
        new_leader = "reports_to" in values and values["reports_to"] != row["reports_to"]
        owed = repo.cases_owed() if new_leader else []  # read once: a change to users leaves the cases as they are
        before = who_can_act(ctx, repo, cases=owed) if new_leader else frozenset()
        repo.update_user(login, values)
        if new_leader:
            require_someone_left(ctx, repo, before, cases=owed, fix=_(
                "Give '{login}' a leader who can act there (indsats users edit {login} --reports-to LOGIN), or "
                "let those cases move on first").format(login=login))
        at = ctx.clock.now().replace(microsecond=0)
        record_user(repo, at=at, actor=me.login, kind="user_changed", login=login, values=values,
                    os_login=ctx.os_login)
        if "reports_to" in values:
            rechain(ctx, repo, actor=me.login, at=at)  # the escalations still to come climb the new chain, as deep as it goes
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


def reactivate_user(ctx: Context, *, actor: str, login: str) -> User:
    """Let a deactivated user act (and receive reminders) again. The reports and caseworkers moved at their
    handover stay moved; duties still resolved through them (the cases they opened) are theirs again, so it is
    refused, like every organisation change, if a case would then have nobody who can act on it."""
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        row = require_user(repo, login)
        if row["active"]:
            raise Invalid(_("user '{login}' is active already").format(login=login))
        values = {"active": True, "handed_over_to": None}
        owed = repo.cases_owed()
        before = who_can_act(ctx, repo, cases=owed)
        repo.update_user(login, values)
        # Their duties come back from whoever took over: a role revoked meanwhile may leave them unable to act.
        require_someone_left(ctx, repo, before, cases=owed, fix=_(
            "Grant '{login}' the roles those steps need first (indsats users grant {login} ROLE)").format(login=login))
        record_user(repo, at=ctx.clock.now(), actor=me.login, kind="user_reactivated", login=login, values=values, os_login=ctx.os_login)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


def whoami(ctx: Context, *, actor: str) -> User:
    """The registered, active user ``actor`` (a login proven elsewhere: the socket's peer, an OIDC token)."""
    with ctx.db.unit_of_work() as uow:
        return require_actor(uow.repo, actor)
