"""Appending to a case's event log: lock the head, seal the next event, store it (protected parts
encrypted), move the head. The one way every writer — commands, the sweep, the access log — adds an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.crypto import PROTECTED_KEYS
from indsats.engine.events import Event, EventKind, seal
from indsats.errors import NotAllowed

if TYPE_CHECKING:
    from indsats.engine.crypto import Cipher
    from indsats.storage.repository import Repository


def append(
    repo: Repository,
    *,
    case_id: str,
    kind: EventKind,
    at: datetime,
    actor: str | None = None,
    trigger: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    payload: dict[str, Any] | None = None,
    cipher: Cipher | None = None,
    sensitive: frozenset[str] = frozenset(),
    case_changes: dict[str, Any] | None = None,
) -> Event:
    """Append the next event of a case and update its projection (``case_changes``) in the same transaction."""
    head = repo.get_case(case_id, lock=True)
    assert head is not None, f"case {case_id} vanished inside its own transaction"
    event = seal(
        case_id=case_id,
        seq=head["last_seq"] + 1,
        prev_hash=head["last_hash"],
        kind=kind,
        at=at,
        actor=actor,
        trigger=trigger,
        from_state=from_state,
        to_state=to_state,
        payload=payload,
    )
    repo.insert_event(stored_row(event, cipher, sensitive))
    repo.update_case(case_id, {"last_seq": event.seq, "last_hash": event.hash, **(case_changes or {})})
    return event


def stored_row(event: Event, cipher: Cipher | None, sensitive: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The event as stored: its digest covers the plain payload, the row holds the protected parts sealed."""
    row = event.as_row()
    if needs_key(event.payload, sensitive):
        if cipher is None:
            raise NotAllowed("this needs the encryption key: set INDSATS_KEY_FILE or INDSATS_KEY")
        row["payload"] = cipher.seal_payload(event.payload, sensitive)
    return row


def needs_key(payload: dict[str, Any] | None, sensitive: frozenset[str] = frozenset()) -> bool:
    if not payload:
        return False
    fields = payload.get("fields") or {}
    return any(k in payload for k in PROTECTED_KEYS) or any(k in sensitive for k in fields)
