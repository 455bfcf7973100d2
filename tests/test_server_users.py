"""The trust boundary with real OS users: ``indsats server`` runs as its own service user on a SQLite file it
owns; three people run the CLI as themselves (``setpriv``) and act only as their kernel-verified OS login.

Needs root (``useradd``, ``setpriv``) and Debian's ``/usr/bin/python3``: the default Python here lives under
``/root``, which other users cannot enter, so a venv of the project is built from ``/usr/bin/python3`` in a
world-readable directory. Under CI=true a missing piece fails; elsewhere these tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.harness import wait_for_socket
from tests.test_server import HEAVY

# One process runs this module (the README runs the suite with --dist loadgroup): its module fixtures build a venv
# and create OS users, once, not once per xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("os_users")]
PROJECT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def need(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the OS-user tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def venv() -> Iterator[Path]:
    """The project installed (not editable) into a venv every OS user may execute; its bin directory."""
    need(os.geteuid() == 0, "needs root, to create OS users and run commands as them")
    for tool in ("useradd", "userdel", "setpriv"):
        need(shutil.which(tool) is not None, f"needs {tool}")
    need(SYSTEM_PYTHON.exists(), f"needs {SYSTEM_PYTHON} (an interpreter outside /root)")
    top = Path(tempfile.mkdtemp(prefix="indsats-venv-", dir="/tmp"))
    top.chmod(0o755)
    source = top / "src"  # a copy: building in the worktree would leave build/ and *.egg-info there
    shutil.copytree(PROJECT / "indsats", source / "indsats", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, source / name)
    made = subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(top / "venv")], capture_output=True, text=True)
    need(made.returncode == 0, f"cannot make a venv from {SYSTEM_PYTHON}: {made.stderr.strip()}")
    pip = subprocess.run([str(top / "venv" / "bin" / "pip"), "install", "-q", str(source)], capture_output=True,
                         text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-2000:]
    shutil.rmtree(source)
    subprocess.run(["chmod", "-R", "a+rX", str(top)], check=True)
    yield top / "venv" / "bin"
    shutil.rmtree(top, ignore_errors=True)


@dataclass
class Site:
    """OS users (a service user, three people, one unregistered), the server's files, and the server."""

    bin: Path
    root: Path
    logins: dict[str, str]  # role in the test → OS login
    server: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "server.log"

    @property
    def data(self) -> Path:
        return self.root / "srv"

    @property
    def socket(self) -> Path:
        return self.root / "run" / "indsats.sock"

    def env(self, who: str, *, served: bool = True, **extra: str) -> dict[str, str]:
        account = pwd.getpwnam(self.logins[who])
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.root), "LANG": "C.UTF-8",
               "LOGNAME": account.pw_name, "USER": account.pw_name, "INDSATS_CONFIG": "",
               "COLUMNS": "200", "INDSATS_LANGUAGE": "en"}
        if who == "service":
            env |= {"INDSATS_DATA_DIR": str(self.data), "INDSATS_OUTBOX": str(self.data / "outbox.jsonl")}
        if served:
            env["INDSATS_SERVER"] = f"unix:{self.socket}"
        return env | extra

    def as_(self, who: str) -> list[str]:
        account = pwd.getpwnam(self.logins[who])
        return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]

    def run(self, who: str, *args: str, served: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        """``indsats ARGS`` as ``who`` (through the server unless ``served=False``)."""
        return subprocess.run([*self.as_(who), str(self.bin / "indsats"), *args], env=self.env(who, served=served, **env),
                              capture_output=True, text=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.server = subprocess.Popen([*self.as_("service"), str(self.bin / "indsats"), "server", "--socket",
                                            str(self.socket), "--no-worker"],
                                           env=self.env("service", served=False), stdout=log, stderr=log)
        wait_for_socket(self.socket, self.server)

    def kill(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(timeout=30)
        self.server = None


@pytest.fixture(scope="module")
def site(venv: Path) -> Iterator[Site]:
    token = secrets.token_hex(2)
    logins = {who: f"ix{token}{who}" for who in ("service", "emp", "lead", "spec", "nobody")}
    made: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="indsats-site-", dir="/tmp"))
    try:
        for login in logins.values():
            done = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", login],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            made.append(login)
        root.chmod(0o755)
        service = pwd.getpwnam(logins["service"])
        for sub in ("srv", "run"):
            (root / sub).mkdir(mode=0o700)
            os.chown(root / sub, service.pw_uid, service.pw_gid)
        s = Site(bin=venv, root=root, logins=logins)
        init = s.run("service", "init", served=False)
        assert init.returncode == 0, init.stderr
        for who, role, leader in (("lead", "leder", None), ("emp", "medarbejder", "lead"), ("spec", "fagspecialist", None)):
            args = ["users", "add", logins[who], "--name", who.title(), "--role", role, "--email", f"{who}@example.org"]
            done = s.run("service", *args, *(["--reports-to", logins[leader]] if leader else []), served=False)
            assert done.returncode == 0, done.stderr
        s.start()
        yield s
        if s.server is not None:
            s.server.terminate()
            s.server.wait(timeout=30)
    finally:
        for login in made:
            subprocess.run(["userdel", login], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def opened_case(site: Site) -> str:
    done = site.run("emp", "open", "radikalisering", "--subject", "BORGER-REF-1", "--note", "Bekymring")
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_each_person_acts_as_their_os_login_and_only_as_that(site: Site) -> None:
    emp, lead = site.logins["emp"], site.logins["lead"]
    case_id = opened_case(site)
    assert site.run("emp", "advance", case_id, "notify_leader").returncode == 0
    spoofed = site.run("emp", "advance", case_id, "notify_specialist", USER=lead, LOGNAME=lead)
    assert spoofed.returncode == 4, spoofed.stderr  # notify_specialist is the leader's, and emp is still emp
    claimed = site.run("emp", "cases", INDSATS_USER=lead)
    assert claimed.returncode == 4
    assert claimed.stderr == f"Error: with a server you act as your OS login, {emp}: unset INDSATS_USER\n"
    events = json.loads(site.run("emp", "history", case_id, "--json", USER="admin", LOGNAME="admin").stdout)
    assert [e["actor"] for e in events] == [emp, emp]
    assert all("os_login" not in (e["payload"] or {}) for e in events)
    assert site.run("lead", "show", case_id).returncode == 0
    assert json.loads(site.run("lead", "history", case_id, "--json").stdout)[-1]["actor"] == lead


def test_the_walk_to_decided_works_through_the_server(site: Site) -> None:
    case_id = opened_case(site)
    for who, trigger, sets in (
        ("emp", "notify_leader", []),
        ("lead", "notify_specialist", []),
        ("spec", "assess", ["summary=Samtale med borgeren", "signs=behaviour:moderate"]),
        ("lead", "decide", ["police_report=no", "rationale=Ingen strafbare forhold"]),
    ):
        done = site.run(who, "advance", case_id, trigger, *[a for s in sets for a in ("--set", s)])
        assert done.returncode == 0, (trigger, done.stderr)
    shown = json.loads(site.run("lead", "show", case_id, "--json").stdout)
    assert shown["state"] == "decided"
    assert [e["actor"] for e in json.loads(site.run("lead", "history", case_id, "--json").stdout)
            if e["kind"] == "advanced"] == [site.logins[w] for w in ("emp", "lead", "spec", "lead")]
    verified = site.run("service", "verify")
    assert verified.returncode == 0, verified.stderr


def test_the_people_cannot_open_the_database_or_the_key(site: Site) -> None:
    for path in (site.data / "indsats.db", site.data / "indsats.key"):
        for who in ("emp", "lead", "spec"):
            done = subprocess.run([*site.as_(who), str(site.bin / "python"), "-c", f"open({str(path)!r}, 'rb')"],
                                  env=site.env(who), capture_output=True, text=True, timeout=60)
            assert done.returncode != 0
            assert "PermissionError" in done.stderr, done.stderr
    direct = site.run("emp", "--db", str(site.data / "indsats.db"), "cases", served=False)
    assert direct.returncode == 7, direct.stderr
    assert direct.stderr.endswith("permission denied\n")


def test_the_access_log_names_the_kernel_verified_login(site: Site) -> None:
    emp = site.logins["emp"]
    case_id = opened_case(site)
    assert site.run("emp", "show", case_id, USER="admin", LOGNAME="admin").returncode == 0
    audit = json.loads(site.run("service", "audit", case_id, "--json").stdout)
    assert [(a["login"], a["action"], a["os_login"]) for a in audit] == [(emp, "opened", None),
                                                                        (emp, "viewed (show)", None)]
    uid = pwd.getpwnam(emp).pw_uid
    log = site.log.read_text()
    assert f"uid={uid} login={emp} use_case=show status=200" in log
    assert "BORGER-REF-1" not in log


@pytest.mark.parametrize("args", [
    ["remind"], ["remind", "--dry-run", "--json"], ["cases"], ["show", "RAD-2026-0001"], ["history", "RAD-2026-0001"],
    ["open", "radikalisering", "--subject", "X"], ["advance", "RAD-2026-0001", "notify_leader"],
    ["note", "RAD-2026-0001", "text"], ["stuck"], ["report"], ["verify"], ["plans", "list"], ["plans", "show", "radikalisering"],
    ["plans", "graph", "radikalisering"], ["calendar", "closed", "--year", "2026"],
    ["calendar", "due", "2026-03-02T09:00", "1", "working", "day"], ["audit", "--user", "x"], ["access", "review"],
    ["purge", "--dry-run"], ["tasks"], ["assign", "RAD-2026-0001", "x"], ["pause", "RAD-2026-0001", "--reason", "x"],
    ["resume", "RAD-2026-0001"], ["access", "sample"], ["seal"], ["seal", "--show"], ["health"], ["db", "status"],
    ["plans", "check", "radikalisering", "--org"], ["open", "radikalisering", "--subject", "X", "--source", "employee"],
    ["users", "list"], ["users", "add", "x", "--name", "X"], ["users", "grant", "x", "leder"],
    ["users", "deputy", "x", "--clear"], ["users", "deactivate", "x"],
])
def test_an_unregistered_os_user_may_run_no_command(site: Site, args: list[str]) -> None:
    done = site.run("nobody", *args)
    assert done.returncode == 4, done.stderr
    message = f"'{site.logins['nobody']}' is not a registered user (an admin adds users with 'indsats users add')"
    if "--json" in args:  # errors of a --json command are JSON too
        assert json.loads(done.stderr) == {"error": message, "exit_code": 4}
    else:
        assert done.stderr == f"Error: {message}\n"
    assert done.stdout == ""


def test_a_person_s_commands_print_the_same_through_the_server_as_directly(site: Site) -> None:
    """What a person does through the server against what the service user does directly as them
    (INDSATS_USER): the same lines and exit codes; the admin's commands are refused to a person."""
    emp, lead = site.logins["emp"], site.logins["lead"]
    first, second = opened_case(site), opened_case(site)
    # A minute may turn meanwhile, and in working hours twins opened a second apart have deadlines a second apart.
    spans = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?([+-]\d\d:\d\d)?|-?\d+ (h|min)( \d+ min)?")

    def outcome(done: subprocess.CompletedProcess[str], swap: tuple[str, str] = ("", "")) -> tuple[int, str, str]:
        return (done.returncode, spans.sub("T", done.stdout).replace(*swap), spans.sub("T", done.stderr).replace(*swap))

    def both(who: str, direct_args: list[str], served_args: list[str] | None = None) -> None:
        direct = site.run("service", *direct_args, served=False, INDSATS_USER=site.logins[who])
        served = site.run(who, *(served_args or direct_args))
        swap = (second, first) if served_args else ("", "")
        assert outcome(served, swap) == outcome(direct), (who, direct_args, served.stderr)

    both("emp", ["pause", first, "--reason", "venter"], ["pause", second, "--reason", "venter"])
    both("emp", ["pause", first, "--reason", "igen"])  # exit 5 both ways: paused already
    both("emp", ["tasks"])
    both("emp", ["resume", first], ["resume", second])
    both("lead", ["assign", first, emp, "--json"], ["assign", second, emp, "--json"])
    both("lead", ["tasks"])
    both("spec", ["access", "sample"])  # exit 4: admins and supervisors
    for args in (["users", "add", "x", "--name", "X"], ["users", "grant", lead, "fagspecialist"], ["users", "list"],
                 ["users", "deputy", lead, "--to", emp], ["seal"], ["seal", "--show"],
                 ["plans", "check", "radikalisering", "--org"]):
        both("emp", args)
    # The installation's state is the service user's and the admins' (directly, whoever can open the file).
    for args, does in ((["health"], "checks the server's health"), (["db", "status"], "reads the server's schema status")):
        refused = site.run("emp", *args)
        assert (refused.returncode, refused.stderr) == (4, f"Error: only an admin {does} ('{emp}' is medarbejder)\n")
        admin = site.run("service", *args)
        assert admin.returncode == 0, admin.stdout + admin.stderr


def test_remind_through_the_server_cannot_send_ahead_of_its_clock(site: Site) -> None:
    ahead = site.run("service", "remind", "--at", "2030-01-01")
    assert ahead.returncode == 5
    dry = site.run("service", "remind", "--at", "2030-01-01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not (site.data / "outbox.jsonl").exists()
    assert site.run("emp", "remind", "--dry-run").returncode == 4  # remind is for admins


def test_a_person_s_client_imports_nothing_heavy(site: Site) -> None:
    probe = (
        "import sys\nfrom indsats.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
        f"    code = e.code\nheavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n"
    )
    case_id = opened_case(site)
    for args in (["show", case_id], ["cases", "--json"], ["advance", case_id, "notify_leader"]):
        done = subprocess.run([*site.as_("emp"), str(site.bin / "python"), "-c", probe, *args], env=site.env("emp"),
                              capture_output=True, text=True, timeout=60, cwd=site.root)
        assert done.stderr.splitlines()[-1] == "HEAVY [] EXIT 0", (args, done.stderr)


def test_killing_the_server_mid_command_leaves_the_database_as_verify_expects(site: Site) -> None:
    clients = [
        subprocess.Popen([*site.as_("emp"), str(site.bin / "indsats"), "open", "radikalisering", "--subject",
                          f"KILL-{n}"], env=site.env("emp"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=site.root)
        for n in range(8)
    ]
    while all(c.poll() is None for c in clients):
        time.sleep(0.01)
    site.kill()
    codes = [c.wait(timeout=60) for c in clients]
    assert set(codes) <= {0, 7}, codes
    assert 0 in codes
    verified = site.run("service", "verify", served=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "events: OK" in verified.stdout.splitlines()[0]
    site.start()  # a stale socket is replaced
    assert site.run("emp", "cases").returncode == 0
