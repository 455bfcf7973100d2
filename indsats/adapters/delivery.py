"""What the notifiers share: a failed result, and one line about an exception (never a message body)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indsats.engine.ports import DeliveryResult

if TYPE_CHECKING:
    from indsats.engine.ports import Message

MAX_ERROR_LENGTH = 300
NO_RECIPIENTS = "no recipients"


def failed(message: Message, error: str, *, permanent: bool = False, unreachable: bool = False) -> DeliveryResult:
    return DeliveryResult(
        reminder_id=message.reminder_id, ok=False, error=error, permanent=permanent, unreachable=unreachable
    )


def explain(exc: BaseException) -> str:
    """One line about an exception, from server replies and OS errors only (never the body)."""
    code = getattr(exc, "smtp_code", None)
    reply = getattr(exc, "smtp_error", None)
    if isinstance(code, int) and reply is not None:
        text = f"{code} {reply_text(reply)}"
    else:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and not text.startswith("["):
            text = f"{type(exc).__name__}: {text}"
    return one_line(text)


def reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)


def one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
