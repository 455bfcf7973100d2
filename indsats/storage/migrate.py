"""Bring a database to the newest schema with Alembic; idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

    from indsats.storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: object | None = None, calendar: object | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["calendar"] = calendar  # what a migration that counts working time counts it on
    return config


def upgrade(db: Database, *, calendar: object | None = None) -> None:
    """Create or upgrade the schema in one transaction.

    :param calendar: the installation's ``WorkingCalendar``, for migrations that fill in working time
        (0007: time in state); the default calendar without one."""
    from alembic import command

    from indsats.storage.driver_errors import translated

    from indsats.storage.schema import SchemaState, compare, read_revision, require_current

    db.create_file()
    with translated(db), db.engine.begin() as conn:
        current = read_revision(conn)
        if compare(current) is SchemaState.newer:
            require_current(db, current)  # Alembic would only say it cannot locate the revision
        command.upgrade(alembic_config(conn, calendar), "head")
    db.schema_checked()


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
