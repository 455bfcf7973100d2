"""Reminders from the outside: the ``remind``, ``worker`` and ``calendar`` commands, real processes, real SMTP.

These tests share one SQLite file between the test and the command line (in-process through CliRunner,
or as separate processes), so they run on SQLite only; ``tests/test_sweep.py`` covers the same rules on
PostgreSQL through the service functions.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from conftest import process_env
from smtp_sink import free_port, smtp_sink

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

    from indsats.engine.context import Context
    from indsats.storage.database import Database

WEEK_LATER = "2026-03-09T09:00"  # a week after the `clock` fixture's Monday morning, local time


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """Only SQLite: the command line and other processes open the same file as the test."""
    return sqlite_database


def statuses(ctx: Context) -> dict[int, tuple[str, int]]:
    with ctx.db.unit_of_work() as uow:
        return {
            r.id: (r.status, r.attempts) for c in uow.repo.case_ids() for r in uow.repo.reminders_for(c)
        }


def outbox_ids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["reminder_id"] for line in path.read_text(encoding="utf-8").splitlines()]


# -- 9. the remind and calendar commands ----------------------------------------------------------------


def test_remind_json_lists_each_delivery_of_the_sweep(
    invoke: Callable[..., Result], case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_id = case_in("suspected")
    outbox = tmp_path / "outbox.jsonl"

    result = invoke(["remind", "--at", WEEK_LATER, "--json"], db_url=db_url, INDSATS_OUTBOX=str(outbox))

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sent"] == 3
    deliveries = [(d["case_id"], d["kind"], d["level"], d["recipients"], d["ok"]) for d in report["deliveries"]]
    assert sorted(deliveries, key=lambda d: d[2]) == [
        (case_id, "reminder", 0, ["emil"], True),
        (case_id, "escalation", 1, ["lea"], True),
        (case_id, "escalation", 2, ["sol"], True),
    ]
    assert sorted(outbox_ids(outbox)) == sorted(d["reminder_id"] for d in report["deliveries"])


def test_remind_dry_run_shows_what_is_due_and_sends_and_changes_nothing(
    invoke: Callable[..., Result], ctx: Context, case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_in("suspected")
    outbox = tmp_path / "outbox.jsonl"
    before = statuses(ctx)

    table = invoke(["remind", "--at", WEEK_LATER, "--dry-run"], db_url=db_url, INDSATS_OUTBOX=str(outbox))
    as_json = invoke(["remind", "--at", WEEK_LATER, "--dry-run", "--json"], db_url=db_url, INDSATS_OUTBOX=str(outbox))

    assert table.exit_code == 0, table.output
    assert "Dry run: 3 message(s) due; nothing sent." in table.stdout
    assert as_json.exit_code == 0, as_json.output
    assert sorted(d["recipients"] for d in json.loads(as_json.stdout)["deliveries"]) == [["emil"], ["lea"], ["sol"]]
    assert not outbox.exists()
    assert statuses(ctx) == before


def test_remind_at_a_time_that_is_not_a_time_exits_5_with_one_line(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.jsonl"

    result = invoke(["remind", "--at", "notatime"], INDSATS_OUTBOX=str(outbox))

    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.startswith("Error: bad time 'notatime'")
    assert result.stderr.count("\n") == 1
    assert not outbox.exists()


def test_calendar_due_counts_six_working_days_past_christmas_and_new_year(
    invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["calendar", "due", "2026-12-22T10:00", "6", "working", "days"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2027-01-05 16:00 (Tuesday at closing)")


def test_calendar_due_refuses_a_local_time_skipped_by_daylight_saving(
    invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["calendar", "due", "2026-03-29T02:30", "1", "working", "day"])

    assert result.exit_code == 5
    assert "does not exist" in result.stderr
    assert result.stderr.count("\n") == 1


def test_calendar_closed_lists_grundlovsdag_christmas_eve_and_new_years_eve(
    invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["calendar", "closed", "--year", "2026", "--json"])

    assert result.exit_code == 0, result.output
    closed = {day["date"]: day["name"] for day in json.loads(result.stdout)}
    assert closed["2026-06-05"] == "Grundlovsdag"
    assert {"2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31"} <= closed.keys()
    assert "2026-05-01" not in closed  # a half day, not a closed one


# -- 8. two sweeping processes on one SQLite file --------------------------------------------------------


def test_two_remind_processes_racing_on_one_sqlite_file_send_every_reminder_exactly_once(
    ctx: Context, case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    for _ in range(70):  # 210 due rows: more than one batch of 200, so both processes can get work
        case_in("suspected")
    from fakes import RecordingNotifier
    from indsats.engine.reminders.sweep import sweep

    notices = sweep(ctx, RecordingNotifier(), worker="setup")  # the notices on entry go out at once
    assert notices.sent == 70
    outboxes = [tmp_path / "outbox-a.jsonl", tmp_path / "outbox-b.jsonl"]

    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "indsats", "remind", "--at", WEEK_LATER, "--json"],
            env=process_env(tmp_path, db_url, INDSATS_OUTBOX=str(outbox)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for outbox in outboxes
    ]
    outputs = [p.communicate(timeout=60) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    sent_by_each = [outbox_ids(path) for path in outboxes]
    every = sent_by_each[0] + sent_by_each[1]
    assert len(every) == len(set(every)), "a reminder was sent twice"
    sent_rows = {rid for rid, (status, _) in statuses(ctx).items() if status == "sent"}
    sent_rows -= {d.reminder_id for d in notices.deliveries}
    assert set(every) == sent_rows
    assert len(sent_rows) == 210
    assert sum(json.loads(out)["sent"] for out, _ in outputs) == 210


# -- 10. the worker ------------------------------------------------------------------------------------


def test_the_worker_delivers_due_reminders_and_stops_cleanly_on_sigterm(
    ctx: Context, case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    # The case was opened on the fixture's Monday morning, long before the system clock's now.
    case_in("suspected")
    outbox = tmp_path / "outbox.jsonl"
    worker = subprocess.Popen(
        [sys.executable, "-m", "indsats", "worker", "--every", "0.2"],
        env=process_env(tmp_path, db_url, INDSATS_OUTBOX=str(outbox)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        give_up = time.monotonic() + 10
        while len(outbox_ids(outbox)) < 3 and time.monotonic() < give_up and worker.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # a few more sweeps, which must find nothing more to send
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            out, err = worker.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
            pytest.fail(f"the worker did not stop within 5 s of SIGTERM: {err}")

    assert worker.returncode == 0, err
    assert "worker stopped" in err
    assert len(outbox_ids(outbox)) == 3 == len(set(outbox_ids(outbox)))
    assert sorted(tuple(json.loads(line)["to"]) for line in outbox.read_text().splitlines()) == [
        ("emil@example.org",), ("lea@example.org",), ("sol@example.org",)
    ]


# -- 11. the new user's story -----------------------------------------------------------------------------


def test_a_week_after_an_employee_opens_a_case_the_employee_and_two_leaders_are_each_told_once(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    def ok(args: list[str], user: str = "admin", **env: str) -> Result:
        result = invoke(args, user=user, **env)
        assert result.exit_code == 0, (args, result.output)
        return result

    ok(["init"])
    chain = [("sol", "socialchef", None), ("lea", "leder", "sol"), ("emil", "medarbejder", "lea"),
             ("fie", "fagspecialist", None)]
    for login, role, reports_to in chain:
        extra = ["--reports-to", reports_to] if reports_to else []
        ok(["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org", *extra])
    opened = ok(["open", "radikalisering", "--subject", "REF-2026-77", "--note", "Set i kantinen"], user="emil")
    case_id = opened.stdout.strip().splitlines()[-1]
    # The case opened at the system clock's now; the sweep runs as of a week after that.
    week_later = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat(timespec="minutes")
    port = free_port()
    smtp = {"INDSATS_SMTP_URL": f"smtp://127.0.0.1:{port}", "INDSATS_MAIL_FROM": "indsats@example.org"}

    with smtp_sink(port) as server:
        first = ok(["remind", "--at", week_later], **smtp)
        second = ok(["remind", "--at", week_later], **smtp)

    assert sorted(r.rcpt_tos for r in server.received) == [
        ["emil@example.org"], ["lea@example.org"], ["sol@example.org"]
    ]
    assert all(case_id in r.subject for r in server.received)
    assert "3 sent" in first.stdout and "0 sent" in second.stdout
    view = json.loads(ok(["show", case_id, "--json"], user="emil").stdout)
    assert (view["escalation_level"], view["reminders_sent"]) == (2, 3)
