"""A consistent online copy of a SQLite database, through SQLite's own backup API.

The copy is taken in one step from one read transaction, so it is the database as of one commit even
while other processes keep writing (WAL lets them). The new file is created owner-only (0600) and
never replaces an existing one. PostgreSQL has its own tool for this: ``pg_dump``.

>>> copy_sqlite(Database("sqlite:////srv/indsats.db"), Path("/backup/indsats-2026-03-02.db"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

from indsats.adapters.files import create_private
from indsats.errors import Invalid, StorageUnavailable
from indsats.i18n import N_, _
from indsats.storage.driver_errors import translated

if TYPE_CHECKING:
    from pathlib import Path

    from indsats.storage.database import Database


def copy_sqlite(db: Database, target: Path) -> int:
    """Copy the SQLite database ``db`` into the new file ``target``; return the copy's size in bytes.

    :raises Invalid: ``db`` is not a SQLite file, or ``target`` already exists or cannot be created.
    :raises StorageUnavailable: the database cannot be read.
    """
    source_path = db.path
    if source_path is None:
        where = db.display()
        raise Invalid(_("backup copies a SQLite file; {where} is not one: use pg_dump for PostgreSQL").format(where=where))
    db.require_file()
    os.close(create_private(target, exists=N_("already exists; a backup never overwrites a file: choose a new name")))
    try:
        with translated(db), db.engine.connect() as conn:
            source = conn.connection.driver_connection
            assert isinstance(source, sqlite3.Connection)
            destination = sqlite3.connect(target)
            try:
                source.backup(destination)  # all pages in one step: one consistent snapshot
                # The copy keeps no -wal or -shm beside it: a single self-contained file.
                destination.execute("PRAGMA journal_mode = DELETE")
            finally:
                destination.close()
        os.chmod(target, 0o600)
        return target.stat().st_size
    except sqlite3.Error as exc:
        _remove(target)
        raise StorageUnavailable(_("the backup to {target} failed: {error}; nothing was kept").format(
            target=target, error=exc)) from None
    except BaseException:
        _remove(target)
        raise


def _remove(target: Path) -> None:
    for path in (target, target.with_name(target.name + "-journal")):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
