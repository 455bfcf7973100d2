"""Notifiers deliver every message or say why not: SMTP (against a real aiosmtpd server), outbox and fake."""

from __future__ import annotations

import json
import os
import socket
import stat
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import pytest

from fakes import RecordingNotifier
from smtp_sink import Received, free_port
from indsats.adapters.outbox import OutboxNotifier
from indsats.adapters.smtp import SmtpNotifier, SmtpSettings, TlsMode, parse_smtp_url
from indsats.engine.ports import DeliveryResult, Message, Notifier, make_message_id
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from aiosmtpd.controller import Controller

SENDER = "Indsats <indsats@kommune.example>"
AT = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
SUBJECT = "Påmindelse: sag RAD-2026-0007 er forsinket"
BODY = (
    "Sag RAD-2026-0007 står stadig i 'vurderet'.\n"
    "Næste skridt: afgør politianmeldelse.\n"
    "Hilsen Ålborg Kommune.\n"
)
SECRET = "Hemm3lig"
A = "a@kommune.example"
B = "b@kommune.example"
C = "c@kommune.example"
D = "d@kommune.example"
GONE = "gone@kommune.example"
LEADER = "leder@kommune.example"


def message(reminder_id: int, *to: str, subject: str = SUBJECT) -> Message:
    return Message(
        reminder_id=reminder_id,
        message_id=make_message_id(reminder_id, SENDER),
        to=to,
        subject=subject,
        body=BODY,
        sent_at=AT,
    )


def temporary_failures(results: list[DeliveryResult]) -> bool:
    return all(not r.ok and not r.permanent and r.error for r in results)


# --- a real SMTP server ------------------------------------------------------------------------


@dataclass(kw_only=True)
class RecordingHandler:
    """An aiosmtpd handler that keeps every mail and answers with scripted refusals."""

    received: list[Received] = field(default_factory=list)
    sessions: list[object] = field(default_factory=list)  # one per MAIL FROM; aiosmtpd has one per connection
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address → reply instead of 250
    mail_reply: str | None = None  # reply to MAIL FROM instead of 250
    data_replies: list[str | None] = field(default_factory=list)  # reply to the nth DATA instead of 250

    @property
    def connections(self) -> int:
        return len({id(session) for session in self.sessions})

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.sessions.append(session)
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.data_replies.pop(0) if self.data_replies else None
        if reply:
            return reply
        mail = message_from_bytes(envelope.content, policy=default_policy)
        received = Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), mail=mail)
        self.received.append(received)
        return "250 Message accepted for delivery"


def start_server(handler: RecordingHandler, **options: Any) -> Controller:
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def smtp_server(handler: RecordingHandler) -> Iterator[Controller]:
    controller = start_server(handler)
    yield controller
    controller.stop()


@pytest.fixture
def smtp(smtp_server: Controller) -> SmtpNotifier:
    return SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{smtp_server.port}?timeout=2"), SENDER)


# --- the contract every Notifier keeps ---------------------------------------------------------


@dataclass(kw_only=True)
class Wired:
    """A notifier and a way to read back what it delivered."""

    notifier: Notifier
    delivered: Callable[[], list[tuple[str, tuple[str, ...], str, str]]]  # message id, to, subject, body


@pytest.fixture(params=["smtp", "outbox", "recording"])
def wired(request: pytest.FixtureRequest, tmp_path: Path) -> Wired:
    if request.param == "smtp":
        handler: RecordingHandler = request.getfixturevalue("handler")
        notifier = request.getfixturevalue("smtp")

        def from_server() -> list[tuple[str, tuple[str, ...], str, str]]:
            return [
                (r.mail["Message-ID"], tuple(r.rcpt_tos), r.mail["Subject"], r.text) for r in handler.received
            ]

        return Wired(notifier=notifier, delivered=from_server)
    if request.param == "outbox":
        path = tmp_path / "outbox.jsonl"

        def from_file() -> list[tuple[str, tuple[str, ...], str, str]]:
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            records = [json.loads(line) for line in lines]
            return [(r["message_id"], tuple(r["to"]), r["subject"], r["body"]) for r in records]

        return Wired(notifier=OutboxNotifier(path), delivered=from_file)
    recording = RecordingNotifier()

    def from_fake() -> list[tuple[str, tuple[str, ...], str, str]]:
        return [(m.message_id, m.to, m.subject, m.body) for m in recording.sent]

    return Wired(notifier=recording, delivered=from_fake)


def test_every_notifier_delivers_a_batch_intact_with_one_result_per_message_in_order(wired: Wired) -> None:
    batch = [message(3, LEADER), message(1, A, B)]

    results = wired.notifier.deliver(batch)

    assert results == [DeliveryResult(reminder_id=3, ok=True), DeliveryResult(reminder_id=1, ok=True)]
    assert wired.delivered() == [(m.message_id, m.to, m.subject, m.body) for m in batch]


def test_every_notifier_delivers_an_empty_batch_as_nothing(wired: Wired) -> None:
    assert wired.notifier.deliver([]) == []
    assert wired.delivered() == []


def test_every_notifier_fails_a_message_without_recipients_permanently(wired: Wired) -> None:
    results = wired.notifier.deliver([message(1), message(2, LEADER)])

    assert [(r.ok, r.permanent) for r in results] == [(False, True), (True, False)]
    assert len(wired.delivered()) == 1


# --- SMTP --------------------------------------------------------------------------------------


def test_a_batch_of_three_travels_over_one_connection_with_headers_and_danish_body_intact(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    batch = [message(41, LEADER), message(42, A, B), message(43, C)]

    results = smtp.deliver(batch)

    assert all(r.ok and r.error is None for r in results)
    assert handler.connections == 1
    assert [r.rcpt_tos for r in handler.received] == [[LEADER], [A, B], [C]]
    first = handler.received[1]
    assert first.mail_from == "indsats@kommune.example"
    assert first.mail["Message-ID"] == "<indsats-reminder-42@kommune.example>"
    assert first.mail["Subject"] == SUBJECT
    assert first.mail["From"] == SENDER
    assert first.mail["To"] == "a@kommune.example, b@kommune.example"
    assert first.mail["Auto-Submitted"] == "auto-generated"
    assert parsedate_to_datetime(first.mail["Date"]) == AT
    assert first.mail.get_content_type() == "text/plain"
    assert first.mail.get_content_charset() == "utf-8"
    assert first.text == BODY


def test_a_second_batch_opens_a_new_connection(smtp: SmtpNotifier, handler: RecordingHandler) -> None:
    smtp.deliver([message(1, A)])
    smtp.deliver([message(2, A)])

    assert handler.connections == 2


def test_smtp_down_fails_every_message_temporarily_without_raising() -> None:
    port = free_port()  # nothing listens on it
    notifier = SmtpNotifier(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=1"), SENDER)

    results = notifier.deliver([message(1, A), message(2, B)])

    assert [r.reminder_id for r in results] == [1, 2]
    assert temporary_failures(results)
    assert results[0].error is not None and f"smtp://127.0.0.1:{port}" in results[0].error


def test_a_server_that_never_answers_times_out_and_fails_the_batch_temporarily() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nobody ever says 220
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}?timeout=0.2"

        results = SmtpNotifier(parse_smtp_url(url), SENDER).deliver([message(1, A)])

    assert temporary_failures(results)


def test_a_recipient_refused_with_550_fails_that_message_permanently_and_the_others_go_out(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    handler.rcpt_replies[GONE] = "550 5.1.1 Mailbox unavailable"

    results = smtp.deliver([message(1, A), message(2, GONE), message(3, B)])

    assert [(r.ok, r.permanent) for r in results] == [(True, False), (False, True), (True, False)]
    assert results[1].error is not None and "550" in results[1].error and "\n" not in results[1].error
    assert "Næste skridt" not in results[1].error
    assert [r.rcpt_tos for r in handler.received] == [[A], [B]]
    assert handler.connections == 1


def test_a_recipient_greylisted_with_451_is_a_temporary_failure(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    handler.rcpt_replies[A] = "451 4.7.1 Greylisted, try again later"

    results = smtp.deliver([message(1, A)])

    assert temporary_failures(results)


def test_some_recipients_refused_is_delivered_with_an_error_counting_them(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    handler.rcpt_replies[GONE] = "550 5.1.1 Mailbox unavailable"

    [result] = smtp.deliver([message(1, A, GONE, B)])

    assert result.ok and result.error is not None and result.error.startswith("1 of 3 recipients refused")
    assert handler.received[0].rcpt_tos == [A, B]


def test_the_sender_refused_with_553_fails_permanently(smtp: SmtpNotifier, handler: RecordingHandler) -> None:
    handler.mail_reply = "553 5.7.1 Sender not allowed"

    results = smtp.deliver([message(1, A), message(2, B)])

    assert [(r.ok, r.permanent) for r in results] == [(False, True), (False, True)]


def test_the_server_closing_midway_fails_that_message_and_the_rest_temporarily(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    handler.data_replies = [None, "421 4.3.2 Shutting down"]

    results = smtp.deliver([message(1, A), message(2, B), message(3, C)])

    assert results[0] == DeliveryResult(reminder_id=1, ok=True)
    assert temporary_failures(results[1:])
    assert results[2].error is not None and "connection was lost" in results[2].error
    assert len(handler.received) == 1


def test_a_line_break_in_the_subject_fails_that_message_permanently_and_not_the_batch(
    smtp: SmtpNotifier, handler: RecordingHandler
) -> None:
    injected = message(1, A, subject="Påmindelse\nBcc: alle@example.org")

    results = smtp.deliver([injected, message(2, B)])

    assert [(r.ok, r.permanent) for r in results] == [(False, True), (True, False)]
    assert [r.rcpt_tos for r in handler.received] == [[B]]


def test_starttls_against_a_server_without_it_fails_the_batch_temporarily(smtp_server: Controller) -> None:
    settings = parse_smtp_url(f"smtp://127.0.0.1:{smtp_server.port}?starttls=true&timeout=2")

    results = SmtpNotifier(settings, SENDER).deliver([message(1, A)])

    assert temporary_failures(results)
    assert results[0].error is not None and results[0].error.startswith("STARTTLS with")


@pytest.fixture
def auth_server(handler: RecordingHandler) -> Iterator[Controller]:
    from aiosmtpd.smtp import AuthResult

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        # handled=False: aiosmtpd's default (True) sends no reply to a failure, and the client hangs.
        known = (auth_data.login, auth_data.password) == (b"indsats", b"pa hemmelig")
        return AuthResult(success=known, handled=False)

    # Plain-text AUTH is only acceptable in a test: aiosmtpd requires TLS for it by default.
    controller = start_server(handler, authenticator=authenticate, auth_require_tls=False)
    yield controller
    controller.stop()


def test_login_with_a_percent_encoded_password_delivers(auth_server: Controller) -> None:
    settings = parse_smtp_url(f"smtp://indsats:pa%20hemmelig@127.0.0.1:{auth_server.port}?timeout=2&insecure=true")

    results = SmtpNotifier(settings, SENDER).deliver([message(1, A)])

    assert results == [DeliveryResult(reminder_id=1, ok=True)]


def test_a_failed_login_fails_the_batch_temporarily_without_showing_the_password(
    auth_server: Controller,
) -> None:
    settings = parse_smtp_url(f"smtp://indsats:{SECRET}@127.0.0.1:{auth_server.port}?timeout=2&insecure=true")
    notifier = SmtpNotifier(settings, SENDER)

    results = notifier.deliver([message(1, A), message(2, B)])

    assert temporary_failures(results)
    error = results[0].error or ""
    assert error.startswith("login to smtp://127.0.0.1") and "535" in error
    assert SECRET not in error
    assert SECRET not in notifier.describe() and "indsats:" not in notifier.describe()


def test_an_unusable_sender_address_is_rejected_as_invalid_configuration() -> None:
    with pytest.raises(Invalid):
        SmtpNotifier(SmtpSettings(host="mail.example.org"), "Indsats")


# --- parse_smtp_url ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpSettings(host="mail.example.org", port=25, tls=TlsMode.plain)),
        ("smtp://mail.example.org:2525/", SmtpSettings(host="mail.example.org", port=2525)),
        ("SMTP://Mail.Example.ORG", SmtpSettings(host="mail.example.org")),
        (
            "smtp://mail.example.org:587?starttls=true",
            SmtpSettings(host="mail.example.org", port=587, tls=TlsMode.starttls),
        ),
        ("smtp://mail.example.org?starttls=false", SmtpSettings(host="mail.example.org", tls=TlsMode.plain)),
        ("smtps://mail.example.org", SmtpSettings(host="mail.example.org", port=465, tls=TlsMode.implicit)),
        (
            "smtps://mail.example.org:2465?starttls=0",
            SmtpSettings(host="mail.example.org", port=2465, tls=TlsMode.implicit),
        ),
        ("smtp://mail.example.org?timeout=2.5", SmtpSettings(host="mail.example.org", timeout=2.5)),
        ("smtp://[::1]:2525", SmtpSettings(host="::1", port=2525)),
        (
            "smtp://indsats%40kommune.dk:p%C3%A5%2Fh%3Fe%23m%3A%40lig+x@mail.example.org:587"
            "?starttls=yes&timeout=10",
            SmtpSettings(
                host="mail.example.org",
                port=587,
                tls=TlsMode.starttls,
                user="indsats@kommune.dk",
                password="på/h?e#m:@lig+x",
                timeout=10,
            ),
        ),
        (
            "smtp://indsats@mail.example.org?insecure=true",
            SmtpSettings(host="mail.example.org", user="indsats", password="", insecure=True),
        ),
        ("smtps://mail.example.org?cafile=/etc/ssl/kommune-ca.pem",
         SmtpSettings(host="mail.example.org", port=465, tls=TlsMode.implicit, cafile="/etc/ssl/kommune-ca.pem")),
    ],
)
def test_smtp_urls_parse_into_settings(url: str, expected: SmtpSettings) -> None:
    settings = parse_smtp_url(url)

    assert settings == expected
    assert settings.password == expected.password  # compared above too, but repr hides it


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("smtp://mail.example.org", "smtp://mail.example.org:25"),
        ("smtp://u:p@mail.example.org:587?starttls=true", "smtp://mail.example.org:587?starttls=true"),
        ("smtps://u:p@mail.example.org", "smtps://mail.example.org:465"),
        ("smtp://[::1]:2525", "smtp://[::1]:2525"),
    ],
)
def test_settings_describe_themselves_without_user_or_password(url: str, shown: str) -> None:
    assert parse_smtp_url(url).describe() == shown


@pytest.mark.parametrize(
    "url",
    [
        f"http://indsats:{SECRET}@mail.example.org",
        f"indsats:{SECRET}@mail.example.org",
        f"smtp://indsats:{SECRET}@",
        f"smtp://indsats:{SECRET}@mail.example.org:0",
        f"smtp://indsats:{SECRET}@mail.example.org:65536",
        f"smtp://indsats:{SECRET}@mail.example.org:abc",
        f"smtp://indsats:{SECRET}@mail.example.org?timeout=abc",
        f"smtp://indsats:{SECRET}@mail.example.org?timeout=-1",
        f"smtp://indsats:{SECRET}@mail.example.org?timeout=nan",
        f"smtp://indsats:{SECRET}@mail.example.org?starttls=maybe",
        f"smtp://indsats:{SECRET}@mail.example.org?starttls",
        f"smtp://indsats:{SECRET}@mail.example.org?tls=true",
        f"smtp://indsats:{SECRET}@mail.example.org?starttls=true&starttls=false",
        f"smtps://indsats:{SECRET}@mail.example.org?starttls=true",
        f"smtp://:{SECRET}@mail.example.org",
        f"smtp://indsats:{SECRET}%FF@mail.example.org",
    ],
)
def test_bad_smtp_urls_are_invalid_and_the_message_never_shows_the_password(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_smtp_url(url)

    assert caught.value.exit_code == 5
    assert str(caught.value).startswith("bad SMTP URL")
    assert SECRET not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        ("smtp://indsats:Hemm/3lig@mail.example.org", ("Hemm", "3lig")),
        ("smtp://indsats:Hemm?3lig@mail.example.org", ("Hemm", "3lig")),
        ("smtp://indsats:Hemm#3lig@mail.example.org", ("Hemm", "3lig")),
        ("smtp://indsats:Hemm/99999@mail.example.org", ("Hemm", "99999")),
        ("smtp://indsats:1234/5@mail.example.org", ("1234",)),
    ],
)
def test_an_unencoded_slash_or_question_mark_in_the_password_is_invalid_and_no_piece_shows(
    url: str, pieces: tuple[str, ...]
) -> None:
    with pytest.raises(Invalid) as caught:
        parse_smtp_url(url)

    shown = "".join(traceback.format_exception(caught.value))
    assert "percent-encode" in str(caught.value)
    assert not [piece for piece in pieces if piece in shown]


def test_settings_never_show_the_password_in_their_repr() -> None:
    settings = parse_smtp_url(f"smtp://indsats:{SECRET}@mail.example.org?starttls=true")

    assert SECRET not in repr(settings)
    assert SECRET not in repr(SmtpNotifier(settings, SENDER).describe())


# --- outbox ------------------------------------------------------------------------------------


def test_the_outbox_appends_json_lines_across_batches_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "outbox.jsonl"
    outbox = OutboxNotifier(path)

    first = outbox.deliver([message(1, A), message(2, B, C)])
    second = outbox.deliver([message(3, D)])

    assert all(r.ok for r in first + second)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["reminder_id"] for r in records] == [1, 2, 3]
    assert records[1] == {
        "reminder_id": 2,
        "message_id": "<indsats-reminder-2@kommune.example>",
        "to": [B, C],
        "subject": SUBJECT,
        "body": BODY,
        "sent_at": "2026-03-02T08:30:00+00:00",
    }
    assert "står" in path.read_text(encoding="utf-8")  # readable UTF-8, not \u escapes
    assert outbox.describe() == f"outbox {path}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_outbox_in_a_read_only_directory_fails_the_batch_temporarily(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        results = OutboxNotifier(tmp_path / "outbox.jsonl").deliver([message(1, A)])
    finally:
        tmp_path.chmod(0o700)

    assert temporary_failures(results)


def test_an_outbox_whose_directory_is_a_file_fails_the_batch_temporarily(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("not a directory")

    results = OutboxNotifier(tmp_path / "var" / "outbox.jsonl").deliver(
        [message(1, A), message(2, B)]
    )

    assert temporary_failures(results)
    assert results[0].error is not None and results[0].error.startswith("cannot write outbox")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fill the disk")
def test_an_outbox_on_a_full_disk_fails_the_batch_temporarily() -> None:
    from pathlib import Path

    results = OutboxNotifier(Path("/dev/full")).deliver([message(1, A)])

    assert temporary_failures(results)
    error = results[0].error or ""
    assert "No space left" in error and "Næste" not in error


# --- Message-ID, Message, the fake ------------------------------------------------------------


def test_message_ids_derive_from_the_reminder_id_and_the_sender_domain() -> None:
    assert make_message_id(42, SENDER) == "<indsats-reminder-42@kommune.example>"
    assert make_message_id(42, SENDER) == make_message_id(42, "indsats@kommune.example")
    assert make_message_id(43, SENDER) != make_message_id(42, SENDER)
    assert make_message_id(7, "indsats@Kommune.Example") == "<indsats-reminder-7@kommune.example>"
    assert make_message_id(7, "indsats@høje-taastrup.dk").endswith("@xn--hje-taastrup-vjb.dk>")
    assert make_message_id(7, "indsats") == "<indsats-reminder-7@localhost>"
    assert make_message_id(7, "") == "<indsats-reminder-7@localhost>"


def test_a_message_keeps_its_time_in_utc_and_refuses_a_naive_one() -> None:
    local = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=1)))

    assert message(1, "a@x.example").sent_at == AT
    assert Message(reminder_id=1, message_id="<x@y>", to=(), subject="", body="", sent_at=local).sent_at == AT
    with pytest.raises(ValueError):
        Message(reminder_id=1, message_id="<x@y>", to=(A,), subject="", body="", sent_at=AT.replace(tzinfo=None))


def test_the_recording_notifier_fails_whole_batches_when_told_then_recovers() -> None:
    notifier = RecordingNotifier(fail_next=1)

    failed = notifier.deliver([message(1, "a@x.example"), message(2, "b@x.example")])
    delivered = notifier.deliver([message(1, "a@x.example")])

    assert temporary_failures(failed)
    assert delivered == [DeliveryResult(reminder_id=1, ok=True)]
    assert [m.reminder_id for m in notifier.sent] == [1]
    assert len(notifier.batches) == 2


def test_the_recording_notifier_refuses_addresses_permanently_as_smtp_does() -> None:
    notifier = RecordingNotifier(refuse={"gone@x.example"})

    results = notifier.deliver([message(1, "gone@x.example"), message(2, "gone@x.example", "a@x.example")])

    assert [(r.ok, r.permanent) for r in results] == [(False, True), (True, False)]
    assert results[1].error is not None and results[1].error.startswith("1 of 2 recipients refused")
    assert [m.reminder_id for m in notifier.sent] == [2]
