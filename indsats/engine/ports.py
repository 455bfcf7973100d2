"""The seams of the engine: every interface the engine is handed, documented once, here.

The engine does no I/O of its own. ``indsats.bootstrap`` wires real implementations (the system clock,
SMTP or the outbox, plan files on disk, 0600 files); tests wire fakes (``FixedClock``, a recording
notifier, plans from strings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Protocol

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class Clock(Protocol):
    """Tells the current instant, timezone-aware, in UTC.

    The real one (``SystemClock``) is in ``indsats.bootstrap``; tests and ``--at`` use ``FixedClock``.
    """

    def now(self) -> datetime: ...


class Directory(Protocol):
    """Looks users and their grants up (the storage repository is one)."""

    def get_user(self, login: str) -> dict[str, Any] | None:
        """The user's row, or None when no such login is registered."""
        ...

    def grants_of(self, login: str) -> list[dict[str, Any]]:
        """The user's grants: ``plan_id`` (``*``: every plan declaring the role), ``role``, ``unit`` (or None)."""
        ...

    def holders_of(self, role: str, plan_id: str) -> list[dict[str, Any]]:
        """Every *active* user granted ``role`` in ``plan_id`` or in every plan, each row with its ``grant_unit``."""
        ...

    def deputised_by(self, login: str) -> list[dict[str, Any]]:
        """The users who named ``login`` their deputy, whatever the dates."""
        ...


@dataclass(frozen=True, kw_only=True)
class PlanText:
    """One plan file's text and where it came from (a path, or ``PLAN@VERSION`` for a pinned one)."""

    source: str
    text: str


class PlanSource(Protocol):
    """Where the plans offered for new cases come from (``indsats.adapters.plan_files`` reads folders)."""

    def plan_texts(self) -> list[PlanText]:
        """Every plan file, in a stable order; a later one with the same plan id overrides an earlier one.

        :raises Invalid: a configured folder is missing or a file cannot be read.
        """
        ...


class PlanCache(Protocol):
    """Keeps validated plans in their plain form between processes, by plan version
    (``indsats.adapters.plan_cache``: a private folder in the data directory). Losing it costs only time.
    """

    def read(self, key: str) -> str | None:
        """The text written under ``key``, or None (never written, unreadable, or from another indsats)."""
        ...

    def write(self, key: str, text: str) -> None:
        """Keep ``text`` under ``key``; a failure to write is silent (the plan is parsed again next time)."""
        ...


class PrivateFiles(Protocol):
    """Writes the files only their owner may read: exports, archives (``indsats.adapters.files``)."""

    def write_private_json(self, path: Any, document: Any) -> None:
        """Write ``document`` as JSON to a new file of mode 0600; never overwrite an existing file.

        :raises Invalid: the file exists or cannot be written.
        """
        ...


class SealLog(Protocol):
    """The seal file: an append-only copy of every seal, kept apart from the database
    (``indsats.adapters.seal_file``). ``verify`` compares it with the seals the database holds.
    """

    def append(self, record: dict[str, Any]) -> None:
        """Append one seal (a JSON object) as one line, flushed to disk.

        :raises Invalid: the file cannot be written.
        """
        ...

    def read(self) -> list[dict[str, Any]]:
        """Every seal in the file, in order; [] when there is no file yet. A line that is not a JSON object
        comes back as ``{"unreadable": line}`` (so verify reports it, instead of skipping it)."""
        ...

    def describe(self) -> str:
        """Where the file is (for messages)."""
        ...


class KeyStore(Protocol):
    """Where the encryption key lives, and the next key while a rotation runs (``indsats.adapters.keyfile``)."""

    def current(self) -> bytes | None:
        """The key commands use now; None when there is none."""
        ...

    def pending(self) -> bytes | None:
        """The next key of a rotation (written before the database names it); None when there is none."""
        ...

    def write_pending(self, key: bytes) -> None:
        """Store the next key durably (flushed, its directory too) before returning."""
        ...

    def promote_pending(self) -> None:
        """Make the pending key the current one, keeping the old one apart; safe to repeat after a crash."""
        ...

    def describe(self) -> str:
        """Where the pending key is (for messages)."""
        ...


@dataclass(frozen=True, kw_only=True)
class Message:
    """One rendered reminder e-mail, ready to deliver."""

    reminder_id: int
    message_id: str  # full header value; build it with make_message_id()
    to: tuple[str, ...]
    subject: str
    body: str  # plain text, Danish, UTF-8
    sent_at: datetime | None = None  # the Date header; the sweep passes clock.now()

    def __post_init__(self) -> None:
        if self.sent_at is not None and self.sent_at.tzinfo is not timezone.utc:
            from indsats.engine.time.clock import as_utc  # not at the top: clock.py imports this module

            object.__setattr__(self, "sent_at", as_utc(self.sent_at))


@dataclass(frozen=True, kw_only=True)
class DeliveryResult:
    """What became of one message: delivered, or failed for now, or failed for good."""

    reminder_id: int
    ok: bool
    error: str | None = None  # one line, never the message body
    permanent: bool = False  # a 5xx refusal: retrying will not help
    unreachable: bool = False  # the server could not be reached at all (nothing was handed over)


class Notifier(Protocol):
    """Delivers reminder e-mails in batches."""

    def deliver(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        """Deliver a batch of messages.

        Problems with delivery (server down, refused recipient, disk full) never raise; they are
        reported in the results, each marked temporary (try again later) or permanent.

        :param messages: the batch; an empty batch is delivered without touching the outside world.
        :return: one result per message, in the same order as ``messages``.
        """
        ...

    def describe(self) -> str:
        """Name where messages go, for logs and ``--help`` output; never includes a password."""
        ...


def make_message_id(reminder_id: int, mail_from: str) -> str:
    """The Message-ID of a reminder's e-mail: the same for every attempt, so mail systems drop repeats."""
    return f"<indsats-reminder-{reminder_id}@{_message_domain(mail_from)}>"


def make_notice_id(topic: str, mail_from: str) -> str:
    """The Message-ID of a notice to admins (``topic`` names the check and its time, e.g. ``verify-202603020200``)."""
    return f"<indsats-{topic}@{_message_domain(mail_from)}>"


@lru_cache(maxsize=16)
def _message_domain(mail_from: str) -> str:
    """The domain of the sender's address (parsed once per sender, not once per message)."""
    from email.utils import parseaddr  # here, not at the top: the thin client imports this module to show times

    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2].strip().lower() if "@" in address else ""
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    if not _DOMAIN.match(domain):
        domain = "localhost"
    return domain


