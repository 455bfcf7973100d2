"""The queries behind seals, the organisation chain, key fingerprints and ``verify``'s streaming reads.

A mixin of ``Repository`` (so every use case reaches them through ``uow.repo``), kept apart because they
serve one concern: proving the history. Streams read in keyset pages, never the whole table at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update

from indsats.storage.models import (
    case_counters,
    cases,
    events,
    key_fingerprints,
    metadata,
    org_events,
    reminders,
    seal_heads,
    seals,
)

from indsats.storage.repositories.base import Queries, Row, dumps, event_row
# The reminder columns a case's events prove (verify's ``reminder_breaks`` and ``case_deadline_breaks``).
_CHECKED_REMINDER_COLUMNS = ("id", "case_id", "state", "entry_seq", "level", "kind", "due_at", "status", "deadline")
GENESIS = "0" * 64  # the previous hash of a chain's first event (as in indsats.engine.log.events)


class IntegrityQueries(Queries):
    """Seals, the organisation chain and key fingerprints (mixed into ``Repository``)."""

    # -- the organisation chain ----------------------------------------------------------------------

    def org_chain_head(self, *, lock: bool = False) -> tuple[int, str]:
        """(seq, hash) of the newest organisation event; (0, GENESIS) for none. ``lock`` serialises writers."""
        if lock and self.is_postgresql:
            # One chain: writers queue on a transaction-scoped advisory lock instead of a head row.
            self.conn.execute(text("SELECT pg_advisory_xact_lock(7011)"))
        row = self.conn.execute(
            select(org_events.c.seq, org_events.c.hash).order_by(org_events.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def insert_org_event(self, values: Row) -> None:
        self.conn.execute(insert(org_events).values(**values))

    def iter_org_events(self) -> Iterator[Row]:
        query = select(org_events).order_by(org_events.c.seq)
        for row in self.conn.execute(query.execution_options(yield_per=2000)).mappings():
            values = dict(row)
            try:
                values["payload"] = json.loads(values["payload"])
            except ValueError:
                values["payload"] = {"unreadable": values["payload"]}
            yield values

    def iter_table(self, name: str, key: Iterable[str]) -> Iterator[Row]:
        """Every row of an organisation table (by name), ordered by its key."""
        table = metadata.tables[name]
        query = select(table).order_by(*(table.c[k] for k in key))
        for row in self.conn.execute(query.execution_options(yield_per=2000)).mappings():
            yield dict(row)

    # -- seals -------------------------------------------------------------------------------------

    def lock_events_for_seal(self) -> None:
        """Wait for every transaction writing events to end and hold new ones off until this one ends,
        so the heads read next are exactly the committed ones (SQLite's write transaction already does)."""
        if self.is_postgresql:
            self.conn.execute(text("LOCK TABLE events IN SHARE MODE"))

    def latest_seal(self) -> Row | None:
        row = self.conn.execute(select(seals).order_by(seals.c.seq.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def list_seals(self) -> list[Row]:
        return [dict(r) for r in self.conn.execute(select(seals).order_by(seals.c.seq)).mappings()]

    def insert_seal(self, values: Row) -> None:
        self.conn.execute(insert(seals).values(**values))

    def max_event_id(self) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())

    def heads_changed_since(self, after_id: int, through_id: int) -> list[Row]:
        """(case_id, seq, hash) of the newest event of every case with events in ``(after_id, through_id]``."""
        newest = (
            select(events.c.case_id, func.max(events.c.seq).label("seq"))
            .where(events.c.id > after_id, events.c.id <= through_id)
            .group_by(events.c.case_id)
            .subquery()
        )
        query = select(events.c.case_id, events.c.seq, events.c.hash).join(
            newest, (newest.c.case_id == events.c.case_id) & (newest.c.seq == events.c.seq)
        )
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def upsert_seal_heads(self, rows: list[Row], seal_seq: int) -> None:
        if not rows:
            return
        ids = [r["case_id"] for r in rows]
        for start in range(0, len(ids), 500):
            self.conn.execute(delete(seal_heads).where(seal_heads.c.case_id.in_(ids[start : start + 500])))
        self.conn.execute(insert(seal_heads), [{**r, "seal_seq": seal_seq} for r in rows])

    def iter_seal_heads(self) -> Iterator[Row]:
        """Every sealed head, in case-id order (byte order on both databases: the Merkle leaves' order)."""
        return self._pages(seal_heads, seal_heads.c.case_id)

    def case_counter_map(self) -> dict[str, int]:
        return {f"{r.prefix}-{r.year}": int(r.last_number) for r in self.conn.execute(select(case_counters))}

    # -- verify's streams ----------------------------------------------------------------------------

    def iter_case_pages(self, size: int = 1000) -> Iterator[list[Row]]:
        """Every case, a page at a time, in id order (bytewise on PostgreSQL too: ``COLLATE "C"``)."""
        key = 'id COLLATE "C"' if self.is_postgresql else "id"
        page = self._driver_rows("cases", f"SELECT * FROM cases ORDER BY {key} LIMIT ?", [size])  # noqa: S608
        while page:
            yield page
            if len(page) < size:
                return
            page = self._driver_rows(  # noqa: S608 (no value in the text)
                "cases", f"SELECT * FROM cases WHERE {key} > ? ORDER BY {key} LIMIT ?", [page[-1]["id"], size])

    def events_of(self, case_ids: list[str]) -> dict[str, list[Row]]:
        found: dict[str, list[Row]] = {c: [] for c in case_ids}
        rows = self._driver_rows(  # noqa: S608 (only placeholders in the text)
            "events", f"SELECT * FROM events WHERE case_id IN ({', '.join('?' * len(case_ids))}) ORDER BY case_id, seq",
            case_ids)
        for row in rows:
            found[row["case_id"]].append(event_row(row))
        return found

    def reminders_of(self, case_ids: list[str]) -> dict[str, list[Row]]:
        """The reminder rows of these cases, by id, with the columns verify checks (not the sweep's own)."""
        found: dict[str, list[Row]] = {c: [] for c in case_ids}
        rows = self._driver_rows(  # noqa: S608 (only placeholders in the text)
            "reminders", f"SELECT {', '.join(_CHECKED_REMINDER_COLUMNS)} FROM reminders "
            f"WHERE case_id IN ({', '.join('?' * len(case_ids))}) ORDER BY id", case_ids)
        for row in rows:
            found[row["case_id"]].append(row)
        return found

    def seal_heads_of(self, case_ids: list[str]) -> dict[str, Row]:
        rows = self._driver_rows(  # noqa: S608 (only placeholders in the text)
            "seal_heads", f"SELECT * FROM seal_heads WHERE case_id IN ({', '.join('?' * len(case_ids))})", case_ids)
        return {r["case_id"]: r for r in rows}

    def _driver_rows(self, table: str, sql: str, params: list[Any]) -> list[Row]:
        """A query over one table on the driver connection of this transaction, its rows typed as SQLAlchemy
        would type them (``hot.TYPES``): verify reads every row, and SQLAlchemy's row layer cost more than
        checking them."""
        from indsats.storage.hot import Driver

        driver = Driver(sqlite=not self.is_postgresql)
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(driver.sql(sql), params)
            columns = [d[0] for d in cursor.description]
            convert = [(columns[i], fn) for i, fn in driver.reader(table, columns)]
            found = []
            for values in cursor.fetchall():
                row = dict(zip(columns, values, strict=True))
                for name, fn in convert:
                    if row[name] is not None:
                        row[name] = fn(row[name])
                found.append(row)
            return found
        finally:
            cursor.close()

    def orphans(self) -> dict[str, list[str]]:
        """Case ids that events, reminders or sealed heads name but no case row holds (at most 100 each)."""
        found: dict[str, list[str]] = {}
        for name, table in (("events", events), ("reminders", reminders), ("seal_heads", seal_heads)):
            query = (
                select(table.c.case_id).where(table.c.case_id.not_in(select(cases.c.id))).distinct()
                .order_by(table.c.case_id).limit(100)
            )
            found[name] = list(self.conn.execute(query).scalars())
        return found

    def case_numbers(self, prefix: str) -> list[int]:
        """The numbers of the cases whose id is ``PREFIX-NNNN`` (``prefix`` holds the plan prefix and year)."""
        query = select(cases.c.id).where(cases.c.id.like(f"{prefix}-%"))
        numbers = []
        for case_id in self.conn.execute(query).scalars():
            tail = case_id[len(prefix) + 1 :]
            if tail.isdigit():
                numbers.append(int(tail))
        return numbers

    # -- key rotation ----------------------------------------------------------------------------------

    def encrypted_case_ids(self) -> list[str]:
        query = select(cases.c.id).where(cases.c.subject_ref.is_not(None)).order_by(cases.c.id)
        return list(self.conn.execute(query).scalars())

    def sealed_event_ids(self, *, after: int = 0) -> list[int]:
        query = select(events.c.id).where(events.c.payload.like('%"sealed":%'), events.c.id > after).order_by(events.c.id)
        return [int(i) for i in self.conn.execute(query).scalars()]

    def set_event_payloads(self, changes: list[tuple[int, dict[str, Any]]]) -> None:
        """Replace several events' stored payloads in one statement."""
        if changes:
            query = update(events).where(events.c.id == bindparam("event_key")).values(payload=bindparam("new_payload"))
            self.conn.execute(query, [{"event_key": i, "new_payload": dumps(p)} for i, p in changes])

    def encrypted_subjects(self, case_ids: list[Any] | None) -> list[tuple[str, str]]:
        """(case id, sealed subject reference) of these cases (None: every case holding one)."""
        query = select(cases.c.id, cases.c.subject_ref).where(cases.c.subject_ref.is_not(None))
        if case_ids is not None:
            query = query.where(cases.c.id.in_(case_ids))
        return [(str(r[0]), str(r[1])) for r in self.conn.execute(query)]

    def count_events(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(events)).scalar_one())

    def _pages(self, table: Any, key: Any, size: int = 2000) -> Iterator[Row]:
        """Rows in ``key`` order by keyset pages, compared bytewise on PostgreSQL too (``COLLATE "C"``)."""
        ordered = key.collate("C") if self.is_postgresql else key
        last: str | None = None
        while True:
            query = select(table).order_by(ordered).limit(size)
            if last is not None:
                query = query.where(ordered > last)
            rows = [dict(r) for r in self.conn.execute(query).mappings()]
            yield from rows
            if len(rows) < size:
                return
            last = rows[-1][key.name]

    # -- key fingerprints ------------------------------------------------------------------------------

    def key_fingerprints(self, *, lock: bool = False) -> dict[str, str]:
        """status → fingerprint ('current', and 'next' while a rotation runs); ``lock``: FOR SHARE (PostgreSQL)."""
        query = select(key_fingerprints).where(key_fingerprints.c.status.in_(["current", "next"]))
        if lock and self.is_postgresql:
            query = query.with_for_update(read=True)
        return {r.status: r.fingerprint for r in self.conn.execute(query)}

    def drop_key_fingerprint(self, status: str) -> None:
        self.conn.execute(delete(key_fingerprints).where(key_fingerprints.c.status == status))

    def sealed_sample(self) -> str | None:
        """One encrypted subject reference, if any is stored (to test a key against)."""
        query = select(cases.c.subject_ref).where(cases.c.subject_ref.is_not(None)).limit(1)
        return self.conn.execute(query).scalar_one_or_none()

    def set_key_fingerprint(self, fingerprint: str, status: str, since: Any) -> None:
        done = self.conn.execute(
            update(key_fingerprints).where(key_fingerprints.c.fingerprint == fingerprint).values(status=status, since=since)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(key_fingerprints).values(fingerprint=fingerprint, status=status, since=since))

    def has_sealed_data(self) -> bool:
        """Whether anything encrypted is stored (a subject reference or a sealed payload)."""
        query = select(cases.c.id).where(cases.c.subject_ref.is_not(None)).limit(1)
        if self.conn.execute(query).first() is not None:
            return True
        return self.conn.execute(select(events.c.id).where(events.c.payload.like('%"sealed":%')).limit(1)).first() is not None
