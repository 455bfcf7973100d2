"""Deputies: while a person is away, their deputy receives their reminders and may act in their place.

``users deputy LOGIN --to LOGIN [--from DATE] [--until DATE]``; both dates are local days and included.
What a deputy does is recorded as theirs, on behalf of the person ("dora for lea").
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from indsats.engine.org.users import User, load_user, record_user, require_admin, require_other_active, require_user
from indsats.errors import Invalid
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context


def set_deputy(
    ctx: Context, *, actor: str, login: str, deputy: str, start: date | None = None, end: date | None = None
) -> User:
    """Name ``deputy`` for ``login`` from ``start`` (None: now) until ``end`` (None: until cleared)."""
    if start is not None and end is not None and end < start:
        raise Invalid(_("--until {end} is before --from {start}").format(end=end, start=start))
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        require_user(repo, login)
        row = require_other_active(repo, login, deputy, as_what="deputy")
        if row.get("deputy") == login:
            raise Invalid(_("'{deputy}' has named '{login}' as their own deputy; two people cannot stand in for each other").format(deputy=deputy, login=login))
        values = {"deputy": deputy, "deputy_from": start, "deputy_until": end}
        repo.update_user(login, values)
        record_user(repo, at=ctx.clock.now(), actor=me.login, kind="deputy_set", login=login, values=values, os_login=ctx.os_login)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user


def clear_deputy(ctx: Context, *, actor: str, login: str) -> User:
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        me = require_admin(repo, actor)
        if not require_user(repo, login).get("deputy"):
            raise Invalid(_("'{login}' has no deputy").format(login=login))
        values = {"deputy": None, "deputy_from": None, "deputy_until": None}
        repo.update_user(login, values)
        record_user(repo, at=ctx.clock.now(), actor=me.login, kind="deputy_cleared", login=login, values=values, os_login=ctx.os_login)
        user = load_user(repo, login)
        uow.commit()
    assert user is not None
    return user
