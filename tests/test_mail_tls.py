"""Mail over TLS, end to end against aiosmtpd with a private CA made in the test: STARTTLS and smtps://
deliver when the CA is given (``?cafile=``), fail when it is not; credentials never travel in clear
unless the URL says ``?insecure=true``; ``remind`` exits 7 when the mail server cannot be reached."""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smtp_sink import free_port
from indsats.adapters.smtp import SmtpNotifier, TlsMode, parse_smtp_url
from indsats.engine.ports import Message, make_message_id
from indsats.errors import Invalid

if TYPE_CHECKING:
    from click.testing import Result

    from indsats.engine.context import Context
    from indsats.storage.database import Database

SENDER = "indsats@kommune.example"
USER, PASSWORD = b"indsats", b"pa hemmelig"


@dataclass(frozen=True, kw_only=True)
class PrivateCa:
    """A CA nobody's system trusts, and a server certificate for 127.0.0.1 it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("ca")
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kommune Test Root CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return PrivateCa(ca_file=ca_file, cert_file=cert_file, key_file=key_file)


@dataclass(kw_only=True)
class TlsSink:
    """Keeps every mail with whether its session was encrypted and who logged in."""

    received: list[tuple[bool, Any, Any]] = field(default_factory=list)  # (encrypted, login, mail)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=default_policy)
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        self.received.append((session.ssl is not None, login, mail))
        return "250 Message accepted for delivery"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    known = (auth_data.login, auth_data.password) == (USER, PASSWORD)
    return AuthResult(success=known, handled=False, auth_data=auth_data if known else None)


@pytest.fixture
def starttls_server(private_ca: PrivateCa) -> Iterator[tuple[int, TlsSink]]:
    """STARTTLS required before anything else, and login only over TLS (aiosmtpd's default)."""
    from aiosmtpd.controller import Controller

    sink = TlsSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=private_ca.server_context(),
                            require_starttls=True, authenticator=_authenticate)
    controller.start()
    yield port, sink
    controller.stop()


@pytest.fixture
def smtps_server(private_ca: PrivateCa) -> Iterator[tuple[int, TlsSink]]:
    """TLS from the first byte (port 465 style)."""
    from aiosmtpd.controller import Controller

    sink = TlsSink()
    port = free_port()
    # aiosmtpd does not notice that an ssl_context session is encrypted: it would not offer AUTH at all.
    controller = Controller(sink, hostname="127.0.0.1", port=port, ssl_context=private_ca.server_context(),
                            authenticator=_authenticate, auth_require_tls=False)
    controller.start()
    yield port, sink
    controller.stop()


def message(reminder_id: int = 1) -> Message:
    return Message(reminder_id=reminder_id, message_id=make_message_id(reminder_id, SENDER), to=("lea@kommune.example",),
                   subject="Påmindelse: sag RAD-2026-0007", body="Sag RAD-2026-0007 venter.\n")


def test_a_starttls_session_with_a_private_ca_delivers_with_login(
    starttls_server: tuple[int, TlsSink], private_ca: PrivateCa
) -> None:
    port, sink = starttls_server
    url = f"smtp://indsats:pa%20hemmelig@127.0.0.1:{port}?starttls=true&cafile={private_ca.ca_file}&timeout=5"

    results = SmtpNotifier(parse_smtp_url(url), SENDER).deliver([message(1), message(2)])

    assert [(r.ok, r.error) for r in results] == [(True, None), (True, None)]
    assert [(encrypted, login) for encrypted, login, _ in sink.received] == [(True, USER), (True, USER)]
    assert sink.received[0][2]["Subject"] == "Påmindelse: sag RAD-2026-0007"


def test_smtps_with_a_private_ca_delivers(smtps_server: tuple[int, TlsSink], private_ca: PrivateCa) -> None:
    port, sink = smtps_server
    url = f"smtps://indsats:pa%20hemmelig@127.0.0.1:{port}?cafile={private_ca.ca_file}&timeout=5"

    results = SmtpNotifier(parse_smtp_url(url), SENDER).deliver([message()])

    assert results[0].ok, results[0].error
    assert [login for _, login, _ in sink.received] == [USER]


def test_starttls_without_the_private_ca_fails_verification_and_sends_nothing(
    starttls_server: tuple[int, TlsSink],
) -> None:
    port, sink = starttls_server
    url = f"smtp://indsats:pa%20hemmelig@127.0.0.1:{port}?starttls=true&timeout=5"

    results = SmtpNotifier(parse_smtp_url(url), SENDER).deliver([message()])

    assert not results[0].ok and not results[0].permanent
    assert "certificate verify failed" in (results[0].error or "")
    assert "hemmelig" not in (results[0].error or "")
    assert sink.received == []


def test_plain_smtp_cannot_talk_to_the_smtps_server(smtps_server: tuple[int, TlsSink]) -> None:
    port, sink = smtps_server

    results = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2"), SENDER).deliver([message()])

    assert not results[0].ok and sink.received == []


def test_a_cafile_that_does_not_exist_is_invalid() -> None:
    with pytest.raises(Invalid, match="cafile"):
        SmtpNotifier(parse_smtp_url("smtps://mail.example.org?cafile=/nonexistent/ca.pem"), SENDER)


def test_credentials_over_plain_smtp_are_refused_unless_insecure_is_said(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as raised:
        parse_smtp_url("smtp://indsats:Hemm3lig@mail.example.org")
    assert "clear text" in raised.value.message and "Hemm3lig" not in raised.value.message
    settings = parse_smtp_url("smtp://indsats:Hemm3lig@mail.example.org?insecure=true")
    assert (settings.tls, settings.user, settings.insecure) == (TlsMode.plain, "indsats", True)
    assert parse_smtp_url("smtp://mail.example.org").user is None  # no credentials: nothing to protect
    assert parse_smtp_url("smtp://indsats:x@mail.example.org?starttls=true").tls is TlsMode.starttls
    with pytest.raises(Invalid, match="insecure"):
        parse_smtp_url("smtps://indsats:x@mail.example.org?insecure=true")


# -- remind when the mail server is down -----------------------------------------------------------------


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """Only SQLite: the command line opens the same file as the test."""
    return sqlite_database


def test_remind_exits_7_when_the_mail_server_is_unreachable_for_every_recipient(
    invoke: Callable[..., Result], ctx: Context, case_in: Callable[..., str], tmp_path: Path
) -> None:
    case_in("suspected")
    url = ctx.db.url.render_as_string(hide_password=False)
    down = f"smtp://127.0.0.1:{free_port()}?timeout=2"

    result = invoke(["remind", "--at", "2026-03-09T09:00", "--json"], db_url=url, INDSATS_SMTP_URL=down)

    assert result.exit_code == 7, result.output
    assert "mail server" in result.stderr and "unreachable" in result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == 0 and report["retrying"] == 3  # kept for the next sweep, not lost

    with_sink_up = invoke(["remind", "--at", "2026-03-10T12:00"], db_url=url, INDSATS_OUTBOX=str(tmp_path / "o.jsonl"))
    assert with_sink_up.exit_code == 0, with_sink_up.output
