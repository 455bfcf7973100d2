"""Which schema revision a database is at, and whether this indsats can work on it.

Every command checks the revision on its first connection (one SELECT): an older database must be
upgraded by ``indsats init`` first, and a newer one was written by a newer indsats and is left alone.
The expected revision is the newest migration file's number (files are ``NNNN_what.py``, revision
``NNNN``), read from the file names so the check needs no Alembic import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from indsats.errors import StorageUnavailable
from indsats.i18n import _

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from indsats.storage.database import Database

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


class SchemaState(Enum):
    """How a database's revision compares with the one this indsats expects."""

    current = "current"
    older = "older"
    newer = "newer"
    uninitialised = "uninitialised"
    missing = "missing"  # no SQLite file at all


@dataclass(frozen=True, kw_only=True)
class SchemaStatus:
    database: str
    current: str | None
    expected: str
    state: SchemaState

    @property
    def ok(self) -> bool:
        return self.state is SchemaState.current


@lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """Every revision this indsats ships, oldest first."""
    found = sorted(m.group(1) for p in VERSIONS.iterdir() if (m := _REVISION_FILE.match(p.name)))
    return tuple(found)


def expected_revision() -> str:
    return known_revisions()[-1]


def compare(current: str | None) -> SchemaState:
    if current is None:
        return SchemaState.uninitialised
    known = known_revisions()
    if current == known[-1]:
        return SchemaState.current
    if current in known:
        return SchemaState.older
    return SchemaState.newer  # a revision we do not know can only come from a later release


def read_revision(conn: Connection) -> str | None:
    """The revision stamped in ``alembic_version``; None when the table is missing or empty."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_status(db: Database) -> SchemaStatus:
    """Read, never write: for ``indsats db status`` and ``indsats health``."""
    path = db.path
    if path is not None and not path.exists():
        return SchemaStatus(database=db.display(), current=None, expected=expected_revision(), state=SchemaState.missing)
    with db.connect() as conn:
        current = read_revision(conn)
        conn.rollback()
    return SchemaStatus(database=db.display(), current=current, expected=expected_revision(), state=compare(current))


def require_current(db: Database, current: str | None) -> None:
    """Raise the error a command ends with when the database is not at the expected revision."""
    state = compare(current)
    where = db.display()
    if state is SchemaState.older:
        raise StorageUnavailable(
            f"the database {where} is at schema revision {current}, this indsats expects {expected_revision()}: "
            "run 'indsats init' to upgrade"
        )
    if state is SchemaState.newer:
        raise StorageUnavailable(
            f"the database {where} was written by a newer indsats (revision {current}; this one knows up to "
            f"{expected_revision()}): upgrade indsats"
        )
    if state is SchemaState.uninitialised:
        raise StorageUnavailable(_("the database {where} is not initialised: run 'indsats init'").format(where=where))
