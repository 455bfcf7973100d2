"""``init``: create or upgrade the schema, and register the first admin on an empty database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.org.users import User, register_first_admin

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

    upgrade(ctx.db)
    with ctx.db.unit_of_work(write=True) as uow:
        admin = register_first_admin(uow.repo, actor, ctx.clock.now())
        uow.commit()
    return InitResult(database=ctx.db.display(), revision=current_revision(ctx.db), admin=admin)
