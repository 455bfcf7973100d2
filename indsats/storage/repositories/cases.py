"""Cases: the projection of each case's events (state, deadline, counters, chain head), and the lists read from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, true, update

from indsats.engine.cases.case import Case
from indsats.engine.reminders.reminder import REMINDED_CASE_COLUMNS, RemindedCase
from indsats.storage.models import case_counters, case_deadlines, cases, reminders
from indsats.storage.repositories.base import Queries, Row, by_columns

# An overdue, unpaused open case as the stuck list reads it: id, plan id, plan version, state, opener, unit,
# assignee, escalation level, reminders sent, failed reminders, deadline, last activity, and its place among the
# cases of the same deadline (``overdue_rows``' ``after``: the id, or on SQLite the rowid).
OverdueRow = tuple[str, str, str, str, str, "str | None", "str | None", int, int, int, datetime, datetime, Any]

# Built once: constructing a statement costs more than SQLite running it.
_GET_CASE = select(cases).where(cases.c.id == bindparam("case_id"))
_GET_CASE_LOCKED = _GET_CASE.with_for_update()
# Without .values(), the SET clause comes from the parameters' keys: no statement is built per call.
_UPDATE_CASE = update(cases).where(cases.c.id == bindparam("cid"))
_UPDATE_CASE_CHECKED = _UPDATE_CASE.where(cases.c.version == bindparam("expected"))
_BUMP_VERSION = (
    update(cases)
    .where(cases.c.id == bindparam("cid"), cases.c.version == bindparam("expected"))
    .values(version=bindparam("new_version"), last_activity_at=bindparam("at"))
    .returning(cases.c.last_seq, cases.c.last_hash)
)


def _overdue_page(query: Select[Any], *, at: datetime, after: tuple[datetime, Any] | None, plan_id: str | None,
                  unit: str | None, limit: int | None) -> Select[Any]:
    """``query`` narrowed to the open cases overdue at ``at`` with the stuck list's filters, the keyset page after
    ``after`` (deadline, id) and the order and limit, as ``CaseRepository.overdue_cases`` describes them."""
    query = query.where(cases.c.is_open == true(), cases.c.deadline < at)
    if after is not None:
        query = query.where(cases.c.deadline >= after[0], or_(cases.c.deadline > after[0], cases.c.id > after[1]))
    if plan_id is not None:
        query = query.where(cases.c.plan_id == plan_id)
    if unit is not None:
        query = query.where(cases.c.unit == unit)
    query = query.order_by(cases.c.deadline, cases.c.id)
    if limit is not None:
        query = query.limit(limit)
    return query


def _closed_owing(query: Select[Any]) -> Select[Any]:
    """``query`` over ``cases`` narrowed to the closed cases with a case deadline not yet met, by id."""
    unmet = select(case_deadlines.c.case_id).where(case_deadlines.c.met_at.is_(None))
    return query.where(cases.c.is_open.is_(False), cases.c.id.in_(unmet)).order_by(cases.c.id)


class CaseRepository(Queries):
    """Queries and updates of the ``cases`` projection."""

    def next_case_number(self, prefix: str, year: int) -> int:
        key = and_(case_counters.c.prefix == prefix, case_counters.c.year == year)
        done = self.conn.execute(
            update(case_counters).where(key).values(last_number=case_counters.c.last_number + 1)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(case_counters).values(prefix=prefix, year=year, last_number=1))
            return 1
        return int(self.conn.execute(select(case_counters.c.last_number).where(key)).scalar_one())

    def insert_case(self, values: Row) -> None:
        self.conn.execute(insert(cases).values(**values))

    def get_case(self, case_id: str, *, lock: bool = False) -> Case | None:
        query = _GET_CASE_LOCKED if lock and self.is_postgresql else _GET_CASE
        row = self.conn.execute(query, {"case_id": case_id}).mappings().first()
        return Case.from_row(row) if row else None

    def bump_version(self, case_id: str, expected_version: int, at: datetime) -> tuple[int, str] | None:
        """Take the case for a change if nobody changed it since ``expected_version``; return its chain head.

        One statement: the version check, the row lock (PostgreSQL) and reading the head together.
        """
        params = {"cid": case_id, "expected": expected_version, "new_version": expected_version + 1, "at": at}
        row = self.conn.execute(_BUMP_VERSION, params).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def update_case(self, case_id: str, values: Row, *, expected_version: int | None = None) -> bool:
        """Update the projection; with ``expected_version``, only if nobody changed the case meanwhile."""
        if not values:
            return True
        if expected_version is None:
            return self.conn.execute(_UPDATE_CASE, {"cid": case_id, **values}).rowcount == 1
        params = {"cid": case_id, "expected": expected_version, **values}
        return self.conn.execute(_UPDATE_CASE_CHECKED, params).rowcount == 1

    def list_cases(
        self,
        *,
        plan_id: str | None = None,
        state: str | None = None,
        is_open: bool | None = None,
        limit: int | None = None,
    ) -> list[Case]:
        query = select(cases).order_by(cases.c.opened_at, cases.c.id)
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        if state is not None:
            query = query.where(cases.c.state == state)
        if is_open is not None:
            query = query.where(cases.c.is_open.is_(is_open))
        if limit is not None:
            query = query.limit(limit)
        return [Case.from_row(r) for r in self.conn.execute(query).mappings()]

    def case_counters(self) -> list[Row]:
        return [dict(r) for r in self.conn.execute(select(case_counters)).mappings()]

    def case_ids(self) -> list[str]:
        return list(self.conn.execute(select(cases.c.id).order_by(cases.c.id)).scalars())

    def overdue_cases(
        self,
        *,
        at: datetime,
        plan_id: str | None = None,
        unit: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[Case]:
        """Open cases whose deadline lies before ``at``, most overdue (earliest deadline) first.

        The shape ``WHERE is_open AND deadline < :at ORDER BY deadline`` is a range scan of
        ``ix_cases_open_deadline``; ``after`` continues from the last (deadline, id) of a batch (keyset).
        The page condition is written ``deadline >= :d AND (deadline > :d OR id > :i)``: its first term
        keeps the range scan starting at ``:d``. The obvious ``deadline > :d OR (deadline = :d AND id > :i)``
        makes SQLite merge two index searches and sort every later row, on every page (1M cases: ~1 s a page).
        """
        query = _overdue_page(select(cases), at=at, after=after, plan_id=plan_id, unit=unit, limit=limit)
        return [Case.from_row(r) for r in self.conn.execute(query).mappings()]

    def overdue_rows(
        self,
        *,
        at: datetime,
        plan_id: str | None = None,
        unit: str | None = None,
        after: tuple[datetime, Any] | None = None,
        limit: int | None = None,
    ) -> list[OverdueRow]:
        """``overdue_cases`` without the paused ones, each case only as the stuck list shows it (``OverdueRow``):
        by deadline, in pages of the same index; how many of its reminders failed counted in the same statement.
        Cases of the same deadline come in the order of their last value (here the id; the hot path's SQLite
        statement orders them by rowid, the index's own order, so SQLite sorts nothing); ``after`` continues
        from the last row's deadline and that value."""
        failed = (
            select(func.count()).select_from(reminders)
            .where(reminders.c.case_id == cases.c.id, reminders.c.status == "failed").scalar_subquery()
        )
        c = cases.c
        query = select(c.id, c.plan_id, c.plan_version, c.state, c.opened_by, c.unit, c.assignee, c.escalation_level,
                       c.reminders_sent, failed, c.deadline, c.last_activity_at, c.id.label("page_key"))
        query = _overdue_page(query.where(c.paused_at.is_(None)), at=at, after=after, plan_id=plan_id, unit=unit,
                              limit=limit)
        return [cast("OverdueRow", tuple(r)) for r in self.conn.execute(query)]

    def cases_with_failed_reminders(
        self, *, plan_id: str | None = None, unit: str | None = None, not_overdue_at: datetime | None = None
    ) -> list[tuple[Case, int]]:
        """Open cases with at least one reminder that could not be delivered, each with how many failed.

        :param not_overdue_at: leave out paused cases and those whose deadline lies before this time (the stuck
            list shows them already, as overdue or paused).
        """
        failed = (
            select(reminders.c.case_id, func.count().label("failed_reminders"))
            .where(reminders.c.status == "failed")
            .group_by(reminders.c.case_id)
            .subquery()
        )
        query = (
            select(cases, failed.c.failed_reminders)
            .join(failed, failed.c.case_id == cases.c.id)
            .where(cases.c.is_open == true())
            .order_by(cases.c.deadline, cases.c.id)
        )
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        if unit is not None:
            query = query.where(cases.c.unit == unit)
        if not_overdue_at is not None:
            query = query.where(cases.c.paused_at.is_(None),
                                or_(cases.c.deadline.is_(None), cases.c.deadline >= not_overdue_at))
        found = []
        for row in self.conn.execute(query).mappings():
            values = dict(row)
            failed_count = values.pop("failed_reminders")
            found.append((Case.from_row(values), int(failed_count)))
        return found

    def count_open_by_state(self, *, plan_id: str | None = None) -> dict[tuple[str, str], int]:
        """Open cases per (plan_id, state), from ``ix_cases_plan_state``."""
        query = (
            select(cases.c.plan_id, cases.c.state, func.count())
            .where(cases.c.is_open == true())
            .group_by(cases.c.plan_id, cases.c.state)
        )
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        return {(p, s): int(n) for p, s, n in self.conn.execute(query)}

    def any_subject_ref(self) -> str | None:
        """One stored (encrypted) subject reference, to check that the key opens the data; None if none is left."""
        query = select(cases.c.subject_ref).where(cases.c.subject_ref.is_not(None)).limit(1)
        return self.conn.execute(query).scalar()

    def cases_by_subject_index(self, index: str) -> list[Case]:
        query = select(cases).where(cases.c.subject_index == index).order_by(cases.c.id)
        return [Case.from_row(r) for r in self.conn.execute(query).mappings()]

    def closed_cases(self, *, purged: bool = False) -> list[Case]:
        query = select(cases).where(cases.c.is_open.is_(False)).order_by(cases.c.closed_at, cases.c.id)
        query = query.where(cases.c.purged_at.is_not(None) if purged else cases.c.purged_at.is_(None))
        return [Case.from_row(r) for r in self.conn.execute(query).mappings()]

    def get_cases(self, case_ids: Iterable[str], *, lock: bool = False) -> dict[str, Case]:
        """The cases with these ids, by id; with ``lock``, locked in id order (``FOR UPDATE`` on PostgreSQL)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        query = select(cases).where(cases.c.id.in_(ids)).order_by(cases.c.id)
        if lock and self.is_postgresql:
            query = query.with_for_update()
        return {r["id"]: Case.from_row(r) for r in self.conn.execute(query).mappings()}

    def reminded_cases(self, case_ids: Iterable[str]) -> dict[str, RemindedCase]:
        """What the sweep reads of these cases (``RemindedCase``), by id."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        query = select(*(cases.c[name] for name in REMINDED_CASE_COLUMNS)).where(cases.c.id.in_(ids))
        return {r["id"]: RemindedCase.from_row(r) for r in self.conn.execute(query).mappings()}

    def closed_cases_owing(self) -> list[Case]:
        """The closed cases with a case deadline not yet met (a duty that outlives the closing), by id."""
        return [Case.from_row(r) for r in self.conn.execute(_closed_owing(select(cases))).mappings()]

    def cases_owed(self) -> list[RemindedCase]:
        """What the organisation's checks read of each case someone may still owe something: every open case (by
        opening, then id), then every closed one with a case deadline not yet met (by id)."""
        light = select(*(cases.c[name] for name in REMINDED_CASE_COLUMNS))
        value = RemindedCase.from_row
        found = []
        for query in (light.where(cases.c.is_open.is_(True)).order_by(cases.c.opened_at, cases.c.id),
                      _closed_owing(light)):
            found += [value(zip(REMINDED_CASE_COLUMNS, r, strict=True)) for r in self.conn.execute(query)]
        return found

    def lock_case_heads(self, case_ids: Iterable[str]) -> dict[str, Row]:
        """The chain heads and reminder counters of these cases, by id, locked in id order (PostgreSQL)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        columns = (cases.c.id, cases.c.last_seq, cases.c.last_hash, cases.c.reminders_sent, cases.c.escalation_level)
        query = select(*columns).where(cases.c.id.in_(ids)).order_by(cases.c.id)
        if self.is_postgresql:
            query = query.with_for_update()
        return {r["id"]: dict(r) for r in self.conn.execute(query).mappings()}

    def update_case_heads(self, rows: Iterable[Row]) -> None:
        """Update several cases at once: each row holds ``id`` and the columns to set (one statement per column set)."""
        for columns, group in by_columns(rows, "id").items():
            query = update(cases).where(cases.c.id == bindparam("case_key"))
            self.conn.execute(query, [{"case_key": r["id"], **{c: r[c] for c in columns}} for r in group])
