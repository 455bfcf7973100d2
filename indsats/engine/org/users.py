"""Registering and listing users, and establishing who the actor is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log.org_chain import record_org_change
from indsats.engine.plans.schema import ROLES
from indsats.errors import Invalid, NotAllowed, NotFound

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.storage.repository import Repository

LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, kw_only=True)
class User:
    """A registered person."""

    login: str
    name: str
    role: str
    email: str | None
    reports_to: str | None
    unit: str | None
    active: bool
    deputy: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(**row)


def require_actor(repo: Repository, login: str) -> User:
    """The acting user: registered and active, or ``NotAllowed``."""
    if not login:
        raise NotAllowed("no user: set INDSATS_USER to your registered login")
    repo.load_chains([login])  # the actor and the leaders above: relations are resolved against them
    row = repo.get_user(login)
    if row is None:
        raise NotAllowed(f"'{login}' is not a registered user (an admin adds users with 'indsats users add')")
    if not row["active"]:
        raise NotAllowed(f"user '{login}' is deactivated")
    return User.from_row(row)


def add_user(
    ctx: Context,
    *,
    actor: str,
    login: str,
    name: str,
    role: str,
    email: str | None = None,
    reports_to: str | None = None,
    unit: str | None = None,
) -> User:
    """Register a user. Only an admin may; the first user is registered by ``init``."""
    if not LOGIN.match(login):
        raise Invalid(f"bad login '{login}': letters, digits, . _ @ - (at most 64)")
    if role not in ROLES:
        raise Invalid(f"unknown role '{role}' (roles: {', '.join(ROLES)})")
    if email is not None and not EMAIL.match(email):
        raise Invalid(f"bad e-mail address for '{login}'")
    if not name.strip():
        raise Invalid("a user needs a name (--name)")
    with ctx.db.unit_of_work(write=True) as uow:
        me = require_admin(uow.repo, actor, does="manages users")
        if uow.repo.get_user(login) is not None:
            raise Invalid(f"user '{login}' exists already")
        if reports_to is not None:
            if reports_to == login:
                raise Invalid(f"'{login}' cannot report to themselves")
            if uow.repo.get_user(reports_to) is None:
                raise NotFound(f"no user '{reports_to}' to report to (add them first)")
        values: dict[str, Any] = dict(
            login=login,
            name=name.strip(),
            role=role,
            email=email,
            reports_to=reports_to,
            unit=unit,
            active=True,
            deputy=None,
            created_at=ctx.clock.now(),
        )
        uow.repo.insert_user(values)
        record_org_change(uow.repo, at=values["created_at"], actor=me.login, kind="user_added", table="users",
                          key={"login": login}, values=values)
        uow.commit()
    return User(**values)


def require_admin(repo: Repository, actor: str, *, does: str = "may do this") -> User:
    """The acting user, if an admin; else ``NotAllowed``: "only an admin <does> ('<actor>' is <role>)"."""
    me = require_actor(repo, actor)
    if me.role != "admin":
        raise NotAllowed(f"only an admin {does} ('{actor}' is {me.role})")
    return me


def register_first_admin(repo: Repository, login: str, at: datetime) -> User | None:
    """On a database with no users, register ``login`` as admin (what ``init`` does)."""
    if repo.count_users() > 0 or not login:
        return None
    values: dict[str, Any] = dict(
        login=login, name=login, role="admin", email=None, reports_to=None, unit=None, active=True, deputy=None,
        created_at=at,
    )
    repo.insert_user(values)
    record_org_change(repo, at=at, actor=None, kind="user_added", table="users", key={"login": login}, values=values)
    return User(**values)


def record_unchained_users(repo: Repository, at: datetime) -> int:
    """Give every user that the organisation chain does not know yet (a database from before the chain)
    one ``user_recorded`` event with the row as it stands, so verify checks them from now on."""
    from indsats.engine.log.org_chain import replay_org

    known = replay_org(repo.iter_org_events(), []).rows["users"]
    n = 0
    for row in repo.list_users():
        if (row["login"],) not in known:
            record_org_change(repo, at=at, actor=None, kind="user_recorded", table="users",
                              key={"login": row["login"]}, values=row)
            n += 1
    return n


def list_users(ctx: Context, *, actor: str) -> list[User]:
    with ctx.db.unit_of_work() as uow:
        require_actor(uow.repo, actor)
        return [User.from_row(r) for r in uow.repo.list_users()]


def set_active(ctx: Context, *, actor: str, login: str, active: bool) -> User:
    """Deactivate (or reactivate) a user; a deactivated user can do nothing."""
    with ctx.db.unit_of_work(write=True) as uow:
        me = require_admin(uow.repo, actor, does="manages users")
        if uow.repo.get_user(login) is None:
            raise NotFound(f"no user '{login}'")
        if login == actor and not active:
            raise Invalid("you cannot deactivate yourself")
        uow.repo.update_user(login, {"active": active})
        record_org_change(uow.repo, at=ctx.clock.now(), actor=me.login,
                          kind="user_reactivated" if active else "user_deactivated", table="users",
                          key={"login": login}, values={"active": active})
        row = uow.repo.get_user(login)
        uow.commit()
    assert row is not None
    return User.from_row(row)


def whoami(ctx: Context, *, actor: str) -> User:
    """The registered, active user ``actor`` (a login proven elsewhere: the socket's peer, an OIDC token)."""
    with ctx.db.unit_of_work() as uow:
        return require_actor(uow.repo, actor)
