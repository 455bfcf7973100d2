"""Reminders: the rows a state visit plans, claimed by sweeps under a lease and marked when delivered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from indsats.engine.reminders.reminder import Reminder
from indsats.storage.models import reminders
from indsats.storage.repositories.base import Queries, Row, by_columns

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

_INSERT_REMINDERS = insert(reminders)
_CANCEL_PENDING = (
    update(reminders)
    .where(
        reminders.c.case_id == bindparam("cid"),
        reminders.c.status.in_(("pending", "held")),
        reminders.c.kind != "acute",
        reminders.c.deadline.is_(None),  # case deadlines run on while the case moves
    )
    .values(status="cancelled", claimed_by=None, lease_until=None)
)
_CANCEL_ALL = (
    update(reminders)
    .where(reminders.c.case_id == bindparam("cid"), reminders.c.status.in_(("pending", "held")),
           reminders.c.kind != "acute")
    .values(status="cancelled", claimed_by=None, lease_until=None)
)



def _due(now: datetime) -> ColumnElement[bool]:
    """What a sweep may claim at ``now``: pending, its next attempt due, and nobody's lease still running."""
    return and_(
        reminders.c.status == "pending",
        reminders.c.next_attempt_at <= now,
        or_(reminders.c.lease_until.is_(None), reminders.c.lease_until < now),
    )


class ReminderRepository(Queries):
    """Planned, claimed and delivered reminders."""

    def insert_reminders(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if rows:
            self.conn.execute(_INSERT_REMINDERS, rows)

    def cancel_pending(self, case_id: str, *, closing: bool = False, outliving: Iterable[str] = ()) -> int:
        """Cancel the pending (or held) reminders of a case that leaves its state (acute alerts still go out);
        a case deadline's reminders only when the case closes (``closing``), and never those of the case
        deadlines named in ``outliving`` (duties that may still be met after closing)."""
        if not closing:
            return int(self.conn.execute(_CANCEL_PENDING, {"cid": case_id}).rowcount)
        keep = sorted(set(outliving))
        if not keep:
            return int(self.conn.execute(_CANCEL_ALL, {"cid": case_id}).rowcount)
        statement = _CANCEL_ALL.where(or_(reminders.c.deadline.is_(None), reminders.c.deadline.not_in(keep)))
        return int(self.conn.execute(statement, {"cid": case_id}).rowcount)

    def cancel_reminders(self, reminder_ids: Iterable[int]) -> None:
        """Cancel these reminders, if still pending (or held)."""
        ids = sorted(set(reminder_ids))
        if ids:
            self.conn.execute(
                update(reminders)
                .where(reminders.c.id.in_(ids), reminders.c.status.in_(("pending", "held")))
                .values(status="cancelled", claimed_by=None, lease_until=None)
            )

    def reminders_for(self, case_id: str) -> list[Reminder]:
        query = select(reminders).where(reminders.c.case_id == case_id).order_by(reminders.c.id)
        return [Reminder.from_row(r) for r in self.conn.execute(query).mappings()]

    def reminders_of_cases(self, case_ids: Iterable[str]) -> dict[str, list[Reminder]]:
        """Every reminder row of these cases (any status), by case id, each case's in id order (as ``reminders_for``)."""
        ids = sorted(set(case_ids))
        found: dict[str, list[Reminder]] = {}
        if ids:
            query = select(reminders).where(reminders.c.case_id.in_(ids)).order_by(reminders.c.case_id, reminders.c.id)
            for r in self.conn.execute(query).mappings():
                found.setdefault(r["case_id"], []).append(Reminder.from_row(r))
        return found

    def claim_due(self, *, now: datetime, limit: int, worker: str, lease_until: datetime) -> list[Reminder]:
        """Claim up to ``limit`` pending reminders due by ``now`` whose lease (if any) has run out.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several workers claim disjoint batches at once.
        SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        """
        query = select(reminders.c.id).where(_due(now)).order_by(reminders.c.next_attempt_at, reminders.c.id).limit(limit)
        if self.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        ids = list(self.conn.execute(query).scalars())
        if not ids:
            return []
        self.conn.execute(
            update(reminders).where(reminders.c.id.in_(ids)).values(claimed_by=worker, lease_until=lease_until)
        )
        query = select(reminders).where(reminders.c.id.in_(ids)).order_by(reminders.c.next_attempt_at, reminders.c.id)
        return [Reminder.from_row(r) for r in self.conn.execute(query).mappings()]

    def due_reminders(self, *, now: datetime, limit: int | None = None) -> list[Reminder]:
        """What a sweep would claim now, without claiming it (for --dry-run)."""
        query = select(reminders).where(_due(now)).order_by(reminders.c.next_attempt_at, reminders.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [Reminder.from_row(r) for r in self.conn.execute(query).mappings()]

    def due_summary(self, *, now: datetime) -> tuple[int, datetime | None]:
        """How many pending reminders are due at ``now``, and the earliest attempt time among them."""
        query = select(func.count(), func.min(reminders.c.next_attempt_at)).where(
            reminders.c.status == "pending", reminders.c.next_attempt_at <= now
        )
        count, oldest = self.conn.execute(query).one()
        return int(count), oldest

    def update_reminder(self, reminder_id: int, values: Row, *, claimed_by: str | None = None) -> bool:
        """Update a reminder; with ``claimed_by``, only while that worker still holds its claim."""
        where = reminders.c.id == reminder_id
        if claimed_by is not None:
            where = and_(where, reminders.c.claimed_by == claimed_by, reminders.c.status == "pending")
        return self.conn.execute(update(reminders).where(where).values(**values)).rowcount == 1

    def failed_reminder_counts(self, case_ids: Iterable[str]) -> dict[str, int]:
        """How many reminders of each case failed to deliver (cases without any are left out)."""
        ids = list(case_ids)
        if not ids:
            return {}
        query = (
            select(reminders.c.case_id, func.count())
            .where(reminders.c.case_id.in_(ids), reminders.c.status == "failed")
            .group_by(reminders.c.case_id)
        )
        return {case_id: int(n) for case_id, n in self.conn.execute(query)}

    def held_reminders(self, reminder_ids: Iterable[int], *, worker: str) -> set[int]:
        """Which of these reminders ``worker`` still holds (claimed, pending); locked until the transaction ends."""
        ids = sorted(set(reminder_ids))
        if not ids:
            return set()
        query = select(reminders.c.id).where(
            reminders.c.id.in_(ids), reminders.c.claimed_by == worker, reminders.c.status == "pending"
        )
        if self.is_postgresql:
            query = query.with_for_update()
        return set(self.conn.execute(query).scalars())

    def mark_sent(self, rows: Iterable[tuple[int, str, str | None]], *, sent_at: datetime, worker: str) -> None:
        """Mark reminders held by ``worker`` sent at ``sent_at``: each row is (id, recipients as JSON, last error)."""
        self.mark_reminders(
            ({"id": rid, "status": "sent", "sent_at": sent_at, "attempts": reminders.c.attempts + 1,
              "claimed_by": None, "lease_until": None, "recipients": recipients, "last_error": error}
             for rid, recipients, error in rows), worker=worker)

    def mark_reminders(self, rows: Iterable[Row], *, worker: str) -> None:
        """Update several reminders held by ``worker``: each row holds ``id`` and the columns to set.

        The claim stays in the WHERE clause; callers check which rows are still held first
        (``held_reminders``), since executemany gives no row count per row on every driver.
        """
        for columns, group in by_columns(rows, "id").items():
            query = update(reminders).where(
                reminders.c.id == bindparam("reminder_key"),
                reminders.c.claimed_by == bindparam("worker_key"),
                reminders.c.status == "pending",
            )
            self.conn.execute(
                query, [{"reminder_key": r["id"], "worker_key": worker, **{c: r[c] for c in columns}} for r in group]
            )
