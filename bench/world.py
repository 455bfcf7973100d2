"""The world the benchmarks run in: a migrated database, an organisation, the plan pinned, rows in bulk.

Large datasets are inserted straight into the indsats schema (``executemany``), never through the
service layer: the service layer is timed only where a benchmark says so.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import inspect
import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.storage.database import Database

PLAN = "radikalisering"
# Monday 2 March 2026, 09:00 in Copenhagen (08:00 UTC): an ordinary working morning.
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
# login → (role, reports_to), leaders first; every one of them has an e-mail address.
ORGANISATION: dict[str, tuple[str, str | None]] = {
    "sol": ("socialchef", None),
    "lea": ("leder", "sol"),
    "emil": ("medarbejder", "lea"),
    "fie": ("fagspecialist", None),
    "sup": ("supervisor", None),
}
# The walk through the plan: (actor, trigger, fields), one transition each.
WALK: list[tuple[str, str, dict[str, str]]] = [
    ("emil", "notify_leader", {}),
    ("lea", "notify_specialist", {}),
    ("fie", "assess", {"summary": "Samtale med borgeren", "signs": "behaviour:moderate"}),
    ("lea", "decide", {"police_report": "no", "rationale": "Ingen strafbare forhold"}),
]
STATES = ["suspected", "leader_notified", "specialist_notified", "assessed", "decided"]
ZERO_HASH = "0" * 64
# One key (url-safe base64 of 32 bytes) for every process of a run, so workers read each other's rows.
BENCH_KEY = base64.urlsafe_b64encode(bytes(range(32)))


def sqlite_database(path: Path) -> Database:
    """A new SQLite file with the indsats schema (Alembic, as ``indsats init`` does)."""
    from indsats.storage.database import Database
    from indsats.storage.migrate import upgrade

    db = Database(f"sqlite:///{path}")
    upgrade(db)
    return db


def make_context(db: Database, *, at: datetime = MONDAY) -> Context:
    """The service layer's collaborators, wired as in the tests: a fixed clock, the shipped plans."""
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.engine.time.clock import FixedClock
    from indsats.engine.context import Context

    extra: dict[str, Any] = {}
    if "keys" in {f.name for f in dataclasses.fields(Context)}:  # encryption at rest, where present
        from indsats.engine.privacy.crypto import Keyring

        extra["keys"] = Keyring.fixed(BENCH_KEY)
    return Context(db=db, clock=FixedClock(at), catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(), **extra)


def seed_org(ctx: Context) -> None:
    """An admin, then the organisation of ``ORGANISATION``, through the service layer (a handful of rows)."""
    from indsats.engine.org.users import add_user, register_first_admin

    with ctx.db.unit_of_work(write=True) as uow:
        register_first_admin(uow.repo, "admin", ctx.clock.now())
        uow.commit()
    for login, (role, reports_to) in ORGANISATION.items():
        add_user(ctx, actor="admin", login=login, name=login.title(), role=role, email=f"{login}@example.org",
                 reports_to=reports_to)


def pin_plan(ctx: Context) -> str:
    """Store the shipped plan's text in ``plans`` (what the first case does); return its version."""
    plan_file = ctx.catalog.get(PLAN)
    with ctx.db.unit_of_work(write=True) as uow:
        uow.repo.ensure_plan(plan_file.plan.id, plan_file.plan.version, plan_file.text, ctx.clock.now())
        uow.commit()
    return plan_file.plan.version


def open_cases(ctx: Context, n: int) -> list[str]:
    """``n`` cases opened by emil through the service layer (reminder rows and all)."""
    from indsats.engine.cases.service import open_case

    return [open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}").case_id for i in range(n)]


# -- rows in bulk -----------------------------------------------------------------------------------


def db_time(value: datetime) -> str:
    """A datetime as SQLAlchemy stores it on SQLite: naive UTC with microseconds."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def case_row(case_id: str, version: str, *, state: str, deadline: datetime | None, is_open: bool = True,
             entered: datetime = MONDAY, opener: str = "emil") -> dict[str, Any]:
    return dict(
        id=case_id, plan_id=PLAN, plan_version=version, state=state, is_open=is_open, acute=False, minor=False,
        source="employee", subject_ref=None, opened_by=opener, unit=None, opened_at=entered,
        state_entered_at=entered, deadline=deadline, closed_at=None if is_open else entered, escalation_level=0,
        reminders_sent=0, last_activity_at=entered, paused_at=None, version=1, last_seq=1, last_hash=ZERO_HASH,
    )


def reminder_row(case_id: str, *, state: str, due: datetime, level: int = 0, entry_seq: int = 1) -> dict[str, Any]:
    return dict(
        case_id=case_id, state=state, entry_seq=entry_seq, level=level, kind="reminder" if level == 0 else "escalation",
        due_at=due, status="pending", attempts=0, next_attempt_at=due, claimed_by=None, lease_until=None,
        sent_at=None, recipients=None, last_error=None,
    )


def due_reminder_world(n: int, version: str, *, at: datetime = MONDAY) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n`` open cases in 'suspected', each with one level-0 reminder due an hour before ``at``.

    One reminder per case, so the sweep coalesces nothing and sends ``n`` messages.
    """
    due = at - timedelta(hours=1)
    ids = [f"RAD-2026-{i:07d}" for i in range(1, n + 1)]
    cases = [case_row(i, version, state="suspected", deadline=due, entered=at - timedelta(hours=5)) for i in ids]
    return cases, [reminder_row(i, state="suspected", due=due) for i in ids]


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A stdlib connection with the pragmas indsats uses: WAL, synchronous=NORMAL, foreign keys."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 5000")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    return con


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return db_time(value)
    if isinstance(value, bool):
        return int(value)
    return value


def insert_sqlite(con: sqlite3.Connection, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Insert dict rows with one ``executemany``, in the caller's transaction."""
    rows = list(rows)
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    con.executemany(sql, ([_sqlite_value(r[c]) for c in columns] for r in rows))


def insert_rows(db: Database, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows through SQLAlchemy Core (PostgreSQL), in chunks."""
    from sqlalchemy import insert

    from indsats.storage import models

    target = getattr(models, table)
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(target), rows[start : start + 5000])


# -- worlds kept between runs -----------------------------------------------------------------------

WORLDS_ENV = "INDSATS_BENCH_WORLDS"


def schema_head() -> str:
    """The newest Alembic revision the migrations know (a world built on an older schema is not reused)."""
    from alembic.script import ScriptDirectory

    from indsats.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or "none"


def code_fingerprint(*modules: ModuleType) -> str:
    """A short digest of the source of the modules that build a world: editing a builder makes a new world."""
    digest = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode())
        digest.update(Path(inspect.getfile(module)).read_bytes())
    return digest.hexdigest()[:12]


def cached_world(name: str, build: Callable[[Path], Any], *, builders: Iterable[ModuleType]) -> Path | None:
    """The SQLite file of world ``name`` from the cache folder ``$INDSATS_BENCH_WORLDS``, built by
    ``build(path)`` when it is not there yet (treat it as read-only: copy it before writing); None when the
    variable is unset (build it in the run's scratch folder, as always).

    The file is named by the world, the schema head and a fingerprint of ``builders``' source
    (``verify-1000000-0007_state_visits-1a2b3c4d5e6f.db``): a schema change or an edited builder makes a
    new one (delete old ones by hand). A world is built under a temporary name and renamed when
    complete, so a build cut short is never taken for a world.
    """
    folder = os.environ.get(WORLDS_ENV)
    if not folder:
        return None
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}-{schema_head()}-{code_fingerprint(*builders)}.db"
    if not path.exists():
        partial = path.with_name(f"{path.stem}.building-{os.getpid()}.db")
        try:
            build(partial)
            con = sqlite3.connect(partial)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file, to keep and copy
            con.close()
            partial.rename(path)
        finally:
            for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
                leftover.unlink(missing_ok=True)
    return path


def count_rows(path: Path, table: str) -> int:
    """How many rows ``table`` of the SQLite file holds."""
    con = sqlite3.connect(path)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (our own table names)
    finally:
        con.close()
