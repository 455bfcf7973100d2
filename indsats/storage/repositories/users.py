"""Users: who is registered, their roles and reports-to chains (read once per transaction, then cached)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, insert, select, update

from indsats.storage.models import grants, users
from indsats.storage.repositories.base import Queries, Row

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# Built once: constructing a statement costs more than SQLite running it.
_GET_USER = select(users).where(users.c.login == bindparam("login"))


def _user_chains() -> Any:
    """The users named in ``:logins`` and everyone above them (a recursive CTE; UNION stops at cycles)."""
    chain = (
        select(users.c.login, users.c.reports_to)
        .where(users.c.login.in_(bindparam("logins", expanding=True)))
        .cte("chain", recursive=True)
    )
    parent = users.alias("parent")
    chain = chain.union(select(parent.c.login, parent.c.reports_to).where(parent.c.login == chain.c.reports_to))
    return select(users).where(users.c.login.in_(select(chain.c.login)))


_GET_USER_CHAINS = _user_chains()
_USERS_WITH_ROLE = (
    select(users).where(users.c.role == bindparam("role"), users.c.active.is_(True)).order_by(users.c.login)
)
_GRANTS_OF = (
    select(grants.c.login, grants.c.plan_id, grants.c.role, grants.c.unit)
    .where(grants.c.login.in_(bindparam("logins", expanding=True)))
    .order_by(grants.c.login, grants.c.plan_id, grants.c.role)
)
_HOLDERS = (
    select(users, grants.c.unit.label("grant_unit"))
    .join(grants, grants.c.login == users.c.login)
    .where(
        grants.c.role == bindparam("role"),
        grants.c.plan_id.in_([bindparam("plan_id"), "*"]),
        users.c.active.is_(True),
    )
    .order_by(users.c.login)
)


class UserRepository(Queries):
    """Users, with a per-transaction cache of rows and of role lists."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        # Users are read again and again while resolving reports-to chains; within one transaction
        # they change only through this repository, which keeps the cache honest.
        self._users: dict[str, Row | None] = {}
        self._roles: dict[str, list[Row]] = {}  # users_with_role, kept honest the same way
        self._holders: dict[tuple[str, str], list[Row]] = {}  # holders_of, likewise
        self._grants: dict[str, list[Row]] = {}
        self._deputised: dict[str, list[Row]] = {}

    def get_user(self, login: str) -> Row | None:
        if login not in self._users:
            row = self.conn.execute(_GET_USER, {"login": login}).mappings().first()
            self._users[login] = dict(row) if row else None
        found = self._users[login]
        return None if found is None else dict(found)

    def organisation_key(self) -> object | None:
        """An object standing for the organisation (users, grants) as this transaction sees it, alive while that
        is current, so what is worked out from it can be kept beside it; None here: not known, keep nothing."""
        return None

    def load_chains(self, logins: Iterable[str | None]) -> None:
        """Read these users and everyone above them in the reports-to chain, in one query, into the cache."""
        wanted = sorted({login for login in logins if login and login not in self._users})
        if not wanted:
            return
        loaded = []
        for row in self.conn.execute(_GET_USER_CHAINS, {"logins": wanted}).mappings():
            self._users[row["login"]] = dict(row)
            loaded.append(row["login"])
        for login in wanted:
            self._users.setdefault(login, None)
        self._load_grants(loaded)

    def _load_grants(self, logins: Iterable[str]) -> None:
        wanted = sorted({login for login in logins if login not in self._grants})
        if not wanted:
            return
        for login in wanted:
            self._grants[login] = []
        for row in self.conn.execute(_GRANTS_OF, {"logins": wanted}).mappings():
            self._grants[row["login"]].append(dict(row))

    def insert_user(self, values: Row) -> None:
        self.conn.execute(insert(users).values(**values))
        self._forget_users()

    def update_user(self, login: str, values: Row) -> None:
        self.conn.execute(update(users).where(users.c.login == login).values(**values))
        self._forget_users()

    def _forget_users(self) -> None:
        self._users.clear()
        self._roles.clear()
        self._holders.clear()
        self._grants.clear()
        self._deputised.clear()

    # -- grants: a role of a plan (``*``: every plan declaring it), optionally in one unit ----------------

    def grants_of(self, login: str) -> list[Row]:
        """The user's grants: ``plan_id`` (``*`` for every plan declaring the role), ``role``, ``unit``."""
        self._load_grants([login])
        return [dict(r) for r in self._grants[login]]

    def holders_of(self, role: str, plan_id: str) -> list[Row]:
        """Active users granted ``role`` in ``plan_id`` (or in every plan), each with its ``grant_unit``."""
        key = (role, plan_id)
        if key not in self._holders:
            rows = [dict(r) for r in self.conn.execute(_HOLDERS, {"role": role, "plan_id": plan_id}).mappings()]
            self._holders[key] = rows
            for row in rows:
                self._users.setdefault(row["login"], {k: v for k, v in row.items() if k != "grant_unit"})
        return [dict(r) for r in self._holders[key]]

    def deputised_by(self, login: str) -> list[Row]:
        """The users who named ``login`` as their deputy (whatever the dates)."""
        if login not in self._deputised:
            query = select(users).where(users.c.deputy == login).order_by(users.c.login)
            self._deputised[login] = [dict(r) for r in self.conn.execute(query).mappings()]
        return [dict(r) for r in self._deputised[login]]

    def users_reporting_to(self, login: str) -> list[Row]:
        query = select(users).where(users.c.reports_to == login).order_by(users.c.login)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def insert_grant(self, values: Row) -> None:
        self.conn.execute(insert(grants).values(**values))
        self._forget_users()

    def delete_grants(self, login: str, role: str, plan_id: str | None) -> int:
        """Remove the user's grants of ``role`` in ``plan_id`` (every plan when None); how many went."""
        where = and_(grants.c.login == login, grants.c.role == role)
        if plan_id is not None:
            where = and_(where, grants.c.plan_id == plan_id)
        done = self.conn.execute(grants.delete().where(where)).rowcount
        self._forget_users()
        return int(done)

    def list_grants(self, *, every_column: bool = False) -> list[Row]:
        columns = list(grants.c) if every_column else [grants.c.login, grants.c.plan_id, grants.c.role, grants.c.unit]
        query = select(*columns).order_by(grants.c.login, grants.c.plan_id, grants.c.role)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def list_users(self) -> list[Row]:
        return [dict(r) for r in self.conn.execute(select(users).order_by(users.c.login)).mappings()]

    def count_users(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(users)).scalar_one())

    def users_with_role(self, role: str) -> list[Row]:
        if role not in self._roles:
            self._roles[role] = [dict(r) for r in self.conn.execute(_USERS_WITH_ROLE, {"role": role}).mappings()]
            for row in self._roles[role]:
                self._users.setdefault(row["login"], row)
        return [dict(r) for r in self._roles[role]]
