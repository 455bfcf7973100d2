"""Fixtures that build the world of a test, one piece each: a clock, a database, an organisation, a case.

``database`` runs every test that asks for it twice: on a SQLite file in ``tmp_path`` and on PostgreSQL.
PostgreSQL gets one fresh database per test session (created, migrated once, dropped at the end) and is
emptied before each test. When the server is unreachable its tests are skipped, except under CI (``CI``
set), where they fail: CI must never pass by silently testing one database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from indsats.engine.time.calendar import WorkingCalendar
from indsats.adapters.files import PrivateFileWriter
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import LOCAL_TZ, FixedClock
from indsats.engine.context import Context
from indsats.engine.privacy.crypto import Keyring

# A fixed encryption key for tests (a real installation makes its own with `indsats init` or `keys new`).
TEST_KEY = b"ZmFrZS10ZXN0LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="
# A fixed seal signing key (Ed25519, 32 bytes): what `init` makes beside the key file.
TEST_SIGNING_KEY = b"c2VhbC1zaWduaW5nLWtleS1mb3ItdGVzdHMtb25seSE="


if TYPE_CHECKING:
    from indsats.storage.database import Database

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PLAN = "radikalisering"
# Monday 2 March 2026, 09:00 in Copenhagen (08:00 UTC): an ordinary working morning.
MONDAY_MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL_TZ)
TABLES = "users, grants, plans, case_counters, cases, events, reminders, org_events, seals, seal_heads, key_fingerprints, case_deadlines, visit_days, escalation_days"

# The organisation of `org`: login → (role, reports_to). Built in this order (leaders first).
ORGANISATION: dict[str, tuple[str, str | None]] = {
    "sol": ("socialchef", None),
    "lea": ("leder", "sol"),
    "leo": ("leder", "sol"),
    "emil": ("medarbejder", "lea"),
    "ida": ("medarbejder", "leo"),
    "fie": ("fagspecialist", None),
    "sup": ("supervisor", None),
}
WALK = ("suspected", "leader_notified", "specialist_notified", "assessed", "decided")


# -- language --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests read English wording (``language = "en"``), in this process and in the processes it starts;
    a test of the Danish text says so (``INDSATS_LANGUAGE=da``, or the default with it unset)."""
    from indsats import i18n

    monkeypatch.setenv("INDSATS_LANGUAGE", "en")
    i18n.use("en")
    yield
    i18n.use(None)


@pytest.fixture
def danish(english: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installation's default: Danish (``language = "da"``), for tests of the Danish text."""
    from indsats import i18n

    monkeypatch.setenv("INDSATS_LANGUAGE", "da")
    i18n.use("da")


# -- time and plans --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_MORNING)


# -- databases -------------------------------------------------------------------------------------


def _pg_connect_args(url: Any) -> dict[str, Any]:
    """psycopg keyword arguments for a SQLAlchemy URL."""
    args = {"host": url.host, "port": url.port, "user": url.username, "password": url.password, "dbname": url.database}
    return {k: v for k, v in args.items() if v is not None}


@contextmanager
def fresh_postgresql_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards. Unreachable: skip with the reason, or fail in CI."""
    import psycopg
    from sqlalchemy.engine import make_url

    from indsats.storage.database import Database
    from indsats.storage.migrate import upgrade

    server = make_url(os.environ.get("INDSATS_TEST_PG_URL", DEFAULT_PG_URL))
    try:
        admin = psycopg.connect(**_pg_connect_args(server), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        why = " ".join(str(exc).split())
        reason = f"PostgreSQL at {server.render_as_string(hide_password=True)} is unreachable: {why}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{reason} (CI is set: the PostgreSQL tests must run, not skip)", pytrace=False)
        pytest.skip(reason)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # A throwaway database need not wait for the disk on each commit; transactions behave the same.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        url = server.set(database=name).render_as_string(hide_password=False)
        try:
            db = Database(url)
            upgrade(db)
            db.dispose()
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; dropped at the end."""
    with fresh_postgresql_database("indsats_test") as url:
        yield url


@pytest.fixture
def postgresql_database(pg_url: str) -> Iterator[Database]:
    """The session's PostgreSQL database, emptied."""
    from sqlalchemy import text

    from indsats.storage.database import Database

    db = Database(pg_url)
    with db.connect() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        conn.commit()
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite file in tmp_path."""
    from indsats.storage.database import Database
    from indsats.storage.migrate import upgrade

    db = Database(f"sqlite:///{tmp_path}/t.db")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def db_url(ctx: Context) -> str:
    """The URL of ``ctx``'s database, password and all, for a process the test starts on it."""
    return ctx.db.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def catalog() -> PlanCatalog:
    """The shipped plans, parsed once: a catalog only reads files and caches what it parsed."""
    return PlanCatalog(PlanFolders())


@pytest.fixture
def ctx(database: Database, clock: FixedClock, catalog: PlanCatalog, tmp_path: Path) -> Context:
    from indsats.adapters.seal_file import SealFile
    from indsats.engine.log.signing import SealKeys

    return Context(db=database, clock=clock, catalog=catalog, calendar=WorkingCalendar(), keys=Keyring.fixed(TEST_KEY),
                   files=PrivateFileWriter(), signing=SealKeys.fixed(TEST_SIGNING_KEY),
                   seal_log=SealFile(tmp_path / "seals.jsonl"))


# -- people and cases ------------------------------------------------------------------------------


def register_admin(ctx: Context, login: str = "admin") -> None:
    """What `init` does on an empty database: the first user becomes admin."""
    from indsats.engine.org.users import register_first_admin

    with ctx.db.unit_of_work(write=True) as uow:
        register_first_admin(uow.repo, login, ctx.clock.now())
        uow.commit()


def add_users(ctx: Context, organisation: dict[str, tuple[str, str | None]], *, actor: str = "admin",
              surname: str | None = None) -> None:
    """Each of ``organisation`` (login → (role, reports_to), leaders first) added by ``actor``: named by the login
    in title case (and ``surname``), e-mail ``login@example.org``."""
    from indsats.engine.org.users import add_user

    for login, (role, reports_to) in organisation.items():
        name = login.title() if surname is None else f"{login.title()} {surname}"
        add_user(ctx, actor=actor, login=login, name=name, role=role, email=f"{login}@example.org",
                 reports_to=reports_to)


@pytest.fixture
def org(ctx: Context) -> dict[str, tuple[str, str | None]]:
    """admin; socialchef sol; leaders lea and leo under sol; emil under lea, ida under leo; fie; sup."""
    register_admin(ctx)
    add_users(ctx, ORGANISATION)
    return ORGANISATION


def walk(ctx: Context, case_id: str, to: str, *, minor: bool = False) -> None:
    """Advance a case from 'suspected' to ``to``, each step by the right person."""
    from indsats.engine.cases.service import advance

    steps = {
        "leader_notified": ("emil", "notify_leader", {}),
        "specialist_notified": ("lea", "notify_specialist", {}),
        "assessed": ("fie", "assess", {"summary": "Samtale med borgeren", "signs": "behaviour:moderate"}),
        "decided": ("lea", "decide", {"police_report": "no", "rationale": "Ingen strafbare forhold"}),
    }
    for state in WALK[1 : WALK.index(to) + 1]:
        actor, trigger, values = steps[state]
        if trigger == "decide" and minor:
            advance(ctx, actor="emil", case_id=case_id, trigger="report_to_childrens_services",
                    values={"reported_on": "2026-03-02"})
        advance(ctx, actor=actor, case_id=case_id, trigger=trigger, values=values)


@pytest.fixture
def case_in(ctx: Context, org: Any) -> Callable[..., str]:
    """``case_in("assessed", minor=False)``: a case opened by emil and walked there; returns its id."""
    from indsats.engine.cases.service import open_case

    def make(state: str = "suspected", *, minor: bool = False) -> str:
        assert state in WALK, f"no state {state!r} on the walk"
        case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="BORGER-REF-1", minor=minor).case_id
        walk(ctx, case_id, state, minor=minor)
        return case_id

    return make


# -- command line ----------------------------------------------------------------------------------


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cli_db_url(tmp_path: Path) -> str:
    """A SQLite URL whose file does not exist yet (``init`` creates it)."""
    return f"sqlite:///{tmp_path}/cli.db"


@pytest.fixture
def invoke(runner: CliRunner, cli_db_url: str, tmp_path: Path) -> Callable[..., Result]:
    """``invoke(["show", case_id, "--json"], user="emil")``: run the CLI as ``user`` against a database
    (``input=`` is its stdin; other keywords are environment variables)."""
    from indsats.cli import main

    def run(args: list[str], *, user: str | None = "admin", db_url: str | None = None, input: str | bytes | None = None,
            **env: str | None) -> Result:
        environment: dict[str, str | None] = {
            "INDSATS_USER": user,
            "INDSATS_DATABASE_URL": db_url or cli_db_url,
            "INDSATS_CONFIG": "",
            "INDSATS_DATA_DIR": str(tmp_path / "data"),
            "INDSATS_PLANS_DIR": None,
            "INDSATS_DEBUG": None,
            **env,
        }
        return runner.invoke(main, args, env=environment, input=input)

    return run


def process_env(tmp_path: Path, db_url: str, *, user: str = "admin", **extra: str) -> dict[str, str]:
    """The environment of an ``indsats`` process a test starts: this process's without its ``INDSATS_*`` settings,
    then the database at ``db_url``, no config file, the data folder ``tmp_path/data``, ``user``, and English
    (``INDSATS_LANGUAGE=en``, the messages the tests read); ``extra`` (more ``INDSATS_*``) over all of them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDSATS_")}
    env.update({"INDSATS_DATABASE_URL": db_url, "INDSATS_CONFIG": "", "INDSATS_DATA_DIR": str(tmp_path / "data"),
                "INDSATS_USER": user, "INDSATS_LANGUAGE": "en", **extra})
    return env


@pytest.fixture
def cli_org(invoke: Callable[..., Result]) -> dict[str, tuple[str, str | None]]:
    """The CLI's database initialised (admin first) with ``ORGANISATION`` registered: every command needs a
    registered actor, plan tools and the calendar included."""
    assert invoke(["init"]).exit_code == 0
    for login, (role, reports_to) in ORGANISATION.items():
        reports_to = reports_to or ("sol" if role == "fagspecialist" else None)  # a plan check wants fie placed
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        result = invoke(args + (["--reports-to", reports_to] if reports_to else []))
        assert result.exit_code == 0, result.output
    return ORGANISATION
