"""``backup``: an admin copies the whole database to a new file while others keep working (SQLite only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.org.users import require_admin
from indsats.errors import Invalid
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from pathlib import Path

    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class BackupResult:
    database: str
    target: str
    size_bytes: int


def backup_database(ctx: Context, *, actor: str, target: Path) -> BackupResult:
    """Copy the database to ``target`` (a new file, mode 0600). The copy holds every case: admins only."""
    from indsats.storage.backup import copy_sqlite

    if not ctx.db.is_sqlite:
        raise Invalid(_("backup copies a SQLite file; {where} is PostgreSQL: use pg_dump").format(where=ctx.db.display()))
    with ctx.db.unit_of_work() as uow:
        require_admin(uow.repo, actor, does=N_("may back up the database: it holds every case"))
    size = copy_sqlite(ctx.db, target)
    return BackupResult(database=ctx.db.display(), target=str(target), size_bytes=size)
