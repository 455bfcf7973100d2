"""The outbox notifier: appends each reminder e-mail as one JSON line to a file, for hosts without SMTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from indsats.adapters.delivery import NO_RECIPIENTS, explain, failed
from indsats.engine.ports import DeliveryResult
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from indsats.engine.ports import Message


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…, ensure_ascii=False), its encoder made once


class OutboxNotifier:
    """Appends each message as one JSON line to a file (mode 0600), for hosts without SMTP."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def describe(self) -> str:
        return _("outbox {file}").format(file=self._path)

    def probe(self) -> str | None:
        """Why the outbox cannot be written now, or None (for ``indsats health``)."""
        folder = self._path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        target = self._path if self._path.exists() else folder
        if not os.access(target, os.W_OK):
            return _("cannot write outbox {file}: {target} is not writable").format(file=self._path, target=target)
        return None

    def deliver(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        writable = [message for message in messages if message.to]
        times: dict[datetime, str] = {}  # a sweep's batch is sent at one instant: written out once
        payload = "".join(_JSON.encode(_outbox_record(m, times)) + "\n" for m in writable)
        error = None
        if writable:
            try:
                self._append(payload.encode("utf-8"))
            except OSError as exc:
                error = f"cannot write outbox {self._path}: {explain(exc)}"  # stored with the reminder: as written
        results: list[DeliveryResult] = []
        for message in messages:
            if not message.to:
                results.append(failed(message, NO_RECIPIENTS, permanent=True))
            elif error:
                results.append(failed(message, error))
            else:
                results.append(DeliveryResult(reminder_id=message.reminder_id, ok=True))
        return results

    def _append(self, payload: bytes) -> None:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                # A half-written batch (disk full) would leave a torn JSON line; cut it off.
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)


def _outbox_record(message: Message, times: dict[datetime, str]) -> dict[str, object]:
    sent_at = message.sent_at
    if sent_at is not None and (text := times.get(sent_at)) is None:
        text = times[sent_at] = sent_at.isoformat()
    return {
        "reminder_id": message.reminder_id,
        "message_id": message.message_id,
        "to": list(message.to),
        "subject": message.subject,
        "body": message.body,
        "sent_at": text if sent_at is not None else None,
    }
