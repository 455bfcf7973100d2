"""Events: the append-only, hash-chained history of a case, and how to seal and check one.

Each event's hash covers the previous event's hash and a digest of its payload, not the payload itself,
so purging a payload later leaves the chain verifiable. The chain is per case: writers to different
cases never wait on one global row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from indsats.engine.log.canonical import canonical_json

GENESIS = "0" * 64


class EventKind(str, Enum):
    """What happened to a case."""

    opened = "opened"
    advanced = "advanced"  # a trigger moved the case to another state
    recorded = "recorded"  # a trigger was recorded without changing the state (acute, inform_socialchef, …)
    note = "note"
    assigned = "assigned"  # a caseworker was named (`indsats assign`)
    handed_over = "handed_over"  # a deactivated user's duties on the case went to another
    rechained = "rechained"  # the reports-to chain changed: the escalations still to come re-planned to its depth
    reminder_sent = "reminder_sent"
    escalated = "escalated"
    delivery_failed = "delivery_failed"
    viewed = "viewed"
    paused = "paused"  # the case waits on someone outside; its reminders are held
    resumed = "resumed"  # its deadlines and held reminders moved on by the paused time
    archived = "archived"  # written to an archive file under the plan's retention rule
    purged = "purged"


# Events a person causes through a command bump the case's version (optimistic concurrency);
# the sweep's and the access log's do not, so they never make a coordinator's command conflict.
VERSIONED = frozenset(
    {
        EventKind.opened, EventKind.advanced, EventKind.recorded, EventKind.note, EventKind.paused, EventKind.resumed,
        EventKind.assigned, EventKind.handed_over,
    }
)
# Who acted on a case (and so stands "on the case"): the people behind these events, not readers.
ACTING = tuple(sorted(k.value for k in VERSIONED))


@dataclass(frozen=True, kw_only=True)
class Event:
    """One sealed event, as stored."""

    case_id: str
    seq: int
    kind: EventKind
    at: datetime
    actor: str | None
    trigger: str | None
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any] | None
    payload_digest: str
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        return cls(**{**row, "kind": EventKind(row["kind"])})


def digest(payload: dict[str, Any] | None) -> str:
    return hashlib.sha256(canonical_json(payload or {}).encode("utf-8")).hexdigest()


def chain_hash(prev_hash: str, seq: int, header: Draft | Event, payload_digest: str) -> str:
    """The hash of an event: its header, its payload's digest and the previous event's hash."""
    return _chain_hash(prev_hash, header.case_id, seq, header.kind.value, header.at, header.actor, header.trigger,
                       header.from_state, header.to_state, payload_digest)


def _chain_hash(prev_hash: str, case_id: str, seq: int, kind: str, at: datetime | str, actor: str | None,
                trigger: str | None, from_state: str | None, to_state: str | None, payload_digest: str) -> str:
    """The chain hash; ``at`` as a datetime, or already in its ``isoformat()`` (a writer sealing many events of
    one instant writes it out once)."""
    line = canonical_json([prev_hash, case_id, seq, kind, at if isinstance(at, str) else at.isoformat(), actor,
                           trigger, from_state, to_state, payload_digest])
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An event before it is sealed: what happened, not yet where it stands in the chain."""

    case_id: str
    kind: EventKind
    at: datetime
    actor: str | None = None
    trigger: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    payload: dict[str, Any] | None = None


def sealed_row(draft: Draft, *, seq: int, prev_hash: str, times: dict[datetime, str] | None = None,
               stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """``draft`` sealed as event ``seq`` of its case's chain, after the event whose hash is ``prev_hash``: the
    ``events`` row, its payload in the stored form (the canonical JSON its digest is taken over, or that of
    ``stored``: the payload with its protected parts sealed, when it has any). Microseconds are dropped: every
    database stores at least second precision identically.

    :param times: each instant's ``isoformat()`` as written so far, kept by a caller sealing many events of
        the same few instants (a sweep's batch shares one).
    """
    at = draft.at.replace(microsecond=0) if draft.at.microsecond else draft.at
    if times is None:
        at_text: datetime | str = at
    elif (at_text := times.get(at)) is None:  # type: ignore[assignment]
        at_text = times[at] = at.isoformat()
    text = None if draft.payload is None else canonical_json(draft.payload)
    payload_digest = hashlib.sha256((text or "{}").encode("utf-8")).hexdigest()
    if stored is not None:
        text = canonical_json(stored)
    kind = draft.kind.value
    return {
        "case_id": draft.case_id, "seq": seq, "kind": kind, "at": at, "actor": draft.actor, "trigger": draft.trigger,
        "from_state": draft.from_state, "to_state": draft.to_state, "payload": text, "payload_digest": payload_digest,
        "prev_hash": prev_hash,
        "hash": _chain_hash(prev_hash, draft.case_id, seq, kind, at_text, draft.actor, draft.trigger, draft.from_state,
                            draft.to_state, payload_digest),
    }


def chain_breaks(events: list[Event]) -> list[str]:
    """Every place where a case's chain does not verify (empty when it does). Events in seq order."""
    problems: list[str] = []
    prev = GENESIS
    for expected_seq, e in enumerate(events, start=1):
        where = f"case {e.case_id} event {e.seq}"
        if e.seq != expected_seq:
            problems.append(f"{where}: expected event {expected_seq} (an event was removed or reordered)")
        if e.payload is not None and digest(e.payload) != e.payload_digest:
            problems.append(f"{where}: payload does not match its digest (edited)")
        if e.prev_hash != prev:
            problems.append(f"{where}: does not follow the previous event (removed, inserted or reordered)")
        if chain_hash(e.prev_hash, e.seq, e, e.payload_digest) != e.hash:
            problems.append(f"{where}: hash does not match its contents (edited)")
        prev = e.hash
    return problems
