"""Errors as RFC 9457 problem details, carrying the exit code the command line ends with.

>>> problem_of(NotFound("no case RAD-2026-0001"))["exit_code"]
3
"""

from __future__ import annotations

from typing import Any

from indsats.errors import Conflict, IndsatsError, IntegrityBroken, Invalid, NotAllowed, NotFound, StorageUnavailable
from indsats.i18n import _

MEDIA_TYPE = "application/problem+json"

# exit code → (HTTP status, problem type slug, title)
KINDS: dict[int, tuple[int, str, str]] = {
    NotFound.exit_code: (404, "not-found", "Not found"),
    NotAllowed.exit_code: (403, "not-allowed", "Not allowed"),
    Invalid.exit_code: (400, "invalid", "Invalid"),
    Conflict.exit_code: (409, "conflict", "Conflict"),
    StorageUnavailable.exit_code: (503, "storage-unavailable", "Database unavailable"),
    IntegrityBroken.exit_code: (500, "integrity-broken", "Integrity failure"),
    1: (500, "bug", "Unexpected error"),
}


def status_of(exit_code: int) -> int:
    """The HTTP status for an exit code (the web view's pages answer with the same)."""
    return KINDS.get(exit_code, KINDS[1])[0]


def problem_of(exc: BaseException) -> dict[str, Any]:
    """The problem document for ``exc``: an ``IndsatsError`` says what happened; anything else is a bug, and
    says only its class (the details stay in the server's log)."""
    if isinstance(exc, IndsatsError):
        code, detail = exc.exit_code, exc.message
    else:
        code, detail = 1, _("unexpected {error} in the server (a bug; see the server's log)").format(error=type(exc).__name__)
    status, slug, title = KINDS.get(code, KINDS[1])
    return {"type": f"urn:indsats:problem:{slug}", "title": title, "status": status, "detail": detail,
            "exit_code": code}
