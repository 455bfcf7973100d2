"""``init``: create or upgrade the schema, and register the first admin on an empty database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.org.users import User, record_unchained_users, register_first_admin
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class InitResult:
    database: str
    revision: str | None
    admin: User | None


def init_database(ctx: Context, *, actor: str) -> InitResult:
    """Idempotent: a second run changes nothing."""
    from indsats.storage.migrate import current_revision, upgrade

    upgrade(ctx.db, calendar=ctx.calendar)
    with ctx.db.unit_of_work(write=True) as uow:
        admin = register_first_admin(uow.repo, actor, ctx.clock.now())
        record_unchained_users(uow.repo, ctx.clock.now())
        uow.commit()
    return InitResult(database=ctx.db.display(), revision=current_revision(ctx.db), admin=admin)


def may_make_key(ctx: Context) -> None:
    """Refuse (``NotAllowed``) to make a new encryption key for a database that holds data under one."""
    from indsats.errors import NotAllowed

    with ctx.db.unit_of_work() as uow:
        current = uow.repo.key_fingerprints().get("current")
        if current is None and not uow.repo.has_sealed_data():
            return
    raise NotAllowed(
        _("this database is sealed under key {key}: no new key is made for it; point INDSATS_KEY_FILE at that key")
        .format(key=current or _("(unrecorded)"))
    )
