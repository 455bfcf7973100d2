"""The SMTP notifier: delivers rendered reminder e-mails over one connection per batch.

A notifier never raises for a delivery problem and never drops a message silently: ``deliver``
returns one ``DeliveryResult`` per message, in order, saying whether it went out and whether a
retry could help.

>>> settings = parse_smtp_url("smtp://mail.example.org?starttls=true")
>>> SmtpNotifier(settings, "indsats@example.org").describe()
'smtp://mail.example.org:25?starttls=true'
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formatdate, parseaddr
from enum import Enum
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from indsats.i18n import N_, _
from indsats.adapters.delivery import NO_RECIPIENTS, explain, failed, one_line, reply_text
from indsats.engine.ports import DeliveryResult, Message
from indsats.errors import Invalid

if TYPE_CHECKING:
    import smtplib
    from collections.abc import Mapping, Sequence

DEFAULT_TIMEOUT = 30.0
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")



class TlsMode(Enum):
    """How the SMTP connection is encrypted."""

    plain = "plain"
    starttls = "starttls"
    implicit = "implicit"


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """Where and how to reach the SMTP server; build it with parse_smtp_url()."""

    host: str
    port: int = 25
    tls: TlsMode = TlsMode.plain
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    cafile: str | None = None  # the CA that signed the server's certificate (an internal CA), instead of the system's
    insecure: bool = False  # credentials over plain smtp:// were allowed explicitly (?insecure=true)

    def describe(self) -> str:
        """The settings as a URL without user and password."""
        scheme = "smtps" if self.tls is TlsMode.implicit else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=true" if self.tls is TlsMode.starttls else ""
        return f"{scheme}://{host}:{self.port}{query}"


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read ``smtp://[user:password@]host[:port][?starttls=true&cafile=PATH&timeout=SECONDS]`` or ``smtps://…``.

    User and password are percent-decoded. Credentials over plain ``smtp://`` (no TLS) are refused
    unless the URL says ``?insecure=true``; ``cafile`` names the CA to trust instead of the system's. Error messages never repeat any part of the URL that
    could hold the password, not even when an unencoded ``/``, ``?`` or ``#`` splits it up.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    # The scheme is everything before the first ':', so it cannot contain the password.
    if scheme not in ("smtp", "smtps"):
        raise _bad_url(_("the scheme is '{scheme}', not smtp:// or smtps://").format(scheme=scheme) if scheme
                       else _("no scheme"))
    if parts.path not in ("", "/") or parts.fragment:
        raise _bad_url(_("unexpected text after the host"), encoding_hint=True)
    if not parts.hostname:
        raise _bad_url(_("no host name"), encoding_hint=True)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= 65535:
        raise _bad_url(_("the port must be a number from 1 to 65535"), encoding_hint=True)
    tls = TlsMode.implicit if scheme == "smtps" else TlsMode.plain
    timeout = DEFAULT_TIMEOUT
    cafile: str | None = None
    insecure = False
    try:
        options = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _bad_url(_("the query must look like ?starttls=true&timeout=30"), encoding_hint=True) from None
    seen: set[str] = set()
    for key, value in options:
        key = key.lower()
        if key in seen:
            raise _bad_url(_("'{key}' is given twice").format(key=key))
        seen.add(key)
        if key == "starttls":
            starttls = _parse_flag(value.lower(), "starttls")
            if starttls and tls is TlsMode.implicit:
                raise _bad_url(_("starttls applies only to smtp:// (smtps:// is encrypted from the start)"))
            if starttls:
                tls = TlsMode.starttls
        elif key == "timeout":
            timeout = _parse_timeout(value)
        elif key == "cafile":
            if not value:
                raise _bad_url(_("cafile needs the path of a PEM file"))
            cafile = value
        elif key == "insecure":
            insecure = _parse_flag(value.lower(), "insecure")
        else:
            raise _bad_url(_("unknown option in the query (known: starttls, cafile, insecure, timeout)"), encoding_hint=True)
    user = password = None
    try:
        if parts.username:
            user = unquote(parts.username, errors="strict")
            password = unquote(parts.password or "", errors="strict")
        elif parts.password:
            raise _bad_url(_("a password without a user name"))
    except UnicodeDecodeError:
        raise _bad_url(_("the user name or password is not valid percent-encoded UTF-8")) from None
    if insecure and tls is not TlsMode.plain:
        raise _bad_url(_("insecure applies only to plain smtp:// without starttls"))
    if user is not None and tls is TlsMode.plain and not insecure:
        raise Invalid(_(
            "bad SMTP URL: the user name and password would travel in clear text over plain smtp://: "
            "use smtps:// or ?starttls=true (or, on a network you trust, say ?insecure=true)"
        ))
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if tls is TlsMode.implicit else 25),
        tls=tls,
        user=user,
        password=password,
        timeout=timeout,
        cafile=cafile,
        insecure=insecure,
    )


def _parse_flag(value: str, name: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad_url(_("{name} must be true or false").format(name=name))


def _parse_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise _bad_url(_("timeout must be a positive number of seconds"))
    return seconds


def _bad_url(reason: str, *, encoding_hint: bool = False) -> Invalid:
    if encoding_hint:
        reason += " " + _("(percent-encode '/', '?', '#' and '@' in the user name and password, e.g. %2F)")
    return Invalid(_("bad SMTP URL: {reason}; expected smtp://[user:password@]host[:port][?starttls=true] or "
                     "smtps://[user:password@]host[:port]").format(reason=reason))


# What a delivery failure says (``failed``, ``_BatchFailed``) is stored with the reminder and read in any
# language later, while the sweep renders mails in the plan's: it stays as written here.
class _BatchFailed(Exception):
    """The connection could not be set up; every message in the batch fails for now."""

    def __init__(self, reason: str, *, unreachable: bool = False, said: str | None = None) -> None:
        super().__init__(reason)
        self.unreachable = unreachable
        self.said = said or reason  # the same for a person reading it now (``indsats health``), in their language


class SmtpNotifier:
    """Delivers each batch over one SMTP connection."""

    def __init__(self, settings: SmtpSettings, mail_from: str) -> None:
        _name, address = parseaddr(mail_from)
        if "@" not in address:
            raise Invalid(_("the sender address (mail from) must be an e-mail address, e.g. indsats@kommune.dk"))
        if settings.cafile is not None and not os.path.isfile(settings.cafile):
            raise Invalid(_("the SMTP URL's cafile {cafile} does not exist").format(cafile=settings.cafile))
        self._settings = settings
        self._mail_from = mail_from
        self._envelope_from = address

    def describe(self) -> str:
        return self._settings.describe()

    def probe(self) -> str | None:
        """Connect (TLS and login as configured), say NOOP and leave: None when that worked, else why not."""
        try:
            connection = self._connect()
        except _BatchFailed as exc:
            return exc.said
        import smtplib

        try:
            code, reply = connection.noop()
        except (smtplib.SMTPException, OSError) as exc:
            return _("{server} did not answer NOOP: {error}").format(server=self.describe(), error=explain(exc))
        finally:
            _close_quietly(connection)
        if code == 250:
            return None
        return _("{server} answered NOOP with {code} {reply}").format(server=self.describe(), code=code,
                                                                     reply=reply_text(reply))

    def deliver(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        if not messages:
            return []
        try:
            connection = self._connect()
        except _BatchFailed as exc:
            return [failed(message, str(exc), unreachable=exc.unreachable) for message in messages]
        results: list[DeliveryResult] = []
        lost: str | None = None
        try:
            for message in messages:
                if lost is not None:
                    results.append(failed(message, f"not sent: the connection was lost earlier ({lost})"))
                    continue
                result, lost = self._send(connection, message)
                results.append(result)
        finally:
            _close_quietly(connection)
        return results

    def _connect(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        settings = self._settings
        # smtplib raises its own exceptions, OSError (refused, timeout, TLS), and ValueError or
        # UnicodeError for a host name or password it cannot encode.
        expected = (smtplib.SMTPException, OSError, ValueError)
        try:
            if settings.tls is TlsMode.implicit:
                context = ssl.create_default_context(cafile=settings.cafile)
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=context
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        except expected as exc:
            raise _BatchFailed(f"cannot connect to {self.describe()}: {explain(exc)}", unreachable=True,
                               said=_("cannot connect to {server}: {error}").format(server=self.describe(),
                                                                                    error=explain(exc))) from None
        step = N_("STARTTLS with")
        try:
            if settings.tls is TlsMode.starttls:
                connection.starttls(context=ssl.create_default_context(cafile=settings.cafile))
            step = N_("login to")
            if settings.user is not None:
                connection.login(settings.user, settings.password or "")
        except expected as exc:
            _close_quietly(connection)
            # smtplib encodes credentials as ASCII, and its UnicodeError would quote a password character.
            why = "the user name or password is not ASCII" if isinstance(exc, UnicodeError) else explain(exc)
            said = _("{step} {server} failed: {why}").format(step=_(step), server=self.describe(), why=why)
            raise _BatchFailed(f"{step} {self.describe()} failed: {why}", said=said) from None
        return connection

    def _send(self, connection: smtplib.SMTP, message: Message) -> tuple[DeliveryResult, str | None]:
        """Send one message; return its result and, if the connection is gone, why."""
        import smtplib

        if not message.to:
            return failed(message, NO_RECIPIENTS, permanent=True), None
        try:
            mail = self._build(message)
        except (ValueError, TypeError) as exc:  # e.g. a line break in the subject
            return failed(message, f"cannot build the e-mail: {explain(exc)}", permanent=True), None
        try:
            refused = connection.send_message(mail, from_addr=self._envelope_from, to_addrs=list(message.to))
        except smtplib.SMTPServerDisconnected as exc:
            reason = f"server disconnected: {explain(exc)}"
            return failed(message, reason), reason
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = f"all {len(message.to)} recipients refused: {_explain_refusals(exc.recipients)}"
            permanent = bool(codes) and all(code >= 500 for code in codes)
            # smtplib closes the connection itself after a 421 ("service not available").
            lost = error if 421 in codes else None
            return failed(message, error, permanent=permanent), lost
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, …
            error = explain(exc)
            lost = error if exc.smtp_code == 421 else None
            return failed(message, error, permanent=exc.smtp_code >= 500), lost
        except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address without SMTPUTF8
            return failed(message, explain(exc), permanent=True), None
        except smtplib.SMTPException as exc:
            return failed(message, explain(exc)), None
        except OSError as exc:  # timeout or broken pipe: the session is in an unknown state
            reason = explain(exc)
            return failed(message, reason), reason
        except (UnicodeError, ValueError) as exc:  # an address smtplib cannot encode
            return failed(message, explain(exc), permanent=True), None
        if refused:
            error = f"{len(refused)} of {len(message.to)} recipients refused: {_explain_refusals(refused)}"
            return DeliveryResult(reminder_id=message.reminder_id, ok=True, error=error), None
        return DeliveryResult(reminder_id=message.reminder_id, ok=True), None

    def _build(self, message: Message) -> EmailMessage:
        mail = EmailMessage(policy=SMTP_POLICY)
        mail["From"] = self._mail_from
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject
        mail["Message-ID"] = message.message_id
        # Without a sent_at the Date is the moment of sending, read from the system clock by formatdate().
        sent_at = message.sent_at
        mail["Date"] = format_datetime(sent_at, usegmt=True) if sent_at else formatdate(usegmt=True)
        mail["Auto-Submitted"] = "auto-generated"
        # Exchange reads this instead of Auto-Submitted: no out-of-office replies to reminders.
        mail["X-Auto-Response-Suppress"] = "All"
        # Quoted-printable keeps æøå intact through servers that do not offer 8BITMIME.
        mail.set_content(message.body, charset="utf-8", cte="quoted-printable")
        return mail


def _explain_refusals(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    replies = sorted({f"{code} {reply_text(reply)}" for code, reply in refused.values()})
    return one_line("; ".join(replies))


def _close_quietly(connection: smtplib.SMTP) -> None:
    import smtplib

    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        connection.close()
