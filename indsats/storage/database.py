"""The database: engine creation (SQLite pragmas), the unit of work, and translation of driver errors.

SQLite is the embedded default: WAL, a busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for
units of work that write, so two writers queue on the lock instead of failing mid-transaction.
PostgreSQL runs the same statements. Every SQLAlchemy error leaves this module as an ``IndsatsError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from indsats.errors import Conflict, IndsatsError, StorageUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from indsats.storage.repository import Repository


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
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the database file {path}: {exc.strerror}") from None

    def require_file(self) -> None:
        path = self.path
        if path is not None and not path.exists():
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


class UnitOfWork:
    """One transaction. Rolls back unless ``commit()`` was called; database errors become IndsatsErrors.

    >>> with db.unit_of_work(write=True) as uow:   # doctest: +SKIP
    ...     uow.conn.execute(...)
    ...     uow.commit()
    """

    def __init__(self, db: Database, *, write: bool) -> None:
        self.db = db
        self.write = write
        self._conn: Connection | None = None
        self._repo: Repository | None = None
        self._committed = False

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "unit of work used outside 'with'"
        return self._conn

    @property
    def repo(self) -> Repository:
        """The queries, bound to this unit of work's transaction."""
        if self._repo is None:
            from indsats.storage.repository import Repository

            self._repo = Repository(self.conn)
        return self._repo

    def __enter__(self) -> UnitOfWork:
        self.db.require_file()
        try:
            self._conn = self.db.engine.connect()
            self._conn.info["write"] = self.write
            self._conn.begin()
            self.db.check_schema(self._conn)
        except Exception as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise translate(exc, self.db) from None
        return self

    def commit(self) -> None:
        self.conn.commit()
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn, self._repo = self._conn, None, None
        if conn is None:
            return
        try:
            if not self._committed or exc is not None:
                conn.rollback()
        except Exception:  # the connection may be gone; the transaction is gone with it
            pass
        finally:
            conn.info["write"] = False
            conn.close()
        if exc is not None and not isinstance(exc, IndsatsError) and isinstance(exc, sa_exc.SQLAlchemyError):
            raise translate(exc, self.db) from None


@contextmanager
def translated(db: Database) -> Iterator[None]:
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, db) from None


def translate(exc: BaseException, db: Database) -> IndsatsError:
    """Turn a driver error into one line a coordinator can act on."""
    if isinstance(exc, IndsatsError):
        return exc
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    lower = text.lower()
    where = db.display()
    if isinstance(exc, sa_exc.IntegrityError):
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
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DBAPIError)):
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
