"""The organisation chain: every change to users and grants, one hash-chained event each (who changed
what, when), so ``verify`` can replay the ``users`` table (and any other organisation table) from it and a
seal can cover its head.

One chain for the whole organisation: changes to people are rare, so one head row is no bottleneck.
Each event says that one row of one table now holds some values, or was removed::

    record_org_change(repo, at=now, actor="admin", kind="user_changed",
                      table="users", key={"login": "lea"}, values={"role": "leder"})
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from indsats.engine.log.events import GENESIS
from indsats.engine.log.canonical import canonical_json

if TYPE_CHECKING:
    from indsats.storage.repository import Repository

# The organisation tables verify replays, with the columns that identify a row. A new table whose every
# change goes through ``record_org_change`` is added here (and verify then checks it too).
ORG_TABLES: dict[str, tuple[str, ...]] = {"users": ("login",), "grants": ("login", "plan_id", "role")}


@dataclass(frozen=True, kw_only=True)
class OrgEvent:
    """One sealed change to the organisation."""

    seq: int
    kind: str
    at: datetime
    actor: str | None
    target: str
    payload: dict[str, Any]
    payload_digest: str
    prev_hash: str
    hash: str

    def as_row(self) -> dict[str, Any]:
        return {**self.__dict__, "payload": canonical_json(self.payload)}


def record_org_change(
    repo: Repository,
    *,
    at: datetime,
    actor: str | None,
    kind: str,
    table: str,
    key: dict[str, Any],
    values: dict[str, Any] | None = None,
    removed: bool = False,
    os_login: str | None = None,
) -> OrgEvent:
    """Append one change to the organisation chain, in the caller's transaction. THE way every writer of
    ``users`` (and of any table in ``ORG_TABLES``, e.g. grants) records what it changed; call it right
    after the row is written, in the same unit of work.

    :param actor: the login that made the change (None for the system, e.g. ``init``).
    :param kind: what happened, in words a person reads in the log: ``user_added``, ``user_changed``,
        ``user_deactivated``, ``grant_added``, ``grant_revoked``, ``deputy_set``, ``handover``, …
    :param table: the table changed; verify replays it only if it is in ``ORG_TABLES``.
    :param key: the columns that identify the row (``{"login": "lea"}``).
    :param values: the columns the row now holds that changed (for a new row: every column). Datetimes
        and dates are stored as ISO text; verify compares them the same way.
    :param removed: the row was deleted (``values`` is then ignored).
    :param os_login: the OS login running the command; recorded beside the actor (under the chain) when it
        is not the actor (``INDSATS_USER`` in direct mode), as for a case's events.
    :return: the sealed event (its ``seq`` and ``hash`` are the chain's new head).
    """
    payload: dict[str, Any] = {"table": table, "key": _plain(key)}
    if removed:
        payload["removed"] = True
    else:
        payload["values"] = _plain(values or {})
    if os_login and actor and os_login != actor:
        payload["os_login"] = os_login
    head = repo.org_chain_head(lock=True)
    seq = head[0] + 1
    at = at.replace(microsecond=0)
    target = "/".join(str(key[k]) for k in sorted(key))
    payload_digest = _digest(payload)
    event = OrgEvent(
        seq=seq, kind=kind, at=at, actor=actor, target=target, payload=payload, payload_digest=payload_digest,
        prev_hash=head[1], hash=org_hash(prev_hash=head[1], seq=seq, kind=kind, at=at, actor=actor, target=target,
                                         payload_digest=payload_digest),
    )
    repo.insert_org_event(event.as_row())
    return event


def org_hash(
    *, prev_hash: str, seq: int, kind: str, at: datetime, actor: str | None, target: str, payload_digest: str
) -> str:
    header = canonical_json(["org", prev_hash, seq, kind, at.isoformat(), actor, target, payload_digest])
    return hashlib.sha256(header.encode("utf-8")).hexdigest()


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def plain_value(value: Any) -> Any:
    """A column value as the chain records it: datetimes and dates as ISO text."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: plain_value(v) for k, v in values.items()}


# -- checking -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrgReplay:
    """What the organisation chain says: its head, and every row of each replayed table."""

    seq: int
    hash: str
    events: int
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]]
    hashes: list[str]  # each event's hash, in seq order (what a seal's organisation head is checked against)


def replay_org(stored: Iterable[dict[str, Any]], problems: list[str]) -> OrgReplay:
    """Check the chain (appending each break to ``problems``) and replay the tables it covers."""
    prev, expected, n = GENESIS, 1, 0
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in ORG_TABLES}
    last_seq = 0
    hashes: list[str] = []
    for row in stored:
        n += 1
        hashes.append(row["hash"])
        where = f"organisation event {row['seq']}"
        if row["seq"] != expected:
            problems.append(f"{where}: expected event {expected} (an organisation event was removed or reordered)")
        payload = row["payload"]
        if _digest(payload) != row["payload_digest"]:
            problems.append(f"{where}: payload does not match its digest (edited)")
        if row["prev_hash"] != prev:
            problems.append(f"{where}: does not follow the previous event (removed, inserted or reordered)")
        recomputed = org_hash(prev_hash=row["prev_hash"], seq=row["seq"], kind=row["kind"], at=row["at"],
                              actor=row["actor"], target=row["target"], payload_digest=row["payload_digest"])
        if recomputed != row["hash"]:
            problems.append(f"{where}: hash does not match its contents (edited)")
        prev, expected, last_seq = row["hash"], row["seq"] + 1, row["seq"]
        table = payload.get("table") if isinstance(payload, dict) else None
        if table in rows:
            columns = ORG_TABLES[table]
            key_values = payload.get("key") or {}
            key = tuple(key_values.get(c) for c in columns)
            if payload.get("removed"):
                rows[table].pop(key, None)
            else:
                rows[table].setdefault(key, dict(key_values)).update(payload.get("values") or {})
    return OrgReplay(seq=last_seq, hash=prev, events=n, rows=rows, hashes=hashes)


def table_breaks(table: str, replayed: dict[tuple[Any, ...], dict[str, Any]], actual: Iterator[dict[str, Any]]) -> list[str]:
    """Every row of ``table`` that is not what the organisation chain says, by key and column."""
    columns = ORG_TABLES[table]
    problems: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for row in actual:
        key = tuple(row[c] for c in columns)
        seen.add(key)
        name = "/".join(str(k) for k in key)
        expected = replayed.get(key)
        if expected is None:
            problems.append(f"{table} {name}: not in the organisation chain (inserted by hand)")
            continue
        for column, value in sorted(row.items()):
            if column in expected and plain_value(value) != expected[column]:
                problems.append(
                    f"{table} {name}: '{column}' is {plain_value(value)!r} but the organisation chain says "
                    f"{expected[column]!r}"
                )
    for key in sorted(set(replayed) - seen, key=str):
        problems.append(f"{table} {'/'.join(str(k) for k in key)}: in the organisation chain but missing (removed)")
    return problems
