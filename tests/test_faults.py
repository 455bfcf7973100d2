"""Faults, from the outside: real processes, a real SMTP server, real PostgreSQL and SQLite.

Many workers on one PostgreSQL database; a worker killed mid-batch; two people advancing one case at the
same moment; a database locked, unreachable, read-only or full. Each multi-process PostgreSQL test gets a
database of its own (created, migrated, dropped), so no worker of one test ever sees another's rows.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import (
    ORGANISATION,
    PLAN,
    TEST_KEY,
    _pg_connect_args,
    fresh_postgresql_database,
    process_env,
    register_admin,
)
from smtp_sink import Received, free_port, smtp_sink
from sqlalchemy import func, select

from indsats.engine.time.calendar import WorkingCalendar
from indsats.adapters.plan_files import PlanFolders
from indsats.engine.plans.catalog import PlanCatalog
from indsats.engine.time.clock import LOCAL_TZ, FixedClock, localize
from indsats.engine.context import Context
from indsats.engine.privacy.crypto import Keyring
from indsats.engine.log.verify import verify
from indsats.storage.database import Database
from indsats.storage.migrate import upgrade
from indsats.storage.models import events, reminders

if TYPE_CHECKING:
    from indsats.storage.database import Database as DatabaseType

MAIL_FROM = "indsats@example.org"
MESSAGE_ID = re.compile(r"<indsats-reminder-(\d+)@example\.org>")


# -- the world: databases, an organisation, cases, processes ---------------------------------------------


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, migrated; dropped at the end (conftest's rule: skip, or fail in CI)."""
    with fresh_postgresql_database("indsats_faults") as url:
        yield url


def migrate(url: str) -> None:
    db = Database(url)
    upgrade(db)
    db.dispose()  # no connection left open: a test may unmount the file system under it


def world(url: str, *, opened_at: datetime | None = None) -> Context:
    """A context on ``url`` with the conftest organisation registered; cases open at ``opened_at``."""
    from indsats.engine.org.users import add_user

    # A month before the system clock: every reminder of a case opened now is due for a worker.
    when = opened_at or _working_morning(datetime.now(timezone.utc) - timedelta(days=30))
    ctx = Context(db=Database(url), clock=FixedClock(when), catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
                  keys=Keyring.fixed(TEST_KEY))
    register_admin(ctx)
    for login, (role, reports_to) in ORGANISATION.items():
        add_user(ctx, actor="admin", login=login, name=login.title(), role=role, email=f"{login}@example.org",
                 reports_to=reports_to)
    return ctx


def _working_morning(before: datetime) -> datetime:
    """09:00 local on the last Monday–Thursday open day before ``before``: 'suspected' (4 working hours) then
    ends the same day, so no warning is planned, and the notice on entry is due at the opening itself."""
    calendar = WorkingCalendar()
    day = before.astimezone(LOCAL_TZ).date()
    while day.weekday() > 3 or not calendar.is_open_day(day):
        day -= timedelta(days=1)
    return localize(datetime.combine(day, datetime.min.time()).replace(hour=9), LOCAL_TZ)


def open_cases(ctx: Context, n: int) -> list[str]:
    from fakes import RecordingNotifier
    from indsats.engine.cases.service import open_case
    from indsats.engine.reminders.sweep import sweep

    ids = [open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}").case_id for i in range(n)]
    # The notices on entry go out at once, at the opening; what these tests count are the rows due later.
    sweep(ctx, RecordingNotifier(), worker="setup", batch_size=1000)
    return ids


def due_reminder_ids(ctx: Context) -> set[int]:
    with ctx.db.connect() as conn:
        return set(conn.execute(select(reminders.c.id).where(reminders.c.status == "pending")).scalars())


def reminder_statuses(ctx: Context, ids: set[int]) -> Counter[str]:
    with ctx.db.connect() as conn:
        return Counter(conn.execute(select(reminders.c.status).where(reminders.c.id.in_(ids))).scalars())


def event_count(ctx: Context) -> int:
    with ctx.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def url_of(ctx: Context) -> str:
    return ctx.db.url.render_as_string(hide_password=False)


def faults_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    """``process_env`` with the mail sender and the key these processes need."""
    return process_env(tmp_path, url, **{"INDSATS_MAIL_FROM": MAIL_FROM, "INDSATS_KEY": TEST_KEY.decode(), **extra})


def indsats(*args: str) -> list[str]:
    return [sys.executable, "-m", "indsats", *args]


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(indsats(*args), env=env, capture_output=True, text=True, timeout=timeout)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(indsats("worker", "--every", "0.2"), env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen[bytes], log: Path) -> str:
    """SIGTERM, then the worker's log; a worker that does not stop within 10 s fails the test."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail(f"the worker did not stop within 10 s of SIGTERM: {log.read_text()}")
    return log.read_text()


def sent_per_sweep(log: str) -> int:
    return sum(int(n) for n in re.findall(r" INFO indsats\.worker sweep job=sweep .*?\bsent=(\d+)", log))


def reminder_id(mail: Received) -> int:
    found = MESSAGE_ID.fullmatch(str(mail.mail["Message-ID"]))
    assert found, mail.mail["Message-ID"]
    return int(found.group(1))


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def one_error_line(stderr: str) -> str:
    assert stderr.startswith("Error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr.strip()


# -- 1. many workers on one PostgreSQL database ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgresql
def test_four_workers_on_one_postgresql_database_deliver_5001_reminders_each_exactly_once(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    ctx = world(fresh_pg_url)
    open_cases(ctx, 1667)  # each: the employee, the leader and the leader's leader = 5,001 reminders due
    due = due_reminder_ids(ctx)
    assert len(due) == 5001
    port = free_port()
    env = faults_env(tmp_path, fresh_pg_url, INDSATS_SMTP_URL=f"smtp://127.0.0.1:{port}")
    logs = [tmp_path / f"worker-{i}.log" for i in range(4)]

    with smtp_sink(port) as sink:
        started = time.monotonic()
        workers = [start_worker(env, log) for log in logs]
        wait_for(lambda: len(sink.received) >= len(due) or any(w.poll() is not None for w in workers),
                 timeout=120, what="5,001 mails at the sink")
        took = time.monotonic() - started
        time.sleep(0.6)  # a few more sweeps each, which must find nothing more to send
        outputs = [stop_worker(w, log) for w, log in zip(workers, logs)]

    per_worker = [sent_per_sweep(out) for out in outputs]
    counts = Counter(reminder_id(mail) for mail in sink.received)
    duplicates = {rid: n - 1 for rid, n in counts.items() if n > 1}
    print(f"\n{len(due)} reminders, 4 workers: {took:.1f} s from start to the last mail (process start-up "
          f"included); sent per worker {per_worker}; duplicates {len(duplicates)}")
    assert [w.returncode for w in workers] == [0, 0, 0, 0], outputs
    assert all("worker stopped" in out for out in outputs)
    assert duplicates == {}
    assert set(counts) == due
    assert sum(per_worker) == len(due)
    assert sum(1 for n in per_worker if n > 0) >= 2, f"the work was not shared: {per_worker}"
    assert reminder_statuses(ctx, due) == Counter(sent=len(due))
    assert verify(ctx).ok
    ctx.db.dispose()


# -- 2. a worker killed in the middle of a batch -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgresql
def test_a_worker_killed_mid_batch_is_taken_over_when_its_lease_runs_out_and_nothing_goes_out_more_than_twice(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    ctx = world(fresh_pg_url)
    open_cases(ctx, 40)  # 120 reminders: one batch
    due = due_reminder_ids(ctx)
    port = free_port()
    env = faults_env(tmp_path, fresh_pg_url, INDSATS_SMTP_URL=f"smtp://127.0.0.1:{port}", INDSATS_LEASE_SECONDS="2")

    with smtp_sink(port, delay=0.02) as sink:  # a slow relay: the first batch takes 2.4 s to hand over
        first = start_worker(env, tmp_path / "first.log")
        wait_for(lambda: len(sink.received) >= 10, timeout=30, what="the first worker's first mails")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        before_takeover = len(sink.received)
        assert before_takeover < len(due), "the worker was not killed in the middle of its batch"
        assert reminder_statuses(ctx, due) == Counter(pending=len(due)), "the killed worker recorded nothing"
        second = start_worker(env, tmp_path / "second.log")
        wait_for(lambda: {reminder_id(m) for m in list(sink.received)} >= due, timeout=60,
                 what="every reminder at the sink")
        time.sleep(0.6)
        output = stop_worker(second, tmp_path / "second.log")

    counts = Counter(reminder_id(mail) for mail in sink.received)
    duplicates = sorted(rid for rid, n in counts.items() if n > 1)
    print(f"\nkilled after {before_takeover} of {len(due)} mails; the second worker sent {sent_per_sweep(output)}; "
          f"duplicates ({len(duplicates)}, each with the same Message-ID): {duplicates}")
    assert second.returncode == 0, output
    assert set(counts) == due
    assert max(counts.values()) <= 2, "a reminder went out more than twice"
    assert 1 <= len(duplicates) <= before_takeover + 1  # + the one in flight when the worker died
    assert reminder_statuses(ctx, due) == Counter(sent=len(due))
    assert verify(ctx).ok
    ctx.db.dispose()


# -- 3. two people advancing one case at the same moment -----------------------------------------------------


CLOCK_NANOSLEEP = {"x86_64": 230, "aarch64": 115}  # the syscall SQLite's busy handler sleeps in


def _sleeping_on_sqlite_lock(pid: int, db_file: Path) -> bool:
    """The process has the database open and sits in SQLite's busy handler (the only place it sleeps)."""
    proc = Path(f"/proc/{pid}")
    try:
        opened = any(os.readlink(fd) == str(db_file) for fd in (proc / "fd").iterdir())
        syscall = (proc / "syscall").read_text().split()[0]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return opened and syscall == str(CLOCK_NANOSLEEP[platform.machine()])


class SqliteWriteLock:
    """The test's own connection in ``BEGIN IMMEDIATE``: every other writer queues, readers go on (WAL)."""

    def __init__(self, db: DatabaseType) -> None:
        import sqlite3

        assert db.path is not None
        self.file = db.path.resolve()
        self.conn = sqlite3.connect(self.file, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def both_queued(self, pids: list[int]) -> bool:
        # Three looks 30 ms apart: the busy handler wakes only briefly to retry.
        for _ in range(3):
            if not all(_sleeping_on_sqlite_lock(pid, self.file) for pid in pids):
                return False
            time.sleep(0.03)
        return True

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresRowLock:
    """The test's own transaction holding the case row ``FOR UPDATE``: every writer to it queues."""

    def __init__(self, db: DatabaseType, case_id: str) -> None:
        import psycopg

        self.dbname = db.url.database
        self.conn = psycopg.connect(**_pg_connect_args(db.url))
        self.conn.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case_id,))
        self.watch = psycopg.connect(**_pg_connect_args(db.url), autocommit=True)

    def both_queued(self, pids: list[int]) -> bool:
        waiting = self.watch.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (self.dbname,)
        ).fetchone()
        return waiting is not None and waiting[0] == len(pids)

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()
        self.watch.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def race_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("fresh_pg_url"))
    if platform.system() != "Linux" or platform.machine() not in CLOCK_NANOSLEEP:
        pytest.skip(f"seeing a process wait in SQLite's busy handler reads /proc/PID/syscall (Linux x86_64/aarch64); "
                    f"this is {platform.system()} {platform.machine()}")
    url = f"sqlite:///{tmp_path}/race.db"
    migrate(url)
    return url


def test_two_people_advancing_one_case_at_the_same_moment_one_wins_and_the_other_is_told_of_the_conflict(
    race_url: str, tmp_path: Path
) -> None:
    ctx = world(race_url)
    [case_id] = open_cases(ctx, 1)
    before = event_count(ctx)
    env = faults_env(tmp_path, race_url, INDSATS_USER="emil", INDSATS_BUSY_TIMEOUT_MS="30000")
    # Both read the case while the test holds the write lock, then queue for it; releasing it lets one
    # write and the other find the version it read gone. Without the lock, the second might simply read
    # after the first committed (an honest exit 5, but not the race this test is about).
    lock = SqliteWriteLock(ctx.db) if ctx.db.is_sqlite else PostgresRowLock(ctx.db, case_id)
    try:
        racers = [
            subprocess.Popen(indsats("advance", case_id, "notify_leader"), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        wait_for(lambda: lock.both_queued([p.pid for p in racers]), timeout=30, what="both writers to queue")
    finally:
        lock.release()
    outputs = [p.communicate(timeout=60) for p in racers]

    codes = sorted(p.returncode for p in racers)
    assert codes == [0, 6], outputs
    loser = next(err for p, (_, err) in zip(racers, outputs) if p.returncode == 6)
    assert one_error_line(loser).startswith(f"Error: case {case_id} was changed by someone else while you were acting")
    assert event_count(ctx) == before + 1
    verified = run(["verify"], env)
    assert verified.returncode == 0, verified.stderr
    ctx.db.dispose()


# -- 4. the database locked, unreachable, read-only or full ---------------------------------------------------


@pytest.fixture
def sqlite_case(tmp_path: Path) -> tuple[Context, str]:
    """A SQLite file with the organisation and one case in 'suspected'."""
    url = f"sqlite:///{tmp_path}/faults.db"
    migrate(url)
    ctx = world(url)
    return ctx, open_cases(ctx, 1)[0]


@pytest.mark.parametrize("command", [["advance", "{case}", "notify_leader"], ["note", "{case}", "Ringede"],
                                     ["open", PLAN, "--subject", "REF-9"]])
def test_a_sqlite_database_locked_longer_than_the_busy_timeout_exits_7_and_writes_nothing(
    sqlite_case: tuple[Context, str], tmp_path: Path, command: list[str]
) -> None:
    ctx, case_id = sqlite_case
    before = event_count(ctx)
    env = faults_env(tmp_path, url_of(ctx), INDSATS_USER="emil", INDSATS_BUSY_TIMEOUT_MS="300")
    lock = SqliteWriteLock(ctx.db)
    try:
        started = time.monotonic()
        result = run([part.format(case=case_id) for part in command], env)
        waited = time.monotonic() - started
    finally:
        lock.release()

    assert result.returncode == 7, result.stderr
    assert "is locked by another process (waited 300 ms); nothing was written" in one_error_line(result.stderr)
    assert waited < 10
    assert event_count(ctx) == before


@pytest.mark.parametrize(
    ("url", "command"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:{port}/indsats", ["cases"]),
        ("postgresql+psycopg://postgres@127.0.0.1:{port}/indsats", ["advance", "RAD-2026-0001", "notify_leader"]),
        ("postgresql+psycopg://postgres@localhost:{port}/indsats", ["init"]),
    ],
)
def test_a_database_server_nobody_listens_for_exits_7_with_one_line(
    tmp_path: Path, url: str, command: list[str]
) -> None:
    # A PostgreSQL server that is stopped, simulated by a port nobody listens on.
    result = run(command, faults_env(tmp_path, url.format(port=free_port())))

    assert result.returncode == 7
    line = one_error_line(result.stderr)
    assert "is unavailable" in line and "refused" in line.lower(), line


def test_a_worker_whose_database_is_unreachable_at_start_exits_7_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/indsats"

    result = run(["worker", "--every", "0.2"], faults_env(tmp_path, url), timeout=30)

    assert result.returncode == 7
    line = one_error_line(result.stderr)
    assert "is unavailable" in line and "refused" in line.lower(), line


def test_a_worker_survives_its_database_going_away_and_stops_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gone.db"
    env = faults_env(tmp_path, url)
    assert run(["init"], env).returncode == 0
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    wait_for(lambda: "worker started" in log.read_text(), timeout=30, what="the worker to start")
    (tmp_path / "gone.db").rename(tmp_path / "moved.db")
    wait_for(lambda: log.read_text().count("job failed") >= 2, timeout=30, what="two failed sweeps")
    output = stop_worker(worker, log)

    assert worker.returncode == 0, output
    failures = [line for line in output.splitlines() if " ERROR indsats.worker job failed " in line]
    assert "job=sweep outcome=error error=no database at" in failures[0]
    assert "Traceback" not in output and "worker stopped" in output


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({' '.join(args)}): {done.stderr.strip() or done.returncode}")


@pytest.fixture
def mount_point() -> Iterator[Path]:
    """An empty directory that a test may mount something on; unmounted and removed at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only or a tiny file system needs root (an unprivileged user's file modes are "
                    "tested in test_notifiers.py)")
    where = Path(tempfile.mkdtemp(prefix="indsats-mnt-"))
    yield where
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", str(where)], capture_output=True)  # a connection left open
    where.rmdir()


def test_a_database_on_a_read_only_file_system_exits_7_and_says_so(
    sqlite_case: tuple[Context, str], tmp_path: Path, mount_point: Path
) -> None:
    # Root ignores file modes, so a read-only bind mount of the database's directory stands in for them.
    ctx, case_id = sqlite_case
    before = event_count(ctx)
    ctx.db.dispose()
    _mount("--bind", str(ctx.db.path.parent), str(mount_point))  # type: ignore[union-attr]
    _mount("-o", "remount,bind,ro", str(mount_point))
    env = faults_env(tmp_path, f"sqlite:///{mount_point}/faults.db", INDSATS_USER="emil")

    result = run(["advance", case_id, "notify_leader"], env)

    assert result.returncode == 7
    assert "is read-only" in one_error_line(result.stderr)
    assert event_count(ctx) == before


def test_a_database_on_a_full_disk_exits_7_says_so_and_is_whole_when_space_returns(
    tmp_path: Path, mount_point: Path
) -> None:
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point))
    url = f"sqlite:///{mount_point}/full.db"
    migrate(url)
    ctx = world(url)
    [case_id] = open_cases(ctx, 1)
    before = event_count(ctx)
    ctx.db.dispose()
    filler = mount_point / "filler"
    with filler.open("wb", buffering=0) as out:  # unbuffered: closing must not flush into a full disk again
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    env = faults_env(tmp_path, url, INDSATS_USER="emil")

    results = [run(["advance", case_id, "notify_leader"], env), run(["note", case_id, "Ringede"], env)]
    filler.unlink()

    for result in results:
        assert result.returncode == 7
        assert "is full; nothing was written" in one_error_line(result.stderr)
    assert event_count(ctx) == before
    assert verify(ctx).ok
    again = run(["advance", case_id, "notify_leader"], env)
    assert again.returncode == 0, again.stderr
    ctx.db.dispose()
