"""Checking the seals: each one's signature (public key only), the chain of seals, the seal file against
the database, and the latest seal's sealed heads against its Merkle root.

How verify knows a seal was removed: seals are numbered and each names the digest of the one before, so
a seal taken from the middle breaks the chain; one taken from the end (or all of them) is still in the
seal file (and its copies elsewhere), which must hold no seal the database lacks or holds differently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import GENESIS
from indsats.engine.log.seals import Seal, sealed_heads_root

if TYPE_CHECKING:
    from indsats.engine.log.signing import SealVerifier


@dataclass(frozen=True, kw_only=True)
class SealState:
    """The latest seal that verifies (None before the first), and whether the seals could be checked."""

    latest: Seal | None
    content: dict[str, Any]
    signatures_checked: bool
    count: int


def check_seals(
    rows: list[dict[str, Any]], file_records: list[dict[str, Any]], verifier: SealVerifier | None, problems: list[str]
) -> SealState:
    """Append every broken seal to ``problems``; return the latest seal the checks leave standing."""
    stored = [Seal.from_row(r) for r in rows]
    prev, expected = GENESIS, 1
    latest: Seal | None = None
    for seal in stored:
        where = f"seal {seal.seq}"
        if seal.seq != expected:
            problems.append(f"{where}: expected seal {expected} (seal {expected} was removed)")
        ok = True
        try:
            content = seal.content
        except ValueError:
            problems.append(f"{where}: its body is not JSON (edited)")
            prev, expected = seal.digest, seal.seq + 1
            continue
        if verifier is not None:
            if not verifier.verify(seal.body.encode("utf-8"), seal.signature):
                problems.append(f"{where}: the signature does not verify under key {verifier.key_id} (edited or forged)")
                ok = False
        if content.get("seq") != seal.seq:
            problems.append(f"{where}: its body says seal {content.get('seq')} (edited)")
            ok = False
        if content.get("prev") != prev:
            problems.append(f"{where}: does not follow seal {seal.seq - 1} (a seal was removed or edited)")
        if ok:
            latest = seal
        prev, expected = seal.digest, seal.seq + 1
    by_seq = {s.seq: s for s in stored}
    for record in file_records:
        if "unreadable" in record or "body" not in record:
            problems.append("seal file: a line is not a seal (edited)")
            continue
        seq = int(record.get("seq", 0))
        held = by_seq.get(seq)
        if verifier is not None and not verifier.verify(str(record["body"]).encode("utf-8"), str(record.get("signature", ""))):
            problems.append(f"seal file: seal {seq} does not verify under key {verifier.key_id} (edited or forged)")
            continue
        if held is None:
            problems.append(f"seal {seq}: in the seal file but not in the database (removed)")
        elif held.body != record["body"] or held.signature != record.get("signature"):
            problems.append(f"seal {seq}: differs from the seal file (edited)")
    return SealState(
        latest=latest, content=latest.content if latest else {}, signatures_checked=verifier is not None,
        count=len(stored),
    )


def heads_breaks(state: SealState, heads: Iterable[dict[str, Any]]) -> list[str]:
    """The sealed heads against the latest seal's root, count and events."""
    if state.latest is None:
        return []
    root, n, events = sealed_heads_root(heads)
    content = state.content
    if (root, n, events) == (content.get("root"), content.get("cases"), content.get("events")):
        return []
    return [
        f"seal {state.latest.seq}: the sealed chain heads do not match its root ({n} case(s), {events} event(s) now; "
        f"sealed {content.get('cases')} case(s), {content.get('events')} event(s)): sealed heads were edited or removed"
    ]


def head_breaks(seal_seq: int, case_id: str, head: dict[str, Any] | None, hashes: list[str]) -> list[str]:
    """One case's chain against the head the seal covered (``hashes``: its events' hashes in seq order)."""
    if head is None:
        return []
    seq = int(head["seq"])
    if len(hashes) < seq:
        return [f"case {case_id}: seal {seal_seq} covered {seq} event(s), {len(hashes)} remain (events removed after the seal)"]
    if hashes[seq - 1] != head["hash"]:
        return [f"case {case_id}: event {seq} is not the one seal {seal_seq} covered (its history was rewritten after the seal)"]
    return []


def counter_breaks(state: SealState, counters: dict[str, int]) -> list[str]:
    if state.latest is None:
        return []
    problems = []
    for key, sealed in sorted((state.content.get("counters") or {}).items()):
        now = counters.get(key)
        if now is None or now < sealed:
            problems.append(
                f"case counter {key}: is {now if now is not None else 'missing'} but seal {state.latest.seq} counted "
                f"{sealed} (cases or the counter removed)"
            )
    return problems
