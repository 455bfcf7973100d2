"""``indsats server`` as a real process, and the CLI through it: the same output and exit codes as direct mode,
problem details for errors, files refused when others could read them, a client that imports nothing heavy.

These run as one OS user on both sides; ``test_server_users.py`` runs the server and the people as separate
OS users.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import wait_for_socket
from indsats.config import os_login

ME = os_login()
HEAVY = ("sqlalchemy", "pydantic", "holidays", "cryptography", "transitions", "apscheduler", "yaml")
pytestmark = pytest.mark.slow


class Installation:
    """A database in ``root`` initialised by ``ME`` (admin), the organisation registered, and a server on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "run" / "indsats.sock"
        self.base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("INDSATS_") or k == "INDSATS_LANGUAGE"},
            "INDSATS_DATA_DIR": str(root / "data"),
            "INDSATS_CONFIG": "",
            "INDSATS_OUTBOX": str(root / "outbox.jsonl"),
            "INDSATS_LANGUAGE": "en",  # the messages these tests read (server and client alike)
        }
        self.server: subprocess.Popen[bytes] | None = None

    def direct(self, *args: str, user: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        extra = {"INDSATS_USER": user} if user else {}
        return subprocess.run([sys.executable, "-m", "indsats", *args], env={**self.base_env, **extra, **env},
                              capture_output=True, text=True, timeout=120)

    def client(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "indsats", *args],
                              env={**self.base_env, "INDSATS_SERVER": f"unix:{self.socket}", **env},
                              capture_output=True, text=True, timeout=120)

    def start(self, *extra: str) -> None:
        self.server = subprocess.Popen([sys.executable, "-m", "indsats", "server", "--socket", str(self.socket),
                                        *extra], env=self.base_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for_socket(self.socket, self.server)

    def stop(self) -> str:
        """Stop the server with SIGTERM; its log."""
        assert self.server is not None
        self.server.send_signal(signal.SIGTERM)
        _, err = self.server.communicate(timeout=30)
        self.server = None
        return err.decode()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    from tests.conftest import ORGANISATION

    inst = Installation(tmp_path)
    plans = tmp_path / "plans"  # one plan file that does not load: 'plans list' warns of it in both modes
    plans.mkdir()
    (plans / "broken.yaml").write_text("id: broken\ntitle: Broken\nstates: [\n")
    inst.base_env["INDSATS_PLANS_DIR"] = str(plans)
    assert inst.direct("init").returncode == 0
    for login, (role, reports_to) in ORGANISATION.items():
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        done = inst.direct(*args, *(["--reports-to", reports_to] if reports_to else []))
        assert done.returncode == 0, done.stderr
    inst.start("--no-worker")
    yield inst
    if inst.server is not None:
        inst.server.kill()
        inst.server.wait()


def test_the_server_refuses_to_start_while_others_can_read_the_database(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    assert inst.direct("init").returncode == 0
    db = tmp_path / "data" / "indsats.db"
    db.chmod(0o644)
    done = subprocess.run([sys.executable, "-m", "indsats", "server", "--socket", str(inst.socket)],
                          env=inst.base_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert done.stderr == (f"Error: the database file {db} can be read by others (mode 0644): chmod 600 it; only "
                           "the server may read it\n")
    db.chmod(0o600)
    key = tmp_path / "data" / "indsats.key"
    key.chmod(0o640)
    done = subprocess.run([sys.executable, "-m", "indsats", "server", "--socket", str(inst.socket)],
                          env=inst.base_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert done.stderr.startswith(f"Error: the key file {key} can be read by others (mode 0640)")
    assert not inst.socket.exists()


def test_a_config_holding_a_password_must_be_private_or_the_server_will_not_start(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    assert inst.direct("init").returncode == 0
    config = tmp_path / "server.toml"
    config.write_text('smtp_url = "smtp://indsats:hemmelig@mail.example.org:587"\n')
    config.chmod(0o644)
    env = {**inst.base_env, "INDSATS_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "indsats", "server", "--socket", str(inst.socket)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 7  # as for a database or key others may read (issue 11)
    assert done.stderr.startswith(f"Error: {config} holds a secret (the password in smtp_url) and is readable")
    assert done.stderr.count("\n") == 1
    assert "hemmelig" not in done.stderr
    assert not inst.socket.exists()
    other = subprocess.run([sys.executable, "-m", "indsats", "db", "status"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert other.returncode == 2 and other.stderr == done.stderr  # any other command: a bad config (issue 17)
    config.chmod(0o600)
    inst.base_env = env
    inst.start("--no-worker")
    assert "server started" in inst.stop()  # private again: it starts


def test_with_listen_the_web_view_s_secret_files_must_be_private(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    assert inst.direct("init").returncode == 0
    secret, session_key = tmp_path / "client-secret", tmp_path / "session.key"
    secret.write_text("client-secret-of-the-test\n")
    session_key.write_text("k" * 40)
    secret.chmod(0o600)
    session_key.chmod(0o640)
    env = {**inst.base_env, "INDSATS_OIDC_ISSUER": "http://127.0.0.1:9", "INDSATS_OIDC_CLIENT_ID": "indsats",
           "INDSATS_OIDC_CLIENT_SECRET_FILE": str(secret), "INDSATS_SESSION_KEY_FILE": str(session_key)}
    command = [sys.executable, "-m", "indsats", "server", "--socket", str(inst.socket), "--no-worker"]
    done = subprocess.run([*command, "--listen", "127.0.0.1:0"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert done.stderr == (f"Error: the session key file {session_key} can be read by others (mode 0640): chmod 600 "
                           "it; only the server may read it\n")
    session_key.chmod(0o600)
    secret.chmod(0o644)
    done = subprocess.run([*command, "--listen", "127.0.0.1:0"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7 and done.stderr.startswith(f"Error: the OIDC client secret file {secret} can be read")
    assert not inst.socket.exists()


def test_the_socket_is_world_connectable_in_a_0755_directory(installation: Installation) -> None:
    assert installation.socket.stat().st_mode & 0o777 == 0o666
    assert installation.socket.parent.stat().st_mode & 0o777 == 0o755


def test_commands_print_the_same_through_the_server_as_directly(installation: Installation) -> None:
    opened = installation.client("open", "radikalisering", "--subject", "REF-7", "--note", "seen",
                                 INDSATS_USER="")
    assert opened.returncode == 4  # ME is admin, who opens no cases; the server says so as direct mode does
    assert opened.stderr == installation.direct("open", "radikalisering", "--subject", "REF-7").stderr
    made = installation.direct("open", "radikalisering", "--subject", "REF-7", user="emil")
    case_id = made.stdout.splitlines()[-1]
    same = [
        ["cases", "--json"], ["cases"], ["show", case_id], ["show", case_id, "--json"],
        ["plans", "list", "--json"], ["plans", "show", "radikalisering"], ["plans", "show", "radikalisering", "--json"],
        ["plans", "graph", "radikalisering"], ["plans", "export", "radikalisering"],
        ["stuck", "--at", "2030-01-01T09:00", "--json"], ["stuck", "--csv"], ["report", "--until", "2026-01-31", "--json"], ["report"],
        ["calendar", "due", "2026-12-22T10:00", "6", "working", "days"], ["calendar", "closed", "--year", "2026"],
        ["verify", "--json"], ["access", "review", "--json"], ["remind", "--dry-run", "--at", "2030-01-01", "--json"],
        ["show", "RAD-1999-0001"], ["advance", case_id, "no_such_trigger"], ["stuck", "--at", "notatime"],
        ["report", "--since", "yesterday"],
        ["audit", "--user", "emil", "--json"], ["history", case_id], ["history", case_id, "--csv"],
    ]
    def seen(done: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
        return done.returncode, done.stdout, done.stderr

    for args in same:
        for _attempt in range(3):  # the real clock: time left (show) may pass a minute between the two runs
            direct = installation.direct(*args)
            served = installation.client(*args)
            if seen(served) == seen(direct):
                break
        assert seen(served) == seen(direct), args


def test_stuck_all_streams_through_the_server_and_prints_as_directly(installation: Installation) -> None:
    """``stuck --all`` through the server: the server sends each case as it reads it (JSON lines, then an end
    line), the client prints each as it arrives, and what it prints is direct mode's, byte for byte."""
    import sqlite3

    from indsats.client import request

    inst = installation
    made = inst.direct("open", "radikalisering", "--subject", "REF-7", user="emil")
    assert made.returncode == 0, made.stderr
    con = sqlite3.connect(inst.root / "data" / "indsats.db", isolation_level=None)
    con.row_factory = sqlite3.Row
    first = dict(con.execute("SELECT * FROM cases").fetchone())
    copies = [{**first, "id": f"RAD-2026-{n:04d}", "subject_ref": None, "subject_index": None} for n in range(2, 1002)]
    con.executemany(f"INSERT INTO cases ({', '.join(first)}) VALUES ({', '.join('?' * len(first))})",
                    [list(c.values()) for c in copies])  # 1,001 stuck cases: several batches of lines
    con.close()
    at = "2030-01-01T09:00"
    # A client that goes away after the first case (| head -1): the server still stops on SIGTERM (a worker
    # thread left waiting on the abandoned stream kept it from exiting).
    cut = subprocess.run([sys.executable, "-c", "import os; from indsats.client import call; "
                          f"print(next(iter(call('unix:{inst.socket}', 'stuck', {{'at': '{at}'}}))).case_id); os._exit(0)"],
                         env=inst.base_env, capture_output=True, text=True, timeout=60)
    assert cut.stdout == "RAD-2026-0001\n", cut.stderr
    assert "server stopped" in inst.stop()  # within the stop's timeout
    inst.start("--no-worker")
    for args in (["--csv"], ["--json"], [], ["--plan", "radikalisering", "--csv"]):
        direct, served = inst.direct("stuck", "--all", "--at", at, *args), inst.client("stuck", "--all", "--at", at, *args)
        assert (served.returncode, served.stdout, served.stderr) == (direct.returncode, direct.stdout, direct.stderr), args
        assert served.returncode == 0 and served.stdout.count("RAD-2026-") == 1001, args
    for args in (["--at", "notatime"], ["--at", "notatime", "--json"], ["--overdue-by", "soon", "--csv"]):
        direct, served = inst.direct("stuck", "--all", *args), inst.client("stuck", "--all", *args)
        assert (served.returncode, served.stdout, served.stderr) == (direct.returncode, direct.stdout, direct.stderr), args
        assert served.returncode == 5 and served.stderr.count("\n") == 1, args
    # On the wire: a JSON line per case as it is read, then the end line (a cut-off list has none).
    status, body = request(str(inst.socket), "/v1/stuck", json.dumps({"args": {"at": at}}).encode())
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and len(lines) == 1002 and lines[-1] == {"__end__": True}
    assert [line["fields"]["case_id"] for line in lines[:2]] == ["RAD-2026-0001", "RAD-2026-0002"]


def _streaming_server(path: Path, lines: list[str]) -> threading.Thread:
    """A stand-in for ``indsats server`` on ``path`` that answers one request with these JSON lines (chunked,
    as uvicorn sends a stream) and closes: the client's side of a stream that fails or, when the last line is
    ``cut``, stops without an end (the server died part way)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
            for line in lines:
                if line == "cut":
                    return
                data = (line + "\n").encode()
                conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            conn.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("last", "code", "message"), [
    ('{"__problem__": {"status": 503, "exit_code": 7, "detail": "the database went away"}}', 7,
     "the database went away"),
    ('{"__problem__": {"status": 403, "exit_code": 4, "detail": "not yours"}}', 4, "not yours"),
    ("cut", 7, "stopped part way through the list"),
])
def test_a_stream_that_fails_part_way_prints_what_came_then_one_error_line(
    tmp_path: Path, last: str, code: int, message: str
) -> None:
    from datetime import datetime, timezone

    from indsats import wire
    from indsats.engine.cases.views import Person
    from indsats.engine.supervision.stuck import StuckCase, StuckReason

    at = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    row = StuckCase(case_id="RAD-2026-0001", plan_id="radikalisering", unit=None, state="suspected",
                    state_label="Mistanke", must_act=[Person(login="emil", name="Emil", role="medarbejder")],
                    deadline=at, working_time=True, overdue_by=None, overdue_text="2 h", escalation_level=0,
                    reminders_sent=0, last_activity_at=at, failed_reminders=0, reason=StuckReason.overdue)
    path = tmp_path / "s.sock"
    thread = _streaming_server(path, [json.dumps(wire.encode(row)), last])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("INDSATS_")}, "INDSATS_LANGUAGE": "en",
           "INDSATS_SERVER": f"unix:{path}", "INDSATS_CONFIG": ""}
    done = subprocess.run([sys.executable, "-m", "indsats", "stuck", "--all", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    thread.join(timeout=10)
    assert done.returncode == code
    assert done.stdout.startswith('[\n  {\n    "case_id": "RAD-2026-0001"'), done.stdout  # the case that came
    error = json.loads(done.stderr)  # one JSON object, as any error under --json
    assert error["exit_code"] == code and message in error["error"], done.stderr


def test_every_command_on_the_data_prints_the_same_through_the_server(installation: Installation) -> None:
    """The commands that came after the seam, each both ways: reads on the same data, changes as pairs on
    twin targets (the output compared with the target's name swapped), errors with their exit codes."""
    inst = installation
    # The minute (or the second) may turn between the two runs.
    times = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d)?")
    # … and an age counted from the real clock with them (health's oldest due reminder, in working hours).
    ages = re.compile(r"\(\d+ (s|min|h)( \d+ (s|min))?\)")

    def outcome(done: subprocess.CompletedProcess[str], swap: tuple[str, str] | None = None) -> tuple[int, str, str]:
        out, err = (ages.sub("(A)", times.sub("T", text)) for text in (done.stdout, done.stderr))
        if swap is not None:
            out, err = out.replace(*swap), err.replace(*swap)
        return done.returncode, out, err

    def same(*args: str) -> subprocess.CompletedProcess[str]:
        direct, served = inst.direct(*args), inst.client(*args)
        assert outcome(served) == outcome(direct), args
        return served

    def twins(direct_args: list[str], served_args: list[str], swap: tuple[str, str]) -> None:
        direct, served = inst.direct(*direct_args), inst.client(*served_args)
        assert direct.returncode == 0, direct.stderr
        assert outcome(served, swap) == outcome(direct), (direct_args, served_args)

    # Cases: two twins with the same history, one changed directly and one through the server.
    first, second = (inst.direct("open", "radikalisering", "--subject", f"REF-{n}", user="emil").stdout.split()[-1]
                     for n in (21, 22))
    twins(["assign", first, "lea", "--note", "a leader"], ["assign", second, "lea", "--note", "a leader"],
          (second, first))
    twins(["assign", first, "leo", "--json"], ["assign", second, "leo", "--json"], (second, first))
    # (an admin pauses no case: the people do, in test_server_users.py)
    for args in (["pause", first, "--reason", "waits"], ["resume", first], ["pause", "RAD-1999-0001", "--reason", "x"],
                 ["assign", first, "leo"],
                 ["assign", first, "nobody"], ["tasks"], ["tasks", "--json"],
                 ["open", "radikalisering", "--subject", "REF-23", "--source", "rumour"],
                 ["open", "radikalisering", "--subject", "REF-23", "--source", "employee"],
                 ["access", "sample", "--json"], ["access", "sample", "--days", "1"]):
        same(*args)
    # People: a twin user each way, then the same changes to each.
    twins(["users", "add", "ann", "--name", "Ann", "--role", "leder", "--reports-to", "sol", "--email", "a@example.org"],
          ["users", "add", "bob", "--name", "Ann", "--role", "leder", "--reports-to", "sol", "--email", "a@example.org"],
          ("bob", "ann"))
    for change in (["grant", "{}", "fagspecialist", "--plan", "radikalisering"], ["grant", "{}", "medarbejder", "--json"],
                   ["revoke", "{}", "medarbejder", "--json"], ["edit", "{}", "--name", "Ann B", "--json"],
                   ["revoke", "{}", "fagspecialist"], ["edit", "{}", "--unit", "Nord", "--no-reports-to"],
                   ["deputy", "{}", "--to", "leo", "--from", "2026-12-01", "--until", "2026-12-31"],
                   ["deputy", "{}", "--clear"], ["deactivate", "{}"], ["reactivate", "{}"],
                   ["deactivate", "{}", "--handover-to", "leo"], ["reactivate", "{}"]):
        twins(["users", *[a.format("ann") for a in change]], ["users", *[a.format("bob") for a in change]],
              ("bob", "ann"))
    for args in (["users", "list"], ["users", "list", "--json"],
                 ["users", "add", "ann", "--name", "Ann"], ["users", "add", "bad login", "--name", "X"],
                 ["users", "grant", "nobody", "leder"], ["users", "grant", "ann", "no_such_role"],
                 ["users", "revoke", "ann", "leder", "--plan", "no_such_plan"], ["users", "edit", "ann"],
                 ["users", "edit", "ann", "--reports-to", "sol", "--no-reports-to"],
                 ["users", "edit", "ann", "--email", "not-an-address"],
                 ["users", "deputy", "ann"], ["users", "deputy", "ann", "--clear", "--to", "leo"],
                 ["users", "deputy", "ann", "--to", "leo", "--from", "tomorrow"],
                 ["users", "deactivate", "emil"], ["users", "reactivate", "sol"]):
        same(*args)
    # Plans, seals, health and the schema.
    for args in (["plans", "list"], ["plans", "check", "radikalisering"], ["plans", "check", "radikalisering", "--org"],
                 ["plans", "check", "no_such_plan"], ["plans", "check", "broken"], ["plans", "check", "radikalisering",
                 "--org", "--json"], ["plans", "list", "--json"],
                 ["seal", "--show"], ["seal", "--show", "--json"], ["seal", "--show", "--to", "x"],
                 ["health"], ["health", "--json"], ["db", "status"], ["db", "status", "--json"]):
        same(*args)
    assert inst.direct("seal").returncode == 0
    copy = inst.root / "copy" / "seals.jsonl"
    sealed = inst.client("seal", "--to", str(copy))
    assert sealed.returncode == 0, sealed.stderr
    seal_file = inst.root / "data" / "seals.jsonl"
    assert sealed.stdout.startswith("Sealed 2 at ")
    assert sealed.stdout.endswith(f"Appended to {seal_file} and {copy}.\n")
    assert [json.loads(line)["seq"] for line in copy.read_text().splitlines()] == [2]  # written by the caller
    assert copy.read_text() == seal_file.read_text().splitlines(keepends=True)[-1]
    for args in (["seal", "--show"], ["seal", "--show", "--json"], ["verify"]):
        same(*args)
    metrics = inst.root / "indsats.prom"
    swept = inst.client("remind", "--metrics-file", str(metrics))
    assert swept.returncode == 0, swept.stderr
    assert "indsats_reminders_sent_total" in metrics.read_text()


def test_history_and_audit_through_the_server_name_the_caller(installation: Installation) -> None:
    case_id = installation.direct("open", "radikalisering", "--subject", "REF-8", user="emil").stdout.split()[-1]
    assert installation.client("history", case_id).returncode == 0
    events = json.loads(installation.client("history", case_id, "--json").stdout)
    assert [(e["kind"], e["actor"]) for e in events] == [("opened", "emil"), ("viewed", ME)]
    assert "os_login" not in (events[1]["payload"] or {})  # through the server the actor is the OS login
    assert events[0]["payload"]["os_login"] == ME  # emil's event was written directly, by ME acting as emil
    log = installation.stop()
    assert f"uid={os.getuid()} login={ME} use_case=history status=200" in log
    assert "REF-8" not in log


def test_indsats_user_with_a_server_is_refused(installation: Installation) -> None:
    done = installation.client("cases", INDSATS_USER="emil")
    assert done.returncode == 4
    assert done.stderr == f"Error: with a server you act as your OS login, {ME}: unset INDSATS_USER\n"


def test_remind_through_the_server_may_look_ahead_only_in_a_dry_run(installation: Installation) -> None:
    installation.direct("open", "radikalisering", "--subject", "REF-9", user="emil")
    ahead = installation.client("remind", "--at", "2030-01-01")
    assert ahead.returncode == 5
    assert ahead.stderr.startswith("Error: through a server, remind --at may look ahead only with --dry-run")
    dry = installation.client("remind", "--at", "2030-01-01", "--dry-run")
    assert dry.returncode == 0
    assert "nothing sent" in dry.stdout
    assert not (installation.root / "outbox.jsonl").exists()
    now = installation.client("remind")
    assert now.returncode == 0, now.stderr
    # The real clock: in working hours the new case's notice is due and listed above the summary, outside them not.
    assert now.stdout.splitlines()[-1].startswith("Sweep via outbox")


def test_the_client_imports_nothing_heavy_and_reads_no_key(installation: Installation) -> None:
    (installation.root / "data" / "indsats.key").chmod(0o000)  # a client that tried to read it would fail
    probe = (
        "import sys\n"
        "from indsats.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n"
    )
    env = {**installation.base_env, "INDSATS_SERVER": f"unix:{installation.socket}"}
    for args in (["show", "RAD-1999-0001"], ["cases", "--json"], ["stuck"], ["plans", "show", "radikalisering"],
                 ["calendar", "closed", "--year", "2026"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.stderr.splitlines()[-1] in ("HEAVY [] EXIT 0", "HEAVY [] EXIT 3"), (args, done.stderr)


def test_an_unreachable_server_is_exit_7(tmp_path: Path) -> None:
    inst = Installation(tmp_path)
    done = inst.client("cases")
    assert done.returncode == 7
    assert done.stderr.startswith(f"Error: cannot reach the server at unix:{inst.socket}: ")
    assert done.stderr.count("\n") == 1


def test_direct_only_commands_are_refused_through_the_server(installation: Installation) -> None:
    for args in (["init"], ["backup", str(installation.root / "copy.db")], ["worker"], ["keys", "rotate"]):
        done = installation.client(*args)
        assert done.returncode == 4, args
        assert "runs directly on the database, as the server's service user" in done.stderr


def test_exports_through_the_server_are_written_by_the_caller(installation: Installation) -> None:
    installation.direct("open", "radikalisering", "--subject", "REF-10", user="emil")
    target = installation.root / "subject.json"
    done = installation.client("subject", "export", "REF-10", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Wrote 1 case(s) to {target}.\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert json.loads(target.read_text())["cases"][0]["subject_ref"] == "REF-10"
    again = installation.client("subject", "export", "REF-10", str(target))
    assert again.returncode == 5
    assert again.stderr == f"Error: {target} exists already; choose a new file name\n"


def test_the_server_stops_cleanly_on_sigterm(installation: Installation) -> None:
    log = installation.stop()
    assert not installation.socket.exists()
    assert "server stopped" in log


def test_advances_waiting_together_are_each_answered_and_logged_as_if_alone(installation: Installation) -> None:
    """On SQLite the write thread runs the advances waiting together in one transaction, a savepoint each, with one
    commit (group commit): each caller still gets its own answer — one that fails is undone alone, two for one case
    run one after the other (one moves it, the other is told it cannot) — and each its own access log line."""
    from indsats.client import Connection
    from indsats.errors import IndsatsError

    inst = installation
    for args in (["users", "grant", ME, "medarbejder"], ["users", "edit", ME, "--reports-to", "lea"]):
        assert inst.direct(*args).returncode == 0, args
    inst.stop()
    inst.start("--no-worker", "--log-level", "DEBUG")  # a line for each group commit
    address = f"unix:{inst.socket}"
    rounds, own = 4, 6
    with Connection(address) as connection:
        case_ids = [connection.call("open", {"plan_id": "radikalisering", "subject_ref": f"REF-{n}"}).case_id
                    for n in range(rounds * (own + 2))]
    expected: dict[str, str] = {}
    outcomes: list[tuple[str, str, str]] = []  # (kind of request, case, state or error)
    for r in range(rounds):
        mine = case_ids[r * (own + 2):(r + 1) * (own + 2)]
        jobs = [("own", c, "notify_leader") for c in mine[:own]]
        jobs += [("shared", mine[own], "notify_leader")] * 2 + [("bad", mine[own + 1], "no_such_trigger")]
        expected.update(dict.fromkeys(mine[:own + 1], "leader_notified"))
        expected[mine[own + 1]] = "suspected"
        start = threading.Barrier(len(jobs))

        def client(kind: str, case_id: str, trigger: str, start: threading.Barrier = start) -> None:
            with Connection(address) as own_connection:
                start.wait(timeout=60)
                try:
                    done = own_connection.call("advance", {"case_id": case_id, "trigger": trigger, "assignments": []})
                    outcomes.append((kind, case_id, done.state))
                except IndsatsError as exc:
                    outcomes.append((kind, case_id, type(exc).__name__))

        threads = [threading.Thread(target=client, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sorted(o for k, _c, o in outcomes if k == "own") == ["leader_notified"] * own * rounds
    assert {o for k, _c, o in outcomes if k == "bad"} == {"Invalid"}
    for case_id in {c for k, c, _o in outcomes if k == "shared"}:  # one moved it; the other was told it had moved
        assert sorted(o for k, c, o in outcomes if c == case_id) in (["Conflict", "leader_notified"],
                                                                     ["Invalid", "leader_notified"])
    listed = json.loads(inst.client("cases", "--json").stdout)
    assert {c["id"]: c["state"] for c in listed} == expected
    log = inst.stop()
    answered = re.findall(r"use_case=advance status=(\d+)", log)
    status = {"leader_notified": "200", "Invalid": "400", "Conflict": "409"}
    assert sorted(answered) == sorted(status[o] for _k, _c, o in outcomes), log[-2000:]
    # Nine callers at once on each round: some waited together and were committed together.
    assert max(int(n) for n in re.findall(r"group commit requests=(\d+)", log) or ["0"]) >= 2, log[-2000:]


def test_a_kept_alive_connection_serves_many_requests_and_concurrent_writers_all_succeed(
        installation: Installation) -> None:
    """``indsats.client.Connection``: one connection for many requests (HTTP keep-alive), errors raised as
    ``call`` raises them without losing the connection, and several such clients writing at once (on SQLite
    the server runs its writers one at a time, on one thread) all done; a connection the server closed is
    replaced before the next request."""
    from indsats.client import Connection
    from indsats.errors import Invalid, NotFound

    inst = installation
    for args in (["users", "grant", ME, "medarbejder"], ["users", "edit", ME, "--reports-to", "lea"]):
        assert inst.direct(*args).returncode == 0, args
    case_ids = [inst.direct("open", "radikalisering", "--subject", f"REF-{n}").stdout.split()[-1] for n in range(24)]
    address = f"unix:{inst.socket}"
    with Connection(address) as connection:
        with pytest.raises(NotFound):
            connection.call("show", {"case_id": "RAD-1999-0001"})
        with pytest.raises(Invalid):
            connection.call("advance", {"case_id": case_ids[0], "trigger": "no_such_trigger", "assignments": []})
        first = connection.call("advance", {"case_id": case_ids[0], "trigger": "notify_leader", "assignments": []})
        assert (first.case_id, first.state) == (case_ids[0], "leader_notified")
        used = connection.sock
        inst.stop()
        inst.start("--no-worker")
        again = connection.call("show", {"case_id": case_ids[0]})  # the old connection was closed: a new one
        assert again.state == "leader_notified" and connection.sock is not used

    failures: list[BaseException] = []

    def client(share: list[str]) -> None:
        try:
            with Connection(address) as own:
                for case_id in share:
                    done = own.call("advance", {"case_id": case_id, "trigger": "notify_leader", "assignments": []})
                    assert done.state == "leader_notified"
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(case_ids[1 + i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    listed = json.loads(inst.client("cases", "--json").stdout)
    assert {c["id"]: c["state"] for c in listed} == dict.fromkeys(case_ids, "leader_notified")
