"""Real processes for the web tests: an OIDC provider (``oidc-provider-mock``), ``indsats server --listen``,
and a headless Chromium driven by Selenium. Each is started, waited for and stopped by one helper; and the
database they serve, begun by ``web_context``.

The provider's issuer follows the Host header, so every URL uses ``127.0.0.1`` and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import ORGANISATION, TEST_KEY, add_users, register_admin

if TYPE_CHECKING:
    from indsats.engine.context import Context

HOST = "127.0.0.1"
CLIENT_ID = "indsats-web"
CLIENT_SECRET = "test-client-secret-not-for-production"
CALLBACK = "/auth/callback"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The provider's subjects and the login claim each carries (sub → preferred_username).
USERS = {"u-sup": "sup", "u-emil": "emil", "u-ida": "ida", "u-lea": "lea", "u-fie": "fie", "u-stranger": "stranger"}


def web_context(db_url: str) -> Context:
    """A context on a new, migrated database at ``db_url``: admin and ``ORGANISATION`` registered (named
    "… Eksempel"), its clock two weeks before now, so that cases opened on it are overdue by the server's real
    clock. Dispose of its ``db`` once the cases are in."""
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.context import Context
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.engine.privacy.crypto import Keyring
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.engine.time.clock import FixedClock
    from indsats.storage.database import Database
    from indsats.storage.migrate import upgrade

    db = Database(db_url)
    upgrade(db)
    two_weeks_ago = FixedClock(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=14))
    ctx = Context(db=db, clock=two_weeks_ago, catalog=PlanCatalog(PlanFolders()), calendar=WorkingCalendar(),
                  keys=Keyring.fixed(TEST_KEY))
    register_admin(ctx)
    add_users(ctx, ORGANISATION, surname="Eksempel")
    return ctx


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing(what: str) -> None:
    """Skip with the reason; under CI fail instead (CI installs the browser, so missing is a broken setup)."""
    if in_ci():
        pytest.fail(f"{what} (CI is set: .ci/run installs it, so the web tests must run)", pytrace=False)
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_for(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30.0, verify: Any = True
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1.0, verify=verify)
            return
        except httpx.TransportError:
            time.sleep(0.1)  # waiting for a process to listen, not for time to pass
    raise RuntimeError(f"{url} did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(
    command: list[str], url: str, log: Path, env: dict[str, str] | None = None, verify: Any = True
) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for(url, process, log, verify=verify)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def oidc_provider(log: Path, users: dict[str, str], *, token_max_age: int | None = None) -> Iterator[str]:
    """A provider process whose users are ``sub → preferred_username``; yields its issuer URL.

    :param token_max_age: the tokens' lifetime in seconds (negative: every token it issues has expired)."""
    tool = shutil.which("oidc-provider-mock", path=str(Path(sys.executable).parent)) or shutil.which(
        "oidc-provider-mock"
    )
    if tool is None:
        missing("oidc-provider-mock is not installed (pip install -e '.[test]')")
    port = free_port()
    command = [str(tool), "--host", HOST, "--port", str(port)]
    if token_max_age is not None:
        command += ["--token-max-age", str(token_max_age)]
    for sub, login in users.items():
        command += ["--user-claims", json.dumps({"sub": sub, "preferred_username": login})]
    issuer = f"http://{HOST}:{port}"
    with running(command, f"{issuer}/.well-known/openid-configuration", log):
        yield issuer


NODE_PROVIDER = Path(__file__).resolve().parent / "oidc_provider"


@contextmanager
def node_oidc_provider(log: Path, redirect_uri: str) -> Iterator[str]:
    """The ``oidc-provider`` npm package (tests/oidc_provider, installed by .ci/run with ``npm ci``) as a process:
    a provider that checks PKCE, one client (``CLIENT_ID``/``CLIENT_SECRET``, ``redirect_uri``), any login.
    Yields its issuer URL."""
    node = shutil.which("node")
    if node is None or not (NODE_PROVIDER / "node_modules" / "oidc-provider").is_dir():
        missing(f"node or the oidc-provider package is missing (npm ci --prefix {NODE_PROVIDER})")
    port = free_port()
    issuer = f"http://{HOST}:{port}"
    command = [str(node), str(NODE_PROVIDER / "provider.mjs"), str(port), CLIENT_ID, CLIENT_SECRET, redirect_uri]
    with running(command, f"{issuer}/.well-known/openid-configuration", log):
        yield issuer


def node_provider_login(authorize_url: str, login: str) -> httpx.URL:
    """Log in as ``login`` at the node provider's own login form (devInteractions, as a browser would: its
    cookies, its form); the redirect back to the client, carrying the code and the state."""
    import re

    with httpx.Client() as browser_like:
        answer = browser_like.get(authorize_url)
        while answer.status_code in (302, 303):
            location = httpx.URL(str(answer.url)).join(answer.headers["location"])
            if location.netloc != answer.url.netloc:
                return location  # back to the client
            answer = browser_like.get(location)
            form = re.search(r'action="([^"]+)"', answer.text)
            if answer.status_code == 200 and form is not None:
                answer = browser_like.post(httpx.URL(str(answer.url)).join(form.group(1)),
                                           data={"prompt": "login", "login": login, "password": "any"})
    raise AssertionError(f"the provider did not send {login} back: {answer.status_code} {answer.text[:300]}")


def id_token(issuer: str, sub: str, *, client_id: str = CLIENT_ID, redirect_uri: str = "http://127.0.0.1/cb") -> str:
    """An ID token from the provider for ``sub``: the authorization code flow, done by hand."""
    with httpx.Client(base_url=issuer) as client:
        meta = client.get("/.well-known/openid-configuration").json()
        authorize = client.post(
            meta["authorization_endpoint"],
            params={"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                    "scope": "openid profile", "state": "s"},
            data={"sub": sub},
        )
        code = httpx.URL(authorize.headers["location"]).params["code"]
        token = client.post(
            meta["token_endpoint"],
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                  "client_id": client_id, "client_secret": CLIENT_SECRET},
        )
        token.raise_for_status()
        return str(token.json()["id_token"])


def log_in(base: str, sub: str, next_page: str = "/stuck") -> tuple[httpx.Client, httpx.Response]:
    """A client holding the session cookie of ``sub``'s login, and the callback's answer (no browser: the
    same redirects a browser follows)."""
    client = httpx.Client(base_url=base)
    to_provider = client.get("/login", params={"next": next_page})
    assert to_provider.status_code == 303, to_provider.text
    back = httpx.post(to_provider.headers["location"], data={"sub": sub})
    assert back.status_code == 302, back.text
    return client, client.get(back.headers["location"])


def server_files(folder: Path) -> tuple[Path, Path]:
    """The client secret file (mode 0600: the server refuses one others may read) and an empty config file."""
    secret, config = folder / "client-secret", folder / "config.toml"
    secret.write_text(CLIENT_SECRET + "\n")
    secret.chmod(0o600)
    config.write_text("")
    return secret, config


def server_env(db_url: str, key: str, issuer: str, secret_file: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDSATS_") or k == "INDSATS_LANGUAGE"}
    env.update({
        "INDSATS_DATABASE_URL": db_url, "INDSATS_KEY": key, "INDSATS_CONFIG": str(config),
        "INDSATS_OIDC_ISSUER": issuer, "INDSATS_OIDC_CLIENT_ID": CLIENT_ID,
        "INDSATS_OIDC_CLIENT_SECRET_FILE": str(secret_file),
    })
    return env


def indsats_server(here: Path, listen: str) -> list[str]:
    """The command of ``indsats server`` serving the web view and ``/v1`` at ``listen``, beside its socket
    in ``here`` (no worker: the tests' cases stay as they are)."""
    return [sys.executable, "-m", "indsats", "server", "--socket", str(here / "run" / "indsats.sock"), "--no-worker",
            "--listen", listen]


def private(db_url: str) -> None:
    """The SQLite file (and its journal files) mode 0600: ``indsats server`` refuses one others may read."""
    path = Path(db_url.removeprefix("sqlite:///"))
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        if (path.parent / name).exists():
            (path.parent / name).chmod(0o600)


def browser() -> Any:
    """Headless Debian Chromium under Selenium; only the loopback address resolves (no outside traffic)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        missing(f"no browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--disable-background-networking", "--no-first-run", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--lang=da"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files (for the HTTPS test)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
