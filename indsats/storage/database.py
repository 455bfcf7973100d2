"""The database: one URL, its engine (SQLite pragmas), the file it lives in, and units of work on it.

SQLite is the embedded default: WAL, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for
units of work that write, so two writers queue on the lock instead of failing mid-transaction.
PostgreSQL runs the same statements. The unit of work is in ``unit_of_work.py``; driver errors become
``IndsatsError`` in ``driver_errors.py`` (both names are importable from here, as before). A command's
hot path (``unit_of_work(write=True, read_first=True)``) runs on the driver connection (``hot.py``);
SQLAlchemy is imported only when something else needs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indsats.adapters.files import create_private
from indsats.errors import StorageUnavailable
from indsats.i18n import N_, _
from indsats.storage.driver_errors import translate, translated
from indsats.storage.hot import (Driver, HotUnitOfWork, LendingEngine, OrgSnapshot, ThreadConnections, WriteBatch,
                                 sqlite_connect)
from indsats.storage.unit_of_work import UnitOfWork
from indsats.storage.write_turn import WriteTurn

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

__all__ = ["Database", "UnitOfWork", "translate", "translated"]


class Database:
    """One database, by URL. Cheap to create; connects on first use."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, check_schema: bool = True) -> None:
        self._url_text = str(url)
        self._url: URL | None = None
        self._path: Path | None = None
        self.is_sqlite = self._url_text.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"
        self.busy_timeout_ms = busy_timeout_ms
        self._engine: Engine | None = None
        # The first unit of work checks the schema revision (one SELECT); init and db status need not.
        self._schema_checked = not check_schema
        self.driver = Driver(sqlite=self.is_sqlite)
        self._raw = ThreadConnections()  # the hot path's SQLite connections, one per thread
        # The organisation as of its version (see hot.py), shared by every unit of work on this database.
        self.org_snapshot: tuple[tuple[Any, ...], OrgSnapshot] | None = None
        self._lending: LendingEngine | None = None
        # SQLite: this process's writers take turns here, not in SQLite's polling busy handler (write_turn.py).
        self.write_turn = WriteTurn(busy_timeout_ms) if self.is_sqlite else None
        self._batches = threading.local()  # SQLite: this thread's open group commit (hot.WriteBatch), if any

    @property
    def url(self) -> URL:
        if self._url is None:
            from sqlalchemy.engine import make_url

            self._url = make_url(self._url_text)
        return self._url

    def _simple_sqlite_file(self) -> str | None:
        """The file of a plain ``sqlite:///FILE`` URL, read without SQLAlchemy; None for anything else."""
        text = self._url_text
        if not text.startswith("sqlite:///") or "?" in text or "%" in text:
            return None
        return text[len("sqlite:///"):] or None

    @property
    def path(self) -> Path | None:
        """The SQLite file, if this is a file database."""
        if not self.is_sqlite:
            return None
        if self._path is None:
            simple = self._simple_sqlite_file()
            if simple is not None:
                self._path = None if simple == ":memory:" else Path(simple)
            elif self.url.database not in (None, "", ":memory:"):
                self._path = Path(self.url.database)
        return self._path

    def display(self) -> str:
        if self._simple_sqlite_file() is not None:
            return self._url_text
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine, event

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
            raise StorageUnavailable(_("cannot create the database file {path}: {reason}").format(
                path=path, reason=exc.strerror)) from None
        try:
            os.close(create_private(path, name=N_("the database file "), error=StorageUnavailable))
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
            raise StorageUnavailable(_("cannot open the database {path}: permission denied").format(path=path)) from None
        if not found:
            raise StorageUnavailable(_("no database at {path}: run 'indsats init' first (or set --db)").format(path=path))

    def unit_of_work(self, *, write: bool = False, read_first: bool = False, hot: bool = False) -> UnitOfWork:
        """One transaction. ``hot``: its statements on the driver connection (``hot.py``), SQLAlchemy only for
        what that lacks. ``read_first`` (with ``write``, hot): a command that reads, then writes what it
        decided, in one transaction whose first write is the version check."""
        if (hot or read_first) and (not self.is_sqlite or self.path is not None):
            return HotUnitOfWork(self, write=write, read_first=read_first)  # type: ignore[return-value]  # same surface
        return UnitOfWork(self, write=write)

    def write_batch(self) -> WriteBatch:
        """SQLite: the hot units of work this thread opens inside ``with`` share one transaction, committed once at
        its end (group commit; ``hot.WriteBatch``)."""
        return WriteBatch(self)

    def current_batch(self) -> WriteBatch | None:
        return getattr(self._batches, "batch", None)

    def open_batch(self, batch: WriteBatch) -> None:
        self._batches.batch = batch

    def close_batch(self, batch: WriteBatch) -> None:
        if self.current_batch() is batch:
            self._batches.batch = None

    def sqlite_connection(self) -> Any:
        """This thread's driver connection to the SQLite file (the hot path's)."""
        path = self.path
        assert path is not None, "the hot path runs on a SQLite file"

        def connect() -> Any:
            self.require_file()  # connecting would create an empty file; an open connection needs no look
            return sqlite_connect(str(path), self.busy_timeout_ms)

        return self._raw.checkout(connect)

    def give_back_sqlite_connection(self, con: Any, *, broken: bool = False) -> None:
        self._raw.checkin(con, broken=broken)

    @property
    def lending(self) -> LendingEngine:
        """SQLAlchemy over the hot path's own SQLite connections (made on first need)."""
        if self._lending is None:
            path = self.path
            assert path is not None
            self._lending = LendingEngine(str(path), self.busy_timeout_ms)
        return self._lending

    def check_schema_raw(self, uow: HotUnitOfWork) -> None:
        """``check_schema`` on the driver connection (no SQLAlchemy)."""
        if self._schema_checked:
            return
        from indsats.storage.schema import require_current

        exists = ("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                  if self.is_sqlite else "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'alembic_version'"
                  " AND schemaname = ANY (current_schemas(false))")
        cursor = uow.execute(exists)
        found = cursor.fetchone()[0]
        revision = None
        if found:
            cursor = uow.execute("SELECT version_num FROM alembic_version")
            row = cursor.fetchone()
            revision = None if row is None else row[0]
        cursor.close()
        require_current(self, revision)
        self._schema_checked = True

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
        self._raw.close_all()
        self.org_snapshot = None
        if self._lending is not None:
            self._lending.engine.dispose()
            self._lending = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
