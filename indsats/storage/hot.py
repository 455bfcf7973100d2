"""The hot path near the driver: a command's statements as plain SQL on the DBAPI connection, one transaction.

``advance`` runs a dozen statements; SQLAlchemy's execution layer costs more per statement than SQLite
takes to run it, and importing SQLAlchemy costs a command more than all its work. So a command that
asks for ``db.unit_of_work(write=True, read_first=True)`` gets a ``HotUnitOfWork``: the statements it
uses are written here once, in SQL both SQLite and PostgreSQL run (``?`` becomes ``%s`` for psycopg),
with the values converted as the tables type them (``TYPES``, kept equal to ``models.py`` by
``tests/test_hot_path.py``). SQLAlchemy stays for the schema, Alembic and every other query: a
method this module does not have is answered by the full ``Repository`` over the same connection and
transaction (SQLAlchemy imported then, and only then).

One transaction per command: it starts as a read (SQLite ``BEGIN``; PostgreSQL's implicit one) and
becomes a write at its first write, which must be the version check (``bump_version``). On SQLite a
reader cannot take the write lock while another holds it, nor after another committed: then the
transaction starts again as ``BEGIN IMMEDIATE`` (queueing for the lock, up to the busy timeout) and
the version check decides, so a concurrent change to the case is still a ``Conflict`` (exit 6). On
PostgreSQL the ``UPDATE … WHERE version = ?`` waits for the row and then finds the version gone.

The organisation (users and grants) is read whole and kept on the ``Database`` until the organisation's
own version changes: the organisation chain's head and the rows' counts, one small query per command.

Group commit (SQLite, ``WriteBatch``): the server's write thread may run several requests' units of work in one
write transaction, each in a savepoint of its own, and commit them once; see ``WriteBatch``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime, timezone
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

from indsats.engine.cases.case import Case
from indsats.engine.reminders.reminder import REMINDED_CASE_COLUMNS, RemindedCase, Reminder
from indsats.errors import IndsatsError
from indsats.storage.repositories.base import dumps, event_row
from indsats.storage.visit_days import LEAVE_VISIT, UPSERT_ESCALATION_DAY_OF_CASE, UPSERT_VISIT_DAY, escalation_day_params, visit_day_values

if TYPE_CHECKING:
    from indsats.storage.database import Database
    from indsats.storage.repositories.cases import OverdueRow
    from indsats.storage.repository import Repository

    _RepositoryBase = Repository
else:
    _RepositoryBase = object

Row = dict[str, Any]
# How the tables type their columns, where the driver's value is not already the engine's: times are
# stored as naive UTC and handed back aware; SQLite keeps booleans as 0/1 and dates as text.
TYPES: dict[str, dict[str, str]] = {
    "users": {"deputy_from": "date", "deputy_until": "date", "active": "bool", "created_at": "datetime"},
    "grants": {"granted_at": "datetime"},
    "cases": {
        "is_open": "bool", "acute": "bool", "minor": "bool", "opened_at": "datetime", "state_entered_at": "datetime",
        "deadline": "datetime", "closed_at": "datetime", "last_activity_at": "datetime", "paused_at": "datetime",
        "archived_at": "datetime", "purged_at": "datetime",
    },
    "events": {"at": "datetime"},
    "reminders": {"due_at": "datetime", "next_attempt_at": "datetime", "lease_until": "datetime", "sent_at": "datetime"},
    "case_deadlines": {"started_at": "datetime", "due_at": "datetime", "met_at": "datetime"},
    "state_visits": {"entered_at": "datetime", "deadline_at": "datetime", "left_at": "datetime", "on_time": "bool"},
}
# Times on SQLite are text as SQLAlchemy's DateTime writes them ("%Y-%m-%d %H:%M:%S.%f"): text order is time order.
_BUSY = ("SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT")
_BOUND = frozenset({datetime, date})  # the value types ``Driver.bind`` converts (any other passes as it is)


class Driver:
    """What differs between the dialects, decided once per Database."""

    def __init__(self, *, sqlite: bool) -> None:
        self.sqlite = sqlite
        self._sql: dict[str, str] = {}
        self._bound: dict[datetime, Any] = {}
        self._readers: dict[tuple[str, tuple[str, ...]], list[tuple[int, Any]]] = {}
        self._inserts: dict[tuple[str, tuple[str, ...]], tuple[str, list[int]]] = {}

    def sql(self, text: str) -> str:
        """The statement in the driver's parameter style (written with ``?``)."""
        found = self._sql.get(text)
        if found is None:
            found = self._sql[text] = text if self.sqlite else text.replace("?", "%s")
        return found

    def bind(self, value: Any) -> Any:
        kind = type(value)
        if kind is datetime:
            if value.tzinfo is None:
                raise ValueError("naive datetime passed to the database")
            if value.tzinfo is not timezone.utc:
                return self._bind_time(value.astimezone(timezone.utc))
            # A command binds the same few UTC instants many times (its time, the deadline, the reminders').
            found = self._bound.get(value)
            if found is None:
                found = self._bound[value] = self._bind_time(value)
                if len(self._bound) > 4096:
                    self._bound.clear()
            return found
        if kind is date and self.sqlite:
            return value.isoformat()
        return value

    def _bind_time(self, utc: datetime) -> Any:
        return utc.isoformat(" ", "microseconds")[:26] if self.sqlite else utc.replace(tzinfo=None)

    def insert(self, table: str, columns: tuple[str, ...]) -> tuple[str, list[int]]:
        """The ``INSERT`` of these columns in the driver's style, and the indexes of the columns whose values
        ``bind`` converts (the table's times and dates, as ``TYPES`` has them), made once per column set."""
        key = (table, columns)
        found = self._inserts.get(key)
        if found is None:
            kinds = TYPES.get(table, {})
            sql = self.sql(f"INSERT INTO {table} ({', '.join(_quoted(c) for c in columns)})"
                           f" VALUES ({', '.join('?' * len(columns))})")
            found = self._inserts[key] = (sql, [i for i, c in enumerate(columns)
                                                if kinds.get(c) in ("datetime", "date")])
        return found

    def reader(self, table: str, columns: list[str]) -> list[tuple[int, Any]]:
        """(index, converter) for the columns of ``table`` whose driver value needs converting."""
        key = (table, tuple(columns))
        found = self._readers.get(key)
        if found is None:
            found = self._readers[key] = self._reader(table, columns)
        return found

    def _reader(self, table: str, columns: list[str]) -> list[tuple[int, Any]]:
        kinds = TYPES.get(table, {})
        found: list[tuple[int, Any]] = []
        for i, name in enumerate(columns):
            kind = kinds.get(name)
            if kind == "datetime":
                found.append((i, _sqlite_time if self.sqlite else _aware))
            elif kind == "bool" and self.sqlite:
                found.append((i, bool))
            elif kind == "date" and self.sqlite:
                found.append((i, date.fromisoformat))
        return found


@lru_cache(maxsize=4096)  # a datetime is immutable: the same text read again is the same time
def _sqlite_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


class OrgSnapshot:
    """Every user and grant as of one organisation version, with the lookups the engine asks for."""

    def __init__(self, users: list[Row], grants: list[Row]) -> None:
        self.users = {u["login"]: u for u in sorted(users, key=lambda u: u["login"])}
        self.grants: dict[str, list[Row]] = {}
        for g in sorted(grants, key=lambda g: (g["login"], g["plan_id"], g["role"])):
            self.grants.setdefault(g["login"], []).append(g)
        self._by: dict[tuple[str, Any], list[Row]] = {}

    def where(self, column: str, value: Any, *, active_only: bool = False) -> list[Row]:
        """The users whose ``column`` holds ``value`` (and who are active), by login."""
        key = (column + ("+active" if active_only else ""), value)
        found = self._by.get(key)
        if found is None:
            found = self._by[key] = [u for u in self.users.values()
                                     if u.get(column) == value and (u["active"] or not active_only)]
        return [dict(u) for u in found]


class HotUnitOfWork:
    """One transaction on the driver connection; ``repo`` runs the hot statements (see the module's text)."""

    def __init__(self, db: Database, *, write: bool = True, read_first: bool = True) -> None:
        self.db = db
        self.driver: Driver = db.driver
        # read_first: begins as a read and becomes a write at its first write (the version check);
        # otherwise a write begins holding the write lock (SQLite ``BEGIN IMMEDIATE``), a read as a read.
        self.read_first = write and read_first
        self.raw: Any = None
        self._sa: Any = None  # a SQLAlchemy Connection over the same DBAPI connection, when one was needed
        self._repo: HotRepository | None = None
        self._full: Repository | None = None
        self._committed = False
        self._written = False
        self._own_raw = False
        self._broken = False
        self.write = write
        self._turn = False  # holding this process's writing turn (SQLite, write_turn.py)
        self._batch: WriteBatch | None = None  # the group commit this unit of work is a savepoint of
        self._savepoint: str | None = None

    def __enter__(self) -> HotUnitOfWork:
        db = self.db
        try:
            batch = db.current_batch() if self.driver.sqlite else None
            if batch is not None:  # a savepoint in the batch's transaction, which holds the write lock already
                self._batch, self.raw, self.read_first = batch, batch.raw, False
                self._savepoint = batch.savepoint()
            elif self.driver.sqlite:
                if self.write and db.write_turn is not None:
                    self._turn = db.write_turn.take()
                self.raw = db.sqlite_connection()
                self._own_raw = True
                self.raw.execute("BEGIN IMMEDIATE" if self.write and not self.read_first else "BEGIN")
            else:
                db.require_file()
                self._sa = db.engine.connect()
                self.raw = self._sa.connection.driver_connection
            db.check_schema_raw(self)
        except Exception as exc:
            self._close()
            raise self._translate(exc) from None
        return self

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = HotRepository(self)
        return self._repo  # a Repository to the type checker: the same methods (the rest by delegation)

    def full_repository(self) -> Repository:
        """The SQLAlchemy ``Repository`` in this very transaction (built on first need)."""
        if self._full is None:
            from indsats.storage.repository import Repository

            if self._sa is None:  # SQLite: wrap this connection, which already holds the transaction
                self._sa = self.db.lending.connect(self.raw)
            self._full = Repository(self._sa)
        return self._full

    # -- statements -------------------------------------------------------------------------------

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        bind = self.driver.bind
        cursor = self.raw.cursor()
        cursor.execute(self.driver.sql(sql), [bind(v) if type(v) in _BOUND else v for v in params])
        return cursor

    def executemany(self, sql: str, rows: list[list[Any]], *, bound: bool = False) -> None:
        """Run ``sql`` once per row; ``bound``: the values are the driver's already (no times or dates)."""
        bind = self.driver.bind
        cursor = self.raw.cursor()
        if not bound:
            rows = [[bind(v) if type(v) in _BOUND else v for v in row] for row in rows]
        if len(rows) == 1:  # psycopg's executemany is a pipeline of its own: one row is one statement
            cursor.execute(self.driver.sql(sql), rows[0])
        else:
            cursor.executemany(self.driver.sql(sql), rows)
        cursor.close()

    def rows(self, table: str, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """The rows of a query over one table, as dicts typed as the table types them."""
        cursor = self.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        convert = [(i, columns[i], fn) for i, fn in self.driver.reader(table, columns)]
        found = []
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=False))  # the driver gives one value per described column
            for i, name, fn in convert:
                value = values[i]
                if value is not None:
                    row[name] = fn(value)
            found.append(row)
        cursor.close()
        return found

    def first_write(self, sql: str, params: list[Any]) -> list[Any]:
        """The transaction's first write (the version check), with ``RETURNING``: its rows.

        On SQLite, when the read cannot become a write (another writer holds the lock, or committed since
        this transaction began), begin again as ``BEGIN IMMEDIATE`` and run it once more.
        """
        if not self.read_first:
            cursor = self.execute(sql, params)
            found = list(cursor.fetchall())
            cursor.close()
            return found
        assert not self._written, "the version check must be the first write"
        self._written = True
        try:
            cursor = self.execute(sql, params)
        except Exception as exc:
            if not (self.driver.sqlite and getattr(exc, "sqlite_errorname", None) in _BUSY):
                raise
            self.raw.execute("ROLLBACK")
            self.raw.execute("BEGIN IMMEDIATE")
            cursor = self.execute(sql, params)
        found = list(cursor.fetchall())
        cursor.close()
        return found

    # -- the transaction --------------------------------------------------------------------------

    def commit(self) -> None:
        if self._savepoint is not None:  # durable when the batch commits
            self.raw.execute(f"RELEASE SAVEPOINT {self._savepoint}")
        elif self.driver.sqlite:
            self.raw.execute("COMMIT")
        else:
            self.raw.commit()
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.raw is not None and not self._committed and self._savepoint is not None:
            assert self._batch is not None
            try:  # this unit of work undone; the batch's others stand
                self.raw.execute(f"ROLLBACK TO SAVEPOINT {self._savepoint}")
                self.raw.execute(f"RELEASE SAVEPOINT {self._savepoint}")
            except Exception as failed:  # noqa: BLE001 (the batch cannot commit now: it says so to every request)
                self._batch.failed(failed)
        elif self.raw is not None and not self._committed:
            try:
                if self.driver.sqlite:
                    if self.raw.in_transaction:
                        self.raw.execute("ROLLBACK")
                else:
                    self.raw.rollback()
            except Exception:  # the connection may be gone; the transaction is gone with it
                self._broken = True
        self._close()
        if exc is not None and not isinstance(exc, IndsatsError) and _is_driver_error(exc):
            raise self._translate(exc) from None

    def _close(self) -> None:
        if self._sa is not None:
            try:
                self._sa.close()
            except Exception:  # noqa: BLE001 (closing a connection that is gone)
                pass
        self._sa = self._full = self._repo = None
        if self._own_raw and self.raw is not None:
            if self.raw.in_transaction:  # failed while beginning or checking: never hand out a connection mid-transaction
                try:
                    self.raw.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 (gone)
                    self._broken = True
            self.db.give_back_sqlite_connection(self.raw, broken=self._broken)
        self._own_raw = False
        self.raw = None
        self._batch = self._savepoint = None
        if self._turn:
            self._turn = False
            assert self.db.write_turn is not None
            self.db.write_turn.give_back()

    def _translate(self, exc: BaseException) -> BaseException:
        return _translated(exc, self.db)


class WriteBatch:
    """Group commit on SQLite: the hot units of work this thread opens while the batch is open share its one write
    transaction (``BEGIN IMMEDIATE``), each in a savepoint of its own, released by its ``commit()`` and rolled back
    to otherwise, so one that fails leaves the others' work standing; leaving the batch commits them all at once.

    A unit of work's ``commit()`` inside a batch is durable only when the batch's ``COMMIT`` is: whoever runs a
    batch tells the callers after it (``indsats.server.app.Writes``), and a failed ``COMMIT`` is every caller's
    error. Only the hot path takes part: a SQLAlchemy ``UnitOfWork`` on this thread during a batch is refused.

    >>> with WriteBatch(db):             # doctest: +SKIP
    ...     advance(ctx, ...)            # a savepoint each
    ...     advance(ctx, ...)
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.raw: Any = None
        self._turn = False
        self._count = 0
        self._failure: BaseException | None = None

    def __enter__(self) -> WriteBatch:
        db = self.db
        assert db.is_sqlite and db.current_batch() is None, "a batch is SQLite's, one per thread"
        try:
            if db.write_turn is not None:
                self._turn = db.write_turn.take()
            self.raw = db.sqlite_connection()
            self.raw.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            self._close(broken=False)
            raise _translated(exc, db) from None
        db.open_batch(self)
        return self

    def savepoint(self) -> str:
        self._count += 1
        name = f"uow_{self._count}"
        self.raw.execute(f"SAVEPOINT {name}")
        return name

    def failed(self, exc: BaseException) -> None:
        """A savepoint could not be undone: the batch must not commit."""
        if self._failure is None:
            self._failure = exc

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.db.close_batch(self)
        broken = False
        try:
            if exc is None and self._failure is not None:
                raise self._failure
            if exc is None:
                self.raw.execute("COMMIT")
        except Exception as failed:
            raise _translated(failed, self.db) from None
        finally:
            if self.raw.in_transaction:
                try:
                    self.raw.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 (gone: so is its transaction)
                    broken = True
            self._close(broken=broken)

    def _close(self, *, broken: bool) -> None:
        if self.raw is not None:
            self.db.give_back_sqlite_connection(self.raw, broken=broken)
            self.raw = None
        if self._turn:
            self._turn = False
            assert self.db.write_turn is not None
            self.db.write_turn.give_back()


def _translated(exc: BaseException, db: Database) -> BaseException:
    if isinstance(exc, IndsatsError) or not _is_driver_error(exc):
        return exc
    from indsats.storage.driver_errors import translate

    return translate(exc, db)


def _is_driver_error(exc: BaseException) -> bool:
    """A DBAPI error (sqlite3, psycopg) or SQLAlchemy's wrapper of one."""
    names = {c.__name__ for c in type(exc).__mro__}
    module = type(exc).__module__
    return "SQLAlchemyError" in names or (
        bool(names & {"DatabaseError", "InterfaceError"}) and module.split(".")[0] in ("sqlite3", "psycopg")
    )


class HotRepository(_RepositoryBase):
    """The statements a command's hot path runs, on the driver connection; anything else, by delegation."""

    def __init__(self, uow: HotUnitOfWork) -> None:
        self._uow = uow
        self.is_postgresql = not uow.driver.sqlite
        self._org: OrgSnapshot | None = None
        self._writing_cipher: Any = None  # what ``writing_cipher`` checked in this transaction (found, not missed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._uow.full_repository(), name)

    # -- the organisation, from the snapshot of its version ------------------------------------------

    def _snapshot(self) -> OrgSnapshot:
        if self._org is None:
            uow, db = self._uow, self._uow.db
            cursor = uow.execute("SELECT (SELECT max(seq) FROM org_events), (SELECT count(*) FROM users),"
                                 " (SELECT count(*) FROM grants)")
            version = tuple(cursor.fetchone())
            cursor.close()
            cached = db.org_snapshot
            if cached is None or cached[0] != version:
                snapshot = OrgSnapshot(uow.rows("users", "SELECT * FROM users"),
                                       uow.rows("grants", "SELECT login, plan_id, role, unit FROM grants"))
                cached = db.org_snapshot = (version, snapshot)
            self._org = cached[1]
        return self._org

    def organisation_key(self) -> object | None:
        return self._snapshot()  # replaced when the organisation's version changes

    def get_user(self, login: str) -> Row | None:
        found = self._snapshot().users.get(login)
        return None if found is None else dict(found)

    def load_chains(self, logins: Iterable[str | None]) -> None:
        self._snapshot()  # everyone is loaded already

    def grants_of(self, login: str) -> list[Row]:
        return [dict(g) for g in self._snapshot().grants.get(login, [])]

    def holders_of(self, role: str, plan_id: str) -> list[Row]:
        org = self._snapshot()
        found = []
        for login, user in org.users.items():
            if not user["active"]:
                continue
            for grant in org.grants.get(login, []):
                if grant["role"] == role and grant["plan_id"] in (plan_id, "*"):
                    found.append({**user, "grant_unit": grant["unit"]})
        return found

    def deputised_by(self, login: str) -> list[Row]:
        return self._snapshot().where("deputy", login)

    def users_reporting_to(self, login: str) -> list[Row]:
        return self._snapshot().where("reports_to", login)

    def users_with_role(self, role: str) -> list[Row]:
        return self._snapshot().where("role", role, active_only=True)

    # -- the case, its events, its reminders -----------------------------------------------------------

    def get_case(self, case_id: str, *, lock: bool = False) -> Case | None:
        sql = "SELECT * FROM cases WHERE id = ?" + (" FOR UPDATE" if lock and self.is_postgresql else "")
        found = self._uow.rows("cases", sql, [case_id])
        return Case.from_row(found[0]) if found else None

    def pinned_versions(self) -> list[tuple[str, str]]:
        cursor = self._uow.execute("SELECT id, version FROM plans ORDER BY id")
        found = [(str(i), str(v)) for i, v in cursor.fetchall()]
        cursor.close()
        return found

    # -- the stuck list (its first page needs no more: a supervisor's command without SQLAlchemy) --------

    def overdue_cases(self, *, at: datetime, plan_id: str | None = None, unit: str | None = None,
                      after: tuple[datetime, str] | None = None, limit: int | None = None) -> list[Case]:
        """As ``CaseRepository.overdue_cases`` (see there for the keyset's shape)."""
        sql, params = _overdue_page("SELECT * FROM cases WHERE is_open = ? AND deadline < ?", [True, at], "id",
                                    after=after, plan_id=plan_id, unit=unit, limit=limit)
        return [Case.from_row(r) for r in self._uow.rows("cases", sql, params)]

    def overdue_rows(self, *, at: datetime, plan_id: str | None = None, unit: str | None = None,
                     after: tuple[datetime, Any] | None = None, limit: int | None = None) -> list[OverdueRow]:
        """As ``CaseRepository.overdue_rows``: only the columns the stuck list shows, converted here. On SQLite the
        cases of one deadline come by rowid, as ``ix_cases_open_deadline`` holds them: no sort of each deadline's
        cases by id (``USE TEMP B-TREE FOR RIGHT PART OF ORDER BY``), a fifth of the statement's time."""
        sqlite = self._uow.driver.sqlite
        place = "rowid" if sqlite else "id"
        sql = ("SELECT id, plan_id, plan_version, state, opened_by, unit, assignee, escalation_level, reminders_sent,"
               " (SELECT count(*) FROM reminders WHERE reminders.case_id = cases.id AND reminders.status = 'failed'),"
               f" deadline, last_activity_at, {place} FROM cases WHERE is_open = ? AND deadline < ? AND paused_at IS NULL")
        sql, params = _overdue_page(sql, [True, at], place, after=after, plan_id=plan_id, unit=unit, limit=limit)
        cursor = self._uow.execute(sql, params)
        time = _sqlite_time if sqlite else _aware
        found = [(*r[:10], time(r[10]), time(r[11]), r[12]) for r in cursor.fetchall()]
        cursor.close()
        return found  # the columns as OverdueRow types them

    def failed_reminder_counts(self, case_ids: Iterable[str]) -> dict[str, int]:
        ids = list(case_ids)
        if not ids:
            return {}
        cursor = self._uow.execute(f"SELECT case_id, count(*) FROM reminders WHERE case_id IN ({', '.join('?' * len(ids))})"
                                   " AND status = 'failed' GROUP BY case_id", ids)
        found = {str(case_id): int(n) for case_id, n in cursor.fetchall()}
        cursor.close()
        return found

    def plan_text(self, plan_id: str, version: str) -> str | None:
        cursor = self._uow.execute("SELECT text FROM plans WHERE id = ? AND version = ?", [plan_id, version])
        row = cursor.fetchone()
        cursor.close()
        return None if row is None else str(row[0])

    def bump_version(self, case_id: str, expected_version: int, at: datetime) -> tuple[int, str] | None:
        rows = self._uow.first_write(
            "UPDATE cases SET version = ?, last_activity_at = ? WHERE id = ? AND version = ? RETURNING last_seq, last_hash",
            [expected_version + 1, at, case_id, expected_version],
        )
        return None if not rows else (int(rows[0][0]), str(rows[0][1]))

    def update_case(self, case_id: str, values: Row, *, expected_version: int | None = None) -> bool:
        if not values:
            return True
        columns = list(values)
        sql = f"UPDATE cases SET {', '.join(f'{_quoted(c)} = ?' for c in columns)} WHERE id = ?"
        params = [*values.values(), case_id]
        if expected_version is not None:
            sql += " AND version = ?"
            params.append(expected_version)
        cursor = self._uow.execute(sql, params)
        done = cursor.rowcount
        cursor.close()
        return bool(done == 1)

    def insert_event(self, values: Row) -> None:
        payload = values.get("payload")  # a dict, or already in its stored form (``sealed_row``'s canonical JSON)
        self._insert("events", [{**values, "payload": payload if payload is None or isinstance(payload, str) else dumps(payload)}])
        self._count_escalations([values])

    def events_for(self, case_id: str) -> list[Row]:
        return [event_row(r) for r in self._uow.rows("events", "SELECT * FROM events WHERE case_id = ? ORDER BY seq",
                                                     [case_id])]

    def case_actors(self, case_id: str, kinds: Iterable[str]) -> set[str]:
        wanted = sorted(set(kinds))
        if not wanted:
            return set()
        cursor = self._uow.execute(
            f"SELECT DISTINCT actor FROM events WHERE case_id = ? AND actor IS NOT NULL"
            f" AND kind IN ({', '.join('?' * len(wanted))})", [case_id, *wanted])
        found = {str(r[0]) for r in cursor.fetchall()}
        cursor.close()
        return found

    def fired_triggers(self, case_id: str) -> set[str]:
        cursor = self._uow.execute('SELECT DISTINCT "trigger" FROM events WHERE case_id = ? AND "trigger" IS NOT NULL',
                                   [case_id])
        found = {str(r[0]) for r in cursor.fetchall()}
        cursor.close()
        return found

    def cancel_pending(self, case_id: str, *, closing: bool = False, outliving: Iterable[str] = ()) -> int:
        sql = ("UPDATE reminders SET status = 'cancelled', claimed_by = NULL, lease_until = NULL"
               " WHERE case_id = ? AND status IN ('pending', 'held') AND kind != 'acute'")
        params: list[Any] = [case_id]
        keep = sorted(set(outliving))
        if not closing:
            sql += " AND deadline IS NULL"  # case deadlines run on while the case moves
        elif keep:
            sql += f" AND (deadline IS NULL OR deadline NOT IN ({', '.join('?' * len(keep))}))"
            params += keep
        cursor = self._uow.execute(sql, params)
        done = cursor.rowcount
        cursor.close()
        return int(done)

    def insert_reminders(self, rows: Iterable[Row]) -> None:
        self._insert("reminders", list(rows))

    def case_deadlines_for(self, case_id: str) -> list[Row]:
        return self._uow.rows("case_deadlines", "SELECT * FROM case_deadlines WHERE case_id = ? ORDER BY started_seq",
                              [case_id])

    def insert_case_deadline(self, values: Row) -> None:
        self._insert("case_deadlines", [values])

    def insert_visits(self, rows: list[Row]) -> None:
        self._insert("state_visits", rows)

    def leave_visit(self, case_id: str, *, left_at: datetime, working_us: int, on_time: bool) -> None:
        left = self._uow.rows("state_visits", LEAVE_VISIT, [left_at, working_us, on_time, case_id])
        if left:  # counted into its day, once (the step report)
            self._uow.executemany(UPSERT_VISIT_DAY, [list(visit_day_values(
                r["plan_id"], r["state"], r["entered_at"], left_at, r["time_us"], on_time, r["paused_us"], r["pauses"]))
                for r in left])

    def meet_case_deadline(self, case_id: str, name: str, at: datetime) -> bool:
        cursor = self._uow.execute("UPDATE case_deadlines SET met_at = ? WHERE case_id = ? AND name = ? AND met_at IS NULL",
                                   [at, case_id, name])
        done = cursor.rowcount
        cursor.close()
        if done != 1:
            return False
        self._uow.execute("UPDATE reminders SET status = 'cancelled', claimed_by = NULL, lease_until = NULL"
                          " WHERE case_id = ? AND deadline = ? AND status IN ('pending', 'held')", [case_id, name]).close()
        return True

    def key_fingerprints(self, *, lock: bool = False) -> dict[str, str]:
        sql = "SELECT status, fingerprint FROM key_fingerprints WHERE status IN ('current', 'next')"
        cursor = self._uow.execute(sql + (" FOR SHARE" if lock and self.is_postgresql else ""))
        found = {str(status): str(fingerprint) for status, fingerprint in cursor.fetchall()}
        cursor.close()
        return found

    # -- the sweep ---------------------------------------------------------------------------------------

    def claim_due(self, *, now: datetime, limit: int, worker: str, lease_until: datetime) -> list[Reminder]:
        # One statement: the due rows chosen, leased and handed back (``RETURNING`` gives them in no set order).
        rows = self._uow.rows(
            "reminders",
            "UPDATE reminders SET claimed_by = ?, lease_until = ? WHERE id IN (SELECT id FROM reminders"
            " WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
            " ORDER BY next_attempt_at, id LIMIT ?" + (" FOR UPDATE SKIP LOCKED" if self.is_postgresql else "")
            + ") RETURNING *", [worker, lease_until, now, now, limit])
        rows.sort(key=lambda r: (r["next_attempt_at"], r["id"]))
        return [Reminder.from_row(r) for r in rows]

    def get_cases(self, case_ids: Iterable[str], *, lock: bool = False) -> dict[str, Case]:
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        sql = f"SELECT * FROM cases WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id"
        rows = self._uow.rows("cases", sql + (" FOR UPDATE" if lock and self.is_postgresql else ""), ids)
        return {r["id"]: Case.from_row(r) for r in rows}

    def reminded_cases(self, case_ids: Iterable[str]) -> dict[str, RemindedCase]:
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        rows = self._uow.rows("cases", f"SELECT {', '.join(REMINDED_CASE_COLUMNS)} FROM cases"
                              f" WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return {r["id"]: RemindedCase.from_row(r) for r in rows}

    def lock_case_heads(self, case_ids: Iterable[str]) -> dict[str, Row]:
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        sql = (f"SELECT id, last_seq, last_hash, reminders_sent, escalation_level FROM cases"
               f" WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id")
        rows = self._uow.rows("cases", sql + (" FOR UPDATE" if self.is_postgresql else ""), ids)
        return {r["id"]: r for r in rows}

    def update_case_heads(self, rows: Iterable[Row]) -> None:
        for columns, group in _by_columns(rows, "id").items():
            sql = f"UPDATE cases SET {', '.join(f'{_quoted(c)} = ?' for c in columns)} WHERE id = ?"
            self._uow.executemany(sql, [[*(r[c] for c in columns), r["id"]] for r in group])

    def insert_events(self, rows: Iterable[Row]) -> None:
        # A payload may come already in its stored form (the canonical JSON ``sealed_row`` gives).
        values = [r if isinstance(r.get("payload"), str | None) else {**r, "payload": dumps(r["payload"])} for r in rows]
        self._insert("events", values)
        self._count_escalations(values)

    def _count_escalations(self, rows: list[Row]) -> None:
        """Escalations being written are counted into their day, in the same transaction (the step report)."""
        found = escalation_day_params(rows)
        if found:
            self._uow.executemany(UPSERT_ESCALATION_DAY_OF_CASE, [list(p) for p in found])

    def held_reminders(self, reminder_ids: Iterable[int], *, worker: str) -> set[int]:
        ids = sorted(set(reminder_ids))
        if not ids:
            return set()
        # By id alone, the rest checked here: with ``status = ?`` beside it, SQLite's planner (no statistics)
        # prefers the status index and walks every pending row, for each batch (24 µs a row at 100,000).
        sql = (f"SELECT id, claimed_by, status FROM reminders WHERE id IN ({', '.join('?' * len(ids))})"
               + (" FOR UPDATE" if self.is_postgresql else ""))
        cursor = self._uow.execute(sql, ids)
        found = {int(r[0]) for r in cursor.fetchall() if r[1] == worker and r[2] == "pending"}
        cursor.close()
        return found

    def mark_sent(self, rows: Iterable[tuple[int, str, str | None]], *, sent_at: datetime, worker: str) -> None:
        at = self._uow.driver.bind(sent_at)
        found = [[at, recipients, error, rid, worker] for rid, recipients, error in rows]
        if found:
            self._uow.executemany(
                "UPDATE reminders SET status = 'sent', sent_at = ?, attempts = attempts + 1, claimed_by = NULL,"
                " lease_until = NULL, recipients = ?, last_error = ? WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                found, bound=True)

    def mark_reminders(self, rows: Iterable[Row], *, worker: str) -> None:
        for columns, group in _by_columns(rows, "id").items():
            sql = (f"UPDATE reminders SET {', '.join(f'{_quoted(c)} = ?' for c in columns)}"
                   " WHERE id = ? AND claimed_by = ? AND status = 'pending'")
            self._uow.executemany(sql, [[*(r[c] for c in columns), r["id"], worker] for r in group])

    def running_case_deadlines(self, case_ids: Iterable[str]) -> dict[tuple[str, str], Row]:
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        # By case alone, ``met_at`` checked here: beside ``met_at IS NULL`` the planner would walk every running
        # case deadline (its index) instead of the cases' few rows.
        rows = self._uow.rows("case_deadlines", f"SELECT * FROM case_deadlines WHERE case_id IN"
                              f" ({', '.join('?' * len(ids))})", ids)
        return {(r["case_id"], r["name"]): r for r in rows if r["met_at"] is None}

    def _insert(self, table: str, rows: list[Row]) -> None:
        """Insert rows, one ``executemany`` per set of columns (rows built alike share one statement)."""
        groups: dict[tuple[str, ...], list[Row]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        uow = self._uow
        driver, bind = uow.driver, uow.driver.bind
        for columns, group in groups.items():
            sql, typed = driver.insert(table, columns)
            values = [list(row.values()) for row in group]
            if typed:
                for row_values in values:
                    for i in typed:
                        row_values[i] = bind(row_values[i])
            cursor = uow.raw.cursor()
            if len(values) == 1:  # psycopg's executemany is a pipeline of its own: one row is one statement
                cursor.execute(sql, values[0])
            else:
                cursor.executemany(sql, values)
            cursor.close()


def _overdue_page(sql: str, params: list[Any], place: str, *, after: tuple[datetime, Any] | None,
                  plan_id: str | None, unit: str | None, limit: int | None) -> tuple[str, list[Any]]:
    """An overdue statement's ``sql`` (its ``WHERE`` begun) and ``params`` with the stuck list's filters, the
    keyset page after ``after`` (its deadline and the value of ``place``, the column that orders one deadline's
    cases) and the order and limit, as ``CaseRepository.overdue_cases`` describes them."""
    if after is not None:
        sql += f" AND deadline >= ? AND (deadline > ? OR {place} > ?)"
        params = [*params, after[0], after[0], after[1]]
    if plan_id is not None:
        sql += " AND plan_id = ?"
        params = [*params, plan_id]
    if unit is not None:
        sql += " AND unit = ?"
        params = [*params, unit]
    sql += f" ORDER BY deadline, {place}"
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, limit]
    return sql, params


def _by_columns(rows: Iterable[Row], key: str) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by the columns they set besides ``key``, in the order they set them (rows built alike,
    as a batch's are, share a group without sorting each row's columns)."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    found: dict[tuple[str, ...], list[Row]] = {}
    for columns, group in groups.items():
        found.setdefault(tuple(c for c in columns if c != key), []).extend(group)
    return found


def _quoted(column: str) -> str:
    return '"trigger"' if column == "trigger" else column  # the one column named by an SQL keyword


class _Lent:
    """A driver connection lent to SQLAlchemy for one unit of work: closing it gives it back, open, and its
    transaction is the unit of work's to end (SQLAlchemy's rollback on closing would end a batch's too)."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


class LendingEngine:
    """A SQLAlchemy engine over connections the hot path holds (SQLite), for the queries it does not have.

    Made once per Database. Its dialect is initialised on a connection of its own (initialising ends the
    connection's transaction), after which each ``connect`` wraps the connection lent to it, inside its
    transaction, and never resets or closes it.
    """

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self._lent = threading.local()
        self.engine = create_engine("sqlite://", creator=lambda: _Lent(self._lent.con), poolclass=NullPool,
                                    pool_reset_on_return=None)
        first = self._lent.con = sqlite_connect(path, busy_timeout_ms)
        try:
            self.engine.connect().close()
        finally:
            self._lent.con = None
            first.close()

    def connect(self, con: Any) -> Any:
        self._lent.con = con
        try:
            return self.engine.connect()
        finally:
            self._lent.con = None


def sqlite_connect(path: str, busy_timeout_ms: int) -> Any:
    """A stdlib connection with the pragmas every indsats connection has (see ``Database``)."""
    import sqlite3

    con = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=True)
    con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    return con


class ThreadConnections:
    """Driver connections kept per thread (SQLite connections stay in the thread that made them): a unit of
    work checks one out and gives it back; one opened inside another gets a connection of its own."""

    KEEP = 2  # idle connections kept per thread

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: set[Any] = set()
        self._lock = threading.Lock()

    def _idle(self) -> list[Any]:
        idle = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = []
        return idle

    def checkout(self, make: Any) -> Any:
        idle = self._idle()
        if idle:
            return idle.pop()
        con = make()
        with self._lock:
            self._all.add(con)
        return con

    def checkin(self, con: Any, *, broken: bool = False) -> None:
        idle = self._idle()
        if not broken and len(idle) < self.KEEP:
            idle.append(con)
            return
        with self._lock:
            self._all.discard(con)
        try:
            con.close()
        except Exception:  # noqa: BLE001 (already gone)
            pass

    def close_all(self) -> None:
        with self._lock:
            cons, self._all = self._all, set()
        for con in cons:
            try:
                con.close()
            except Exception:  # noqa: BLE001 (already gone, or another thread's: closed when it ends)
                pass
        self._local = threading.local()
