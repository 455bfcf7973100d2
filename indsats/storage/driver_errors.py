"""Driver errors, translated once: every SQLAlchemy error leaves storage as an ``IndsatsError`` a coordinator can act on.

A lock, a read-only or full disk, a missing schema and a lost server each get their own sentence;
a concurrent change is a ``Conflict`` (exit 6), everything else ``StorageUnavailable`` (exit 7).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from indsats.errors import Conflict, IndsatsError, StorageUnavailable

if TYPE_CHECKING:
    from indsats.storage.database import Database


@contextmanager
def translated(db: Database) -> Iterator[None]:
    """Run the block with SQLAlchemy errors raised as ``IndsatsError`` (migrations, backup, raw connections)."""
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, db) from None


def translate(exc: BaseException, db: Database) -> IndsatsError:
    """Turn a driver error (SQLAlchemy's, or the DBAPI driver's own on the hot path) into one line a coordinator
    can act on."""
    if isinstance(exc, IndsatsError):
        return exc
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    lower = text.lower()
    where = db.display()
    kinds = {c.__name__ for c in type(exc).__mro__}  # SQLAlchemy's classes and the drivers' share these names
    if "IntegrityError" in kinds:
        return Conflict(f"a concurrent change was detected ({_short(text)}); nothing was written, try again")
    if "database is locked" in lower or "database table is locked" in lower:
        return StorageUnavailable(
            f"the database {where} is locked by another process (waited {db.busy_timeout_ms} ms); "
            "nothing was written, try again"
        )
    if "readonly" in lower or "read-only" in lower:
        return StorageUnavailable(f"the database {where} is read-only; nothing was written")
    if "disk is full" in lower or "no space" in lower:
        return StorageUnavailable(f"the disk holding {where} is full; nothing was written")
    if "no such table" in lower or ("relation" in lower and "does not exist" in lower):
        return StorageUnavailable(f"the database {where} is not initialised: run 'indsats init'")
    if "unable to open database" in lower or "disk i/o error" in lower:
        # SQLite says no more than this when it cannot create its -wal/-shm files or grow them: look why.
        return _file_problem(db) or StorageUnavailable(f"cannot open the database {where}: {_short(text)}")
    if "could not serialize" in lower or "deadlock" in lower:
        return Conflict("a concurrent change was detected; nothing was written, try again")
    if kinds & {"OperationalError", "InterfaceError", "DBAPIError", "DatabaseError"}:
        return StorageUnavailable(f"the database {where} is unavailable: {_short(text)}")
    return StorageUnavailable(f"database error on {where}: {_short(text)}")


def _file_problem(db: Database) -> StorageUnavailable | None:
    """A read-only or full file system under a SQLite file, if that is what stopped it."""
    path = db.path
    if path is None:
        return None
    where = db.display()
    try:
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return StorageUnavailable(
                f"the database {where} is read-only (SQLite must write beside the file, even to read); nothing was written"
            )
        free = os.statvfs(path.parent)
        if free.f_bavail * free.f_frsize < 256 * 1024:
            return StorageUnavailable(f"the disk holding {where} is full; nothing was written")
    except OSError:
        return None
    return None


def _short(text: str) -> str:
    return text if len(text) <= 160 else text[:157] + "..."
