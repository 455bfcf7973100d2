"""Fakes that implement the real interfaces, for wiring the engine in tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.ports import DeliveryResult, Message

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class RecordingNotifier:
    """A Notifier that keeps what it delivers in ``sent`` and fails when told to.

    ``fail_next`` batches fail temporarily, whole; a message whose recipients are all in ``refuse``
    fails permanently, and one with only some of them refused is delivered with an error, as over SMTP.
    """

    def __init__(self, *, fail_next: int = 0, refuse: Iterable[str] = ()) -> None:
        self.sent: list[Message] = []
        self.batches: list[list[Message]] = []  # every batch handed over, failed ones too
        self.fail_next = fail_next
        self.refuse: set[str] = set(refuse)

    def describe(self) -> str:
        return "recording notifier"

    def deliver(self, messages: Sequence[Message]) -> list[DeliveryResult]:
        if not messages:
            return []
        self.batches.append(list(messages))
        if self.fail_next > 0:
            self.fail_next -= 1
            return [
                DeliveryResult(reminder_id=message.reminder_id, ok=False, error="told to fail this batch")
                for message in messages
            ]
        return [self._deliver_one(message) for message in messages]

    def _deliver_one(self, message: Message) -> DeliveryResult:
        if not message.to:
            error = "no recipients"
            return DeliveryResult(reminder_id=message.reminder_id, ok=False, error=error, permanent=True)
        refused = [address for address in message.to if address in self.refuse]
        if refused and len(refused) == len(message.to):
            error = f"all {len(refused)} recipients refused: 550 told to refuse"
            return DeliveryResult(reminder_id=message.reminder_id, ok=False, error=error, permanent=True)
        self.sent.append(message)
        if refused:
            error = f"{len(refused)} of {len(message.to)} recipients refused: 550 told to refuse"
            return DeliveryResult(reminder_id=message.reminder_id, ok=True, error=error)
        return DeliveryResult(reminder_id=message.reminder_id, ok=True)


class MemoryKeyStore:
    """A KeyStore in memory: the current key, the pending one of a rotation, and the keys retired."""

    def __init__(self, current: bytes | None) -> None:
        self.key = current
        self.next: bytes | None = None
        self.retired: list[bytes] = []

    def current(self) -> bytes | None:
        return self.key

    def pending(self) -> bytes | None:
        return self.next

    def write_pending(self, key: bytes) -> None:
        self.next = key

    def promote_pending(self) -> None:
        if self.next is not None:
            if self.key is not None:
                self.retired.append(self.key)
            self.key, self.next = self.next, None

    def describe(self) -> str:
        return "the key store in memory"
