"""The unit of work: one transaction, rolled back unless ``commit()`` was called, with the queries bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from indsats.errors import IndsatsError
from indsats.storage.driver_errors import translate

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from indsats.storage.database import Database
    from indsats.storage.repository import Repository


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
        self._turn = False  # holding this process's writing turn (SQLite, write_turn.py)

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
        if self.db.is_sqlite and self.db.current_batch() is not None:
            # Its own connection would wait on the batch's write lock, or read past the batch's writes.
            raise RuntimeError("a SQLAlchemy unit of work inside a write batch: only the hot path takes part")
        self.db.require_file()
        if self.write and self.db.write_turn is not None:
            self._turn = self.db.write_turn.take()
        try:
            self._conn = self.db.engine.connect()
            self._conn.info["write"] = self.write
            self._conn.begin()
            self.db.check_schema(self._conn)
        except Exception as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._give_back_turn()
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
            self._give_back_turn()
            return
        try:
            if not self._committed or exc is not None:
                conn.rollback()
        except Exception:  # the connection may be gone; the transaction is gone with it
            pass
        finally:
            conn.info["write"] = False
            conn.close()
            self._give_back_turn()
        if exc is not None and not isinstance(exc, IndsatsError):
            from sqlalchemy import exc as sa_exc

            if isinstance(exc, sa_exc.SQLAlchemyError):
                raise translate(exc, self.db) from None

    def _give_back_turn(self) -> None:
        if self._turn:
            self._turn = False
            assert self.db.write_turn is not None
            self.db.write_turn.give_back()
