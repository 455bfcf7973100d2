"""``verify``: replay every chain (each case's and the organisation's) and check every stored row against
it: the ``cases`` columns, the reminder rows of open cases, the users, the step report's day rows against the
visits and escalations they add up; then check the log against the
latest seal (public key only) and say how much is not sealed yet. Reads in pages, never every case at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import Event, EventKind, chain_breaks
from indsats.engine.log.org_chain import ORG_TABLES, replay_org, table_breaks
from indsats.engine.log.projection import (
    case_deadline_breaks, projection_breaks, reminder_breaks, replay, subject_breaks,
)
from indsats.engine.log.seal_check import SealState, check_seals, counter_breaks, head_breaks, heads_breaks
from indsats.engine.privacy.crypto import SEALED, open_payload
from indsats.errors import IndsatsError, NotAllowed

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.ports import SealLog
    from indsats.engine.privacy.crypto import Cipher
    from indsats.storage.repository import Repository

__all__ = ["VerifyReport", "projection_breaks", "replay", "verify"]

_KINDS = frozenset(k.value for k in EventKind)


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    cases: int
    events: int
    problems: list[str] = field(default_factory=list)
    unchecked_payloads: int = 0  # sealed payloads whose digest could not be checked without the key
    unchecked_subject_refs: int = 0  # subject references that could not be compared without the key
    org_events: int = 0
    seal: int | None = None  # the latest seal checked against (None: no seal yet)
    sealed_at: Any = None
    seals_checked: bool = False  # False: no public key, so no signature could be checked
    unsealed_events: int = 0  # case events written since the latest seal (all of them before the first)
    unsealed_cases: int = 0  # cases with events since the latest seal
    unsealed_org_events: int = 0
    seal_file_seals: int = 0  # seals in the seal file compared with (fewer than the database: the newest unguarded)
    seals_in_database: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        """Whether everything was checked: no payload left unopened, the seals' signatures checked."""
        return not self.unchecked_payloads and not self.unchecked_subject_refs and self.seals_checked


def verify(ctx: Context, *, seal_file: SealLog | None = None) -> VerifyReport:
    """Check everything; ``seal_file``: a copy of the seal file to compare with (default: the configured one)."""
    problems: list[str] = []
    cipher = ctx.keys.optional()
    verifier = ctx.signing.verifier()
    log = seal_file or ctx.seal_log
    tally = {"cases": 0, "events": 0, "payloads": 0, "subjects": 0, "unsealed": 0, "unsealed_cases": 0}
    with ctx.db.unit_of_work() as uow:
        repo = uow.repo
        file_records = log.read() if log else []
        seals = check_seals(repo.list_seals(), file_records, verifier, problems)
        problems.extend(heads_breaks(seals, repo.iter_seal_heads()))
        org = replay_org(repo.iter_org_events(), problems)
        for table, key in ORG_TABLES.items():
            problems.extend(table_breaks(table, org.rows[table], repo.iter_table(table, key)))
        problems.extend(_org_seal_breaks(seals, org.hashes))
        counts: dict[str, int] = {}
        for page in repo.iter_case_pages():
            _check_page(ctx, repo, page, seals, cipher, problems, tally, counts)
        problems.extend(_orphan_breaks(repo, seals))
        counters = repo.case_counter_map()
        problems.extend(counter_breaks(seals, counters))
        problems.extend(_gap_breaks(repo, seals, counters, counts))
        problems.extend(_key_breaks(repo, cipher))
        problems.extend(repo.day_row_breaks())  # the step report's sums per day, against what they count
    sealed_org = int((seals.content.get("org") or {}).get("seq", 0))
    return VerifyReport(
        cases=tally["cases"], events=tally["events"], problems=problems, unchecked_payloads=tally["payloads"],
        unchecked_subject_refs=tally["subjects"], org_events=org.events,
        seal=seals.latest.seq if seals.latest else None, sealed_at=seals.latest.at if seals.latest else None,
        seals_checked=seals.signatures_checked or seals.latest is None and not seals.count,
        unsealed_events=tally["unsealed"], unsealed_cases=tally["unsealed_cases"],
        unsealed_org_events=max(org.events - sealed_org, 0),
        seal_file_seals=len(file_records), seals_in_database=seals.count,
    )


def _check_page(
    ctx: Context,
    repo: Repository,
    page: list[dict[str, Any]],
    seals: SealState,
    cipher: Cipher | None,
    problems: list[str],
    tally: dict[str, int],
    counts: dict[str, int],
) -> None:
    ids = [c["id"] for c in page]
    events_by_case = repo.events_of(ids)
    reminders_by_case = repo.reminders_of(ids)
    heads = repo.seal_heads_of(ids) if seals.latest else {}
    for case in page:
        case_id = case["id"]
        prefix, _, number = case_id.rpartition("-")
        counts[prefix] = counts.get(prefix, 0) + 1
        tally["cases"] += 1
        raw = events_by_case.get(case_id, [])
        tally["events"] += len(raw)
        head = heads.get(case_id)
        sealed_seq = int(head["seq"]) if head else 0
        if len(raw) > sealed_seq:
            tally["unsealed"] += len(raw) - sealed_seq
            tally["unsealed_cases"] += 1
        if seals.latest is not None:
            problems.extend(head_breaks(seals.latest.seq, case_id, head, [r["hash"] for r in raw]))
        if not raw:
            problems.append(f"case {case_id}: has no events (its history was removed)")
            continue
        odd = [r for r in raw if r["kind"] not in _KINDS]
        if odd:
            problems.append(f"case {case_id} event {odd[0]['seq']}: unknown kind '{odd[0]['kind']}' (edited)")
            continue
        skipped: list[int] = []
        events = [Event.from_row({**r, "payload": _plain(r["payload"], cipher, skipped)}) for r in raw]
        tally["payloads"] += len(skipped)
        problems.extend(chain_breaks(events))
        try:
            plan = ctx.catalog.pinned(repo, case["plan_id"], case["plan_version"])
        except IndsatsError:
            problems.append(f"case {case_id}: plan '{case['plan_id']}' version {case['plan_version']} is not stored (removed or edited)")
            continue
        problems.extend(projection_breaks(plan, case, events))
        found, unchecked = subject_breaks(case, events, cipher)
        problems.extend(found)
        tally["subjects"] += unchecked
        problems.extend(reminder_breaks(plan, case, events, reminders_by_case.get(case_id, [])))
        problems.extend(case_deadline_breaks(plan, case, events, reminders_by_case.get(case_id, [])))


def _org_seal_breaks(seals: SealState, hashes: list[str]) -> list[str]:
    if seals.latest is None:
        return []
    sealed = seals.content.get("org") or {}
    seq = int(sealed.get("seq", 0))
    if seq == 0:
        return []
    if len(hashes) < seq:
        return [f"organisation chain: seal {seals.latest.seq} covered {seq} event(s), {len(hashes)} remain (removed after the seal)"]
    if hashes[seq - 1] != sealed.get("hash"):
        return [f"organisation chain: event {seq} is not the one seal {seals.latest.seq} covered (rewritten after the seal)"]
    return []


def _orphan_breaks(repo: Repository, seals: SealState) -> list[str]:
    orphans = repo.orphans()
    problems = [f"case {c}: events exist but the case row is missing" for c in orphans["events"]]
    problems += [f"case {c}: reminders exist but the case row is missing" for c in orphans["reminders"]
                 if c not in orphans["events"]]
    if seals.latest is not None:
        problems += [f"case {c}: sealed by seal {seals.latest.seq} but the case row is missing (removed)"
                     for c in orphans["seal_heads"] if c not in orphans["events"]]
    return problems


def _gap_breaks(repo: Repository, seals: SealState, counters: dict[str, int], counts: dict[str, int]) -> list[str]:
    """Case numbers are handed out in the transaction that opens the case: a number without a case is a
    removed case. Counted per prefix and year; only a prefix that does not add up is listed by number."""
    sealed = seals.content.get("counters") or {}
    problems: list[str] = []
    for key in sorted(set(counters) | set(sealed)):
        last = max(counters.get(key, 0), int(sealed.get(key, 0)))
        if counts.get(key, 0) >= last:
            continue
        present = set(repo.case_numbers(key))
        for number in range(1, last + 1):
            if number not in present:
                problems.append(f"case {key}-{number:04d}: was opened but is missing (removed)")
    return problems


def _key_breaks(repo: Repository, cipher: Cipher | None) -> list[str]:
    """The fingerprint the database records against the data it holds."""
    current = repo.key_fingerprints().get("current")
    sample = repo.sealed_sample()
    if current is None:
        return ["key fingerprints: none recorded, yet the database holds encrypted data (removed)"] if sample else []
    if cipher is not None and sample is not None and current not in cipher.fingerprints:
        try:
            cipher.open(sample)
        except NotAllowed:
            return []  # another key altogether: the subject checks say what does not open
        return [f"key fingerprints: the data opens under key {cipher.fingerprint}, but the database says {current} (edited)"]
    return []


def _plain(stored: dict[str, Any] | None, cipher: Cipher | None, skipped: list[int]) -> dict[str, Any] | None:
    """The payload the digest covers; without the key a sealed payload is left unchecked (the chain still is)."""
    if not stored or SEALED not in stored:
        return stored
    if cipher is None:
        skipped.append(1)
        return None
    try:
        return open_payload(stored, cipher)
    except (NotAllowed, ValueError):
        return {"unopenable": stored[SEALED]}  # edited ciphertext: the digest check reports it
