"""The database: one URL, its engine (SQLite pragmas), the file it lives in, and units of work on it.

SQLite is the embedded default: WAL, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for
units of work that write, so two writers queue on the lock instead of failing mid-transaction.
PostgreSQL runs the same statements. The unit of work is in ``unit_of_work.py``; driver errors become
``IndsatsError`` in ``driver_errors.py`` (both names are importable from here, as before).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

from indsats.adapters.files import create_private
from indsats.errors import StorageUnavailable
from indsats.storage.driver_errors import translate, translated
from indsats.storage.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["Database", "UnitOfWork", "translate", "translated"]


class Database:
    """One database, by URL. Cheap to create; connects on first use."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, check_schema: bool = True) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.busy_timeout_ms = busy_timeout_ms
        self._engine: Engine | None = None
        # The first unit of work checks the schema revision (one SELECT); init and db status need not.
        self._schema_checked = not check_schema

    @property
    def path(self) -> Path | None:
        """The SQLite file, if this is a file database."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return None
        return Path(self.url.database)

    def display(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            # lock_timeout: a row held by another transaction ends in exit 7 instead of waiting forever.
            options = f"-c lock_timeout={self.busy_timeout_ms}"
            return create_engine(self.url, connect_args={"connect_timeout": 5, "options": options})
        # Every unit of work ends its transaction itself, so the pool need not roll back again on check-in.
        engine = create_engine(
            self.url, connect_args={"timeout": self.busy_timeout_ms / 1000}, pool_reset_on_return=None
        )
        busy = self.busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's begin() decide: the driver's own implicit BEGIN would be DEFERRED.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine

    def create_file(self) -> None:
        """Create a new SQLite file readable by its owner only (0600), with its directory."""
        path = self.path
        if path is None or path.exists():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the database file {path}: {exc.strerror}") from None
        try:
            os.close(create_private(path, name="the database file ", error=StorageUnavailable))
        except StorageUnavailable:
            if not path.exists():
                raise
            # Another process created it since the check above: theirs is as good as ours.

    def require_file(self) -> None:
        path = self.path
        if path is None:
            return
        try:
            found = path.exists()
        except PermissionError:  # a directory we may not enter: the server's files are not ours to open
            raise StorageUnavailable(f"cannot open the database {path}: permission denied") from None
        if not found:
            raise StorageUnavailable(f"no database at {path}: run 'indsats init' first (or set --db)")

    def unit_of_work(self, *, write: bool = False) -> UnitOfWork:
        return UnitOfWork(self, write=write)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A raw connection outside any unit of work (migrations, backup), with errors translated."""
        with translated(self):
            with self.engine.connect() as conn:
                yield conn

    def check_schema(self, conn: Connection) -> None:
        """Once per Database: refuse a schema older or newer than this indsats expects (exit 7)."""
        if self._schema_checked:
            return
        from indsats.storage.schema import read_revision, require_current

        require_current(self, read_revision(conn))
        self._schema_checked = True

    def schema_checked(self) -> None:
        """Say that the schema is current (``init`` has just brought it there)."""
        self._schema_checked = True

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
