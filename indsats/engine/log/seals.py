"""Seals: signed checkpoints of the whole history. A seal records the time, how many cases and events it
covers, a Merkle root over every case's chain head, the head of the organisation chain and the case
counters, and the hash of the seal before it (a chain of seals); it is signed with the Ed25519 key that
only the server (or, in direct mode, the owner of the data directory) holds.

Recomputing a chain with the project's own hash function then no longer hides an edit: the seal says what
the head was, and nobody without the private key can write a seal that says otherwise. Each seal is stored
in the database and appended to the seal file, which the installation copies elsewhere; a seal removed
from the database is still in the copy.

``write_seal(ctx, actor=None)`` is what the worker's nightly job calls (the system acting);
``indsats seal`` calls it with the admin's login.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import GENESIS
from indsats.engine.org.users import require_actor, require_admin
from indsats.engine.log.canonical import canonical_json
from indsats.engine.time.clock import parse_time
from indsats.errors import IntegrityBroken, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.ports import SealLog


@dataclass(frozen=True, kw_only=True)
class Seal:
    """One signed checkpoint, as stored and as written to the seal file."""

    seq: int
    at: datetime
    body: str  # canonical JSON: exactly the bytes signed
    signature: str

    @property
    def content(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def digest(self) -> str:
        """What the next seal's ``prev`` names."""
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()

    def as_record(self, public_key: str | None = None) -> dict[str, Any]:
        """The line the seal file holds (the public key beside it, for whoever reads the copy)."""
        record: dict[str, Any] = {"seq": self.seq, "at": self.at.isoformat(), "body": self.body,
                                  "signature": self.signature}
        if public_key:
            record["public_key"] = public_key
        return record

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Seal:
        at = row["at"] if isinstance(row["at"], datetime) else parse_time(str(row["at"]))
        return cls(seq=int(row["seq"]), at=at, body=str(row["body"]), signature=str(row["signature"]))


# -- the Merkle root ------------------------------------------------------------------------------


def leaf(case_id: str, seq: int, head_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + canonical_json([case_id, seq, head_hash]).encode("utf-8")).digest()


def merkle_root(leaves: Iterable[bytes]) -> tuple[str, int]:
    """The root over ``leaves`` in order, and how many there were. Streams: it holds one hash per level
    (a binary counter of complete subtrees), so a million cases need about twenty hashes of memory."""
    peaks: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
    n = 0
    for node in leaves:
        n += 1
        height = 0
        while peaks and peaks[-1][0] == height:
            _, left = peaks.pop()
            node = hashlib.sha256(b"\x01" + left + node).digest()
            height += 1
        peaks.append((height, node))
    if not peaks:
        return hashlib.sha256(b"").hexdigest(), 0
    root = peaks[-1][1]
    for _, left in reversed(peaks[:-1]):
        root = hashlib.sha256(b"\x01" + left + root).digest()
    return root.hex(), n


def sealed_heads_root(heads: Iterable[dict[str, Any]]) -> tuple[str, int, int]:
    """(root, cases, events) over sealed heads in case-id order."""
    events = 0

    def leaves() -> Iterable[bytes]:
        nonlocal events
        for head in heads:
            events += int(head["seq"])
            yield leaf(head["case_id"], int(head["seq"]), head["hash"])

    root, n = merkle_root(leaves())
    return root, n, events


# -- use cases -------------------------------------------------------------------------------------


def write_seal(ctx: Context, *, actor: str | None, to: SealLog | None = None) -> Seal:
    """Sign a checkpoint of every case's chain head and the organisation chain's head; store it and
    append it to the seal file (and to ``to``).

    Writers wait only for a moment: a short transaction fixes which events the seal covers (every event
    up to the newest committed one), the Merkle root is computed from a snapshot without holding any lock,
    and a last short transaction stores the new heads and the seal.

    :param actor: the admin sealing; None for the system (the worker's scheduled seal).
    :raises NotAllowed: the actor is no admin, or this process holds no signing key.
    :raises IntegrityBroken: the sealed heads no longer match the latest seal (someone edited them):
        nothing is sealed over a broken history; ``verify`` names the break.
    :raises Conflict: another seal was written at the same moment (run it again).
    """
    from indsats.errors import Conflict

    signer = ctx.signing.signer()
    with ctx.db.unit_of_work(write=not ctx.db.is_sqlite) as uow:
        repo = uow.repo
        if actor is not None:
            require_admin(repo, actor)
        repo.lock_events_for_seal()  # waits for the transactions writing events now; none are held off after
        through = repo.max_event_id()
        counters = repo.case_counter_map()
        uow.commit()
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        now = ctx.clock.now().replace(microsecond=0)
        latest_row = repo.latest_seal()
        previous = Seal.from_row(latest_row) if latest_row else None
        before = previous.content if previous else {}
        if previous is not None:
            root, n, _ = sealed_heads_root(repo.iter_seal_heads())
            if (root, n) != (before.get("root"), before.get("cases")):
                raise IntegrityBroken(
                    f"the sealed chain heads no longer match seal {previous.seq}: run 'indsats verify'; no seal was written"
                )
        seq = previous.seq + 1 if previous else 1
        changed = {h["case_id"]: h for h in repo.heads_changed_since(int(before.get("events_through", 0)), through)}
        root, n_cases, n_events = sealed_heads_root(_merged(repo.iter_seal_heads(), changed))
        org_seq, org_head = repo.org_chain_head()
    content = {
        "seq": seq,
        "at": now.isoformat(),
        "prev": previous.digest if previous else GENESIS,
        "cases": n_cases,
        "events": n_events,
        "events_through": through,
        "root": root,
        "org": {"seq": org_seq, "hash": org_head},
        "counters": counters,
        "key_id": signer.key_id,
    }
    body = canonical_json(content)
    seal = Seal(seq=seq, at=now, body=body, signature=signer.sign(body.encode("utf-8")))
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        newest = repo.latest_seal()
        if (newest["seq"] if newest else 0) != seq - 1:
            raise Conflict("another seal was written at the same moment; nothing was written, run 'indsats seal' again")
        repo.upsert_seal_heads(list(changed.values()), seq)
        repo.insert_seal({"seq": seal.seq, "at": seal.at, "body": seal.body, "signature": seal.signature})
        uow.commit()
    # After the commit: a seal file that cannot be written loses nothing the database holds, and the
    # next seal is appended after it (verify compares the file's seals with the database's).
    for log in (ctx.seal_log, to):
        if log is not None:
            log.append(seal.as_record(signer.public_key))
    return seal


def _merged(sealed: Iterable[dict[str, Any]], changed: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The sealed heads with the changed ones put in, in case-id order (both in byte order of the id)."""
    pending = sorted(changed)
    i = 0
    for head in sealed:
        while i < len(pending) and pending[i] < head["case_id"]:
            yield changed[pending[i]]
            i += 1
        if i < len(pending) and pending[i] == head["case_id"]:
            yield changed[pending[i]]
            i += 1
        else:
            yield head
    for key in pending[i:]:
        yield changed[key]


def latest_seal(ctx: Context, *, actor: str) -> Seal | None:
    """The newest seal (admins and supervisors), or None before the first."""
    with ctx.db.unit_of_work() as uow:
        me = require_actor(uow.repo, actor)
        if me.role not in ("admin", "supervisor"):
            raise NotAllowed(_("only an admin or a supervisor may read seals ('{login}' is {role})").format(login=actor,
                                                                                                   role=me.role))
        row = uow.repo.latest_seal()
    return Seal.from_row(row) if row else None
