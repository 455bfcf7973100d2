"""A real SMTP server for tests: aiosmtpd in-process on 127.0.0.1, keeping every mail it accepts.

>>> port = free_port()                       # doctest: +SKIP
>>> with smtp_sink(port) as sink:            # doctest: +SKIP
...     ...                                  # deliver to smtp://127.0.0.1:{port}
...     sink.received[0].rcpt_tos
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email.message import EmailMessage


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd 1.4 probes its port, so port=0 cannot be used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(kw_only=True)
class Received:
    """One mail as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    mail: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.mail["Subject"])

    @property
    def text(self) -> str:
        """The body as a mail client shows it: SMTP carries CRLF line ends."""
        return str(self.mail.get_content()).replace("\r\n", "\n")


@dataclass(kw_only=True)
class Sink:
    """An aiosmtpd handler that accepts everything and keeps it."""

    received: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds to take over each mail, like a slow relay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        mail = message_from_bytes(envelope.content, policy=default_policy)
        self.received.append(Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), mail=mail))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        """The mails delivered to ``address``."""
        return [r for r in self.received if address in r.rcpt_tos]


@contextmanager
def smtp_sink(port: int, *, delay: float = 0.0) -> Iterator[Sink]:
    """Run an SMTP server on 127.0.0.1:``port`` for the duration of the block; ``delay`` seconds per mail."""
    from aiosmtpd.controller import Controller

    sink = Sink(delay=delay)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
