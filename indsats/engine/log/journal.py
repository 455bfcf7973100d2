"""Appending to a case's event log: lock the head, seal the next event, store it (protected parts
encrypted), move the head. The one way every writer — commands, the sweep, the access log — adds an event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from indsats.engine.privacy.crypto import PROTECTED_KEYS
from indsats.engine.log.events import Draft, Event, sealed_row
from indsats.engine.privacy.fingerprints import writing_cipher
from indsats.errors import NotAllowed

if TYPE_CHECKING:
    from indsats.engine.privacy.crypto import Cipher
    from indsats.storage.repository import Repository


def append(
    repo: Repository,
    draft: Draft,
    *,
    cipher: Cipher | None = None,
    sensitive: frozenset[str] = frozenset(),
    case_changes: dict[str, Any] | None = None,
    head: tuple[int, str] | None = None,
    os_login: str | None = None,
) -> Event:
    """Append ``draft`` as the next event of its case and update the projection (``case_changes``) in the
    same transaction.

    :param head: the case's (last_seq, last_hash) when the caller already holds the row (``bump_version``);
        otherwise the row is read and locked here.
    :param os_login: the OS login running the command; recorded in the payload (under the chain) when it is
        not the actor, so the log shows who really acted as whom.
    """
    if os_login and draft.actor and os_login != draft.actor:
        import dataclasses

        draft = dataclasses.replace(draft, payload={**(draft.payload or {}), "os_login": os_login})
    if head is None:
        case = repo.get_case(draft.case_id, lock=True)
        assert case is not None, f"case {draft.case_id} vanished inside its own transaction"
        head = (case.last_seq, case.last_hash)
    if cipher is not None and needs_key(draft.payload, sensitive):
        cipher = writing_cipher(repo, cipher, draft.at)  # refuses a key the database's data is not under
    row = _next_row(draft, head[0] + 1, head[1], cipher, sensitive)
    repo.insert_event(row)
    event = Event(case_id=row["case_id"], seq=row["seq"], kind=draft.kind, at=row["at"], actor=draft.actor,
                  trigger=draft.trigger, from_state=draft.from_state, to_state=draft.to_state, payload=draft.payload,
                  payload_digest=row["payload_digest"], prev_hash=row["prev_hash"], hash=row["hash"])
    repo.update_case(draft.case_id, {"last_seq": event.seq, "last_hash": event.hash, **(case_changes or {})})
    return event


def _next_row(draft: Draft, seq: int, prev_hash: str, cipher: Cipher | None,
              sensitive: frozenset[str] = frozenset(), times: dict[Any, str] | None = None) -> dict[str, Any]:
    """``draft`` sealed as event ``seq`` after ``prev_hash``, as stored: its digest over the plain payload, the
    row's payload the canonical JSON of it with the protected parts encrypted (or ``NotAllowed`` without the
    key), else the canonical JSON the digest was taken over, not encoded a second time. ``times``: see
    ``sealed_row``."""
    if not needs_key(draft.payload, sensitive):
        return sealed_row(draft, seq=seq, prev_hash=prev_hash, times=times)
    if cipher is None:
        raise NotAllowed("this needs the encryption key: set INDSATS_KEY_FILE or INDSATS_KEY")
    return sealed_row(draft, seq=seq, prev_hash=prev_hash, times=times,
                      stored=cipher.seal_payload(draft.payload, sensitive))


def needs_key(payload: dict[str, Any] | None, sensitive: frozenset[str] = frozenset()) -> bool:
    if not payload:
        return False
    for key in PROTECTED_KEYS:
        if key in payload:
            return True
    fields = payload.get("fields") if sensitive else None
    return any(k in sensitive for k in fields) if fields else False


def append_many(
    repo: Repository,
    drafts: Sequence[Draft],
    *,
    cipher: Cipher | None = None,
    case_changes: Callable[[Draft, dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Append several events, each case's in the order given: lock the cases' heads in id order with one
    query, seal the events in turn, store them with one statement and move each head once.

    :param case_changes: the projection's changes an event makes, from the case's head as it stands when the
        event is sealed (so several events on one case add up); the head holds ``last_seq``, ``last_hash``,
        ``reminders_sent`` and ``escalation_level``.
    """
    if not drafts:
        return
    heads = repo.lock_case_heads(d.case_id for d in drafts)
    moved: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    times: dict[Any, str] = {}
    for draft in drafts:
        head = heads.get(draft.case_id)
        assert head is not None, f"case {draft.case_id} vanished inside its own transaction"
        seq, prev = head["last_seq"] + 1, head["last_hash"]
        row = _next_row(draft, seq, prev, cipher, times=times)
        rows.append(row)
        changes = {"last_seq": seq, "last_hash": row["hash"], **(case_changes(draft, head) if case_changes else {})}
        head.update(changes)
        moved.setdefault(draft.case_id, {"id": draft.case_id}).update(changes)
    repo.insert_events(rows)
    repo.update_case_heads(moved.values())
