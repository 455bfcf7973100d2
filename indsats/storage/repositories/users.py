"""Users: who is registered, their roles and reports-to chains (read once per transaction, then cached)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, insert, select, update

from indsats.storage.models import users
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


class UserRepository(Queries):
    """Users, with a per-transaction cache of rows and of role lists."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        # Users are read again and again while resolving reports-to chains; within one transaction
        # they change only through this repository, which keeps the cache honest.
        self._users: dict[str, Row | None] = {}
        self._roles: dict[str, list[Row]] = {}  # users_with_role, kept honest the same way

    def get_user(self, login: str) -> Row | None:
        if login not in self._users:
            row = self.conn.execute(_GET_USER, {"login": login}).mappings().first()
            self._users[login] = dict(row) if row else None
        found = self._users[login]
        return None if found is None else dict(found)

    def load_chains(self, logins: Iterable[str | None]) -> None:
        """Read these users and everyone above them in the reports-to chain, in one query, into the cache."""
        wanted = sorted({login for login in logins if login and login not in self._users})
        if not wanted:
            return
        for row in self.conn.execute(_GET_USER_CHAINS, {"logins": wanted}).mappings():
            self._users[row["login"]] = dict(row)
        for login in wanted:
            self._users.setdefault(login, None)

    def insert_user(self, values: Row) -> None:
        self.conn.execute(insert(users).values(**values))
        self._users.pop(values["login"], None)
        self._roles.clear()

    def update_user(self, login: str, values: Row) -> None:
        self.conn.execute(update(users).where(users.c.login == login).values(**values))
        self._users.pop(login, None)
        self._roles.clear()

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
