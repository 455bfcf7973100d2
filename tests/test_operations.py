"""Operating indsats: the worker's JSON log lines, the worker's and the server's metrics ports, ``--list-jobs``,
``health`` and the node_exporter textfile, through real processes and the CLI on one SQLite file."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import TEST_KEY, process_env
from smtp_sink import free_port, smtp_sink
from indsats.adapters.scheduler import Job
from indsats.jobs import build_jobs, log_failure
from indsats.logs import configure_logging

if TYPE_CHECKING:
    from click.testing import Result

    from indsats.storage.database import Database

PERSONAL = ("BORGER-REF-1", "Emil", "Lea", "Sol", "emil@example.org", "lea@example.org", "sol@example.org")


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """Only SQLite: the command line and the worker process open the same file as the test."""
    return sqlite_database


def reset_logging() -> None:
    """Undo configure_logging(), so that other tests see the loggers as pytest left them."""
    for name in ("indsats", "apscheduler", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode("utf-8"))


@pytest.mark.slow
def test_the_worker_logs_one_json_line_per_sweep_and_delivery_without_personal_data_and_serves_metrics(
    case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_id = case_in("suspected")  # opened on the fixture's Monday morning: long overdue by the system clock
    outbox = tmp_path / "outbox.jsonl"
    config = tmp_path / "config.toml"
    config.write_text('log_format = "json"\n[schedule]\nsweep_every = 0.3\nverify = "02:00"\n', encoding="utf-8")
    port = free_port()
    env = process_env(tmp_path, db_url, INDSATS_OUTBOX=str(outbox), INDSATS_CONFIG=str(config))
    worker = subprocess.Popen([sys.executable, "-m", "indsats", "worker", "--metrics-port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    scraped = ""
    try:
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up and worker.poll() is None:
            lines = outbox.read_text().splitlines() if outbox.exists() else []
            if len(lines) >= 3:
                break
            time.sleep(0.05)
        time.sleep(1.0)  # a few more sweeps, which find nothing more
        scraped = metrics_text(port)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=10)

    assert worker.returncode == 0, err
    records = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert all(r["time"].endswith("Z") for r in records)
    deliveries = [r for r in records if r["message"] == "delivery"]
    assert len(deliveries) == 3
    for d in deliveries:
        assert {"reminder_id", "case_id", "state", "outcome"} <= set(d)
        assert (d["case_id"], d["state"], d["outcome"], d["level"]) == (case_id, "suspected", "sent", "INFO")
    sweeps = [r for r in records if r["message"] == "sweep"]
    assert len(sweeps) >= 3 and sweeps[0]["sent"] == 3 and all(s["sent"] == 0 for s in sweeps[1:])
    assert all("seconds" in s and s["outcome"] == "ok" for s in sweeps)
    assert [r["message"] for r in records][0] == "worker started" and records[-1]["message"] == "worker stopped"
    assert [w for w in PERSONAL if w in err] == []
    assert "indsats_reminders_sent_total 3.0" in scraped
    assert 'indsats_open_cases{plan="radikalisering",state="suspected"} 1.0' in scraped
    assert "indsats_sweep_duration_seconds_count" in scraped and "indsats_due_reminders 0.0" in scraped
    assert [w for w in PERSONAL if w in scraped] == [] and case_id not in scraped


def test_an_unexpected_error_in_a_job_is_logged_with_its_traceback() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        log_failure(Job(id="verify", description="", run=print, at="02:00"), exc)
    finally:
        reset_logging()
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["level"], line["job"], line["outcome"]) == ("ERROR", "verify", "bug")
    assert "Traceback" in line["traceback"] and "RuntimeError: a bug" in line["traceback"]


def test_list_jobs_prints_the_jobs_with_their_next_run(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke(["init"]).exit_code == 0
    config = tmp_path / "config.toml"
    config.write_text('[schedule]\nverify = "01:15"\naccess_sample = "fri 07:30"\n', encoding="utf-8")

    result = invoke(["worker", "--list-jobs", "--every", "30"], INDSATS_CONFIG=str(config))

    assert result.exit_code == 0, result.output
    ids = [line.split()[0] for line in result.output.splitlines()]
    assert ids == ["sweep", "seal", "verify", "retention", "access-sample", "statistics"]
    lines = dict(zip(ids, result.output.splitlines(), strict=True))
    assert "every 30 s" in lines["sweep"]
    assert "at 01:15 Europe/Copenhagen" in lines["verify"] and " 01:15 " in lines["verify"].split("next")[1]
    assert "at fri 07:30" in lines["access-sample"]
    assert "at 04:00 Europe/Copenhagen" in lines["statistics"]


def run_job(job_id: str, cli_db_url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Run one of the worker's jobs, built as the worker builds them, on the CLI's database: its JSON log lines."""
    from indsats.bootstrap import build_context, build_notifier
    from indsats.config import load_settings

    env = {"INDSATS_CONFIG": "", "INDSATS_DATABASE_URL": cli_db_url, "INDSATS_DATA_DIR": str(tmp_path / "data"),
           "INDSATS_USER": "admin"}
    settings = load_settings(env)
    ctx = build_context(settings)
    jobs = {job.id: job for job in build_jobs(ctx, settings, build_notifier(settings))}
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=stream)
    try:
        jobs[job_id].run()
    finally:
        reset_logging()
        ctx.db.dispose()
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def test_the_seal_job_signs_a_seal_as_the_system_and_logs_one_line(
    invoke: Callable[..., Result], cli_db_url: str, tmp_path: Path
) -> None:
    assert invoke(["init"]).exit_code == 0

    (line,) = run_job("seal", cli_db_url, tmp_path)

    assert (line["job"], line["outcome"], line["seal"]) == ("seal", "sealed", 1)
    shown = invoke(["seal", "--show", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["seq"] == 1


def test_the_statistics_job_analyses_the_database_and_logs_one_line(
    invoke: Callable[..., Result], cli_db_url: str, tmp_path: Path
) -> None:
    import sqlite3

    assert invoke(["init"]).exit_code == 0

    (line,) = run_job("statistics", cli_db_url, tmp_path)

    assert (line["level"], line["job"], line["outcome"]) == ("INFO", "statistics", "ok")
    with sqlite3.connect(cli_db_url.removeprefix("sqlite:///")) as con:  # ANALYZE made the planner's table
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() == (1,)


def test_a_typo_in_the_schedule_table_exits_2_naming_it(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke(["init"]).exit_code == 0
    config = tmp_path / "config.toml"
    config.write_text('[schedule]\nverfy = "01:15"\n', encoding="utf-8")

    result = invoke(["worker", "--list-jobs"], INDSATS_CONFIG=str(config))

    assert result.exit_code == 2 and "unknown key 'verfy' in [schedule]" in result.output


def test_health_exits_7_with_smtp_down_and_0_with_it_up(invoke: Callable[..., Result]) -> None:
    assert invoke(["init"]).exit_code == 0
    port = free_port()

    down = invoke(["health", "--json"], INDSATS_SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=2")
    assert down.exit_code == 7, down.output
    report = json.loads(down.stdout)
    assert report["healthy"] is False and report["checks"]["smtp"]["ok"] is False
    assert "cannot connect" in report["checks"]["smtp"]["detail"]
    assert all(report["checks"][name]["ok"] for name in ("database", "key", "oldest_due"))

    with smtp_sink(port):
        up = invoke(["health", "--json"], INDSATS_SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=2")
        table = invoke(["health"], INDSATS_SMTP_URL=f"smtp://127.0.0.1:{port}?timeout=2")
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)["healthy"] is True
    assert table.exit_code == 0 and table.stdout.strip().endswith("healthy")


def test_health_is_unhealthy_on_an_uninitialised_database_and_a_wrong_key(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    missing = invoke(["health", "--json"])
    assert missing.exit_code == 7 and json.loads(missing.stdout)["checks"]["database"]["ok"] is False

    assert invoke(["init"]).exit_code == 0
    assert invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"]).exit_code == 0
    assert invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"]).exit_code == 0
    assert invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"]).exit_code == 0
    assert invoke(["open", "radikalisering", "--subject", "BORGER-REF-1", "--source", "employee"],
                  user="emil").exit_code == 0
    assert invoke(["keys", "new", str(tmp_path / "other.key")]).exit_code == 0

    wrong = invoke(["health", "--json"], INDSATS_KEY_FILE=str(tmp_path / "other.key"))

    assert wrong.exit_code == 7
    assert "does not open" in json.loads(wrong.stdout)["checks"]["key"]["detail"]


def test_health_reports_the_last_sweep_and_an_old_due_reminder(
    invoke: Callable[..., Result], case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_in("suspected")  # due long ago by the system clock: no sweep has run
    key = TEST_KEY.decode()
    stale = json.loads(invoke(["health", "--json"], db_url=db_url, INDSATS_KEY=key).stdout)
    assert [name for name, check in stale["checks"].items() if not check["ok"]] == ["oldest_due"]
    assert stale["oldest_due"] is not None

    assert invoke(["remind"], db_url=db_url, INDSATS_OUTBOX=str(tmp_path / "o.jsonl")).exit_code == 0
    fresh = json.loads(invoke(["health", "--json"], db_url=db_url, INDSATS_KEY=key).stdout)

    assert fresh["healthy"] is True, [c for c in fresh["checks"].values() if not c["ok"]]
    assert fresh["last_sweep"] is not None and "3 sent" in fresh["checks"]["last_sweep"]["detail"]


def test_remind_writes_a_node_exporter_textfile(
    invoke: Callable[..., Result], case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    case_id = case_in("suspected")
    textfile = tmp_path / "indsats.prom"

    result = invoke(["remind", "--at", "2026-03-09T09:00", "--metrics-file", str(textfile)], db_url=db_url,
                    INDSATS_OUTBOX=str(tmp_path / "o.jsonl"))

    assert result.exit_code == 0, result.output
    text = textfile.read_text(encoding="utf-8")
    assert "indsats_reminders_sent_total 3.0" in text
    assert 'indsats_reminders_failed_total{outcome="failed"} 0.0' in text
    assert 'indsats_open_cases{plan="radikalisering",state="suspected"} 1.0' in text
    assert "indsats_oldest_due_reminder_age_seconds" in text and "indsats_database_up 1.0" in text
    assert case_id not in text


def test_the_log_level_and_format_come_from_the_flag_then_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from indsats.commands.base import Obj, start_logging
    from indsats.logs import JsonFormatter, TextFormatter

    monkeypatch.setenv("INDSATS_CONFIG", "")
    monkeypatch.setenv("INDSATS_DATA_DIR", str(tmp_path))
    logger = logging.getLogger("indsats")
    try:
        monkeypatch.delenv("INDSATS_LOG_LEVEL", raising=False)
        monkeypatch.delenv("INDSATS_LOG_FORMAT", raising=False)
        start_logging(Obj(None), None, None)
        assert logger.level == logging.INFO and isinstance(logger.handlers[0].formatter, TextFormatter)

        monkeypatch.setenv("INDSATS_LOG_LEVEL", "warning")
        monkeypatch.setenv("INDSATS_LOG_FORMAT", "json")
        start_logging(Obj(None), None, None)
        assert logger.level == logging.WARNING and isinstance(logger.handlers[0].formatter, JsonFormatter)

        start_logging(Obj(None), "debug", "text")
        assert logger.level == logging.DEBUG and isinstance(logger.handlers[0].formatter, TextFormatter)
    finally:
        reset_logging()


def _scrape_when(port: int, server: subprocess.Popen[str], ready: Callable[[str], bool]) -> str:
    """The server's metrics once ``ready`` says they show what the test waits for (a sweep has run)."""
    give_up = time.monotonic() + 30
    text = ""
    while time.monotonic() < give_up and server.poll() is None:
        try:
            text = metrics_text(port)
        except OSError:
            text = ""  # not listening yet
        if ready(text):
            return text
        time.sleep(0.1)
    return text


@pytest.mark.slow
def test_the_server_serves_metrics_on_its_opt_in_port_without_personal_data(
    case_in: Callable[..., str], db_url: str, tmp_path: Path
) -> None:
    """``indsats server --metrics-port``, a real process with its built-in worker: the reminders it sent, the
    backlog, the sweep's duration and the open cases by state, and nothing about a citizen or a person."""
    case_id = case_in("suspected")  # its three reminders are long overdue by the server's (real) clock
    Path(db_url.removeprefix("sqlite:///")).chmod(0o600)  # the server refuses a database others may read
    port = free_port()
    env = process_env(tmp_path, db_url, INDSATS_OUTBOX=str(tmp_path / "outbox.jsonl"), INDSATS_KEY=TEST_KEY.decode())
    env.pop("INDSATS_USER")
    server = subprocess.Popen(
        [sys.executable, "-m", "indsats", "server", "--socket", str(tmp_path / "run" / "indsats.sock"),
         "--every", "0.3", "--metrics-port", str(port), "--log-format", "json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        scraped = _scrape_when(port, server, lambda text: "indsats_reminders_sent_total 3.0" in text)
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)

    assert server.returncode == 0, err
    assert "indsats_reminders_sent_total 3.0" in scraped, err
    assert 'indsats_reminders_failed_total{outcome="failed"} 0.0' in scraped
    assert "indsats_due_reminders 0.0" in scraped and "indsats_oldest_due_reminder_age_seconds 0.0" in scraped
    assert "indsats_sweep_duration_seconds_count" in scraped and "indsats_database_up 1.0" in scraped
    assert 'indsats_open_cases{plan="radikalisering",state="suspected"} 1.0' in scraped
    assert [w for w in PERSONAL if w in scraped] == [] and case_id not in scraped
    started = next(json.loads(line) for line in err.splitlines() if '"server started"' in line)
    assert started["metrics_port"] == port


def test_a_taken_metrics_port_stops_the_server_at_start_with_exit_7(db_url: str, tmp_path: Path) -> None:
    import socket

    Path(db_url.removeprefix("sqlite:///")).chmod(0o600)
    env = process_env(tmp_path, db_url, INDSATS_KEY=TEST_KEY.decode())
    env.pop("INDSATS_USER")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "indsats", "server", "--socket", str(tmp_path / "run" / "indsats.sock"),
             "--no-worker", "--log-level", "ERROR"],
            env={**env, "INDSATS_METRICS_PORT": str(port)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert done.stderr.startswith(f"Error: cannot serve metrics on 127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "run" / "indsats.sock").exists()
