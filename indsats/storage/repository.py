"""Every query the engine needs, as methods over one connection: the only home of SQL.

Cases and reminders come back as the engine's values (``Case``, ``Reminder``), other rows as plain
dicts (events with their payload parsed), so nothing above this module sees SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, true, update

from indsats.engine.cases.case import Case
from indsats.engine.reminders.reminder import Reminder
from indsats.storage.models import case_counters, cases, events, plans, reminders, users

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = dict[str, Any]

# The hot paths' statements, built once: constructing a statement costs more than SQLite running it.
_GET_USER = select(users).where(users.c.login == bindparam("login"))


def _user_chains() -> Any:
    """The users named in ``:logins`` and everyone above them (a recursive CTE; UNION stops at cycles)."""
    chain = (
        select(users.c.login, users.c.reports_to)
        .where(users.c.login.in_(bindparam("logins", expanding=True)))
        .cte("chain", recursive=True)
    )
    parent = users.alias("parent")
    chain = chain.union(select(parent.c.login, parent.c.reports_to).where(parent.c.login == chain.c.reports_to))
    return select(users).where(users.c.login.in_(select(chain.c.login)))


_GET_USER_CHAINS = _user_chains()
_USERS_WITH_ROLE = (
    select(users).where(users.c.role == bindparam("role"), users.c.active.is_(True)).order_by(users.c.login)
)
_GET_CASE = select(cases).where(cases.c.id == bindparam("case_id"))
_GET_CASE_LOCKED = _GET_CASE.with_for_update()
# Without .values(), the SET clause comes from the parameters' keys: no statement is built per call.
_UPDATE_CASE = update(cases).where(cases.c.id == bindparam("cid"))
_UPDATE_CASE_CHECKED = _UPDATE_CASE.where(cases.c.version == bindparam("expected"))
_INSERT_EVENT = insert(events)
_INSERT_REMINDERS = insert(reminders)
_CANCEL_PENDING = (
    update(reminders)
    .where(reminders.c.case_id == bindparam("cid"), reminders.c.status == "pending", reminders.c.kind != "acute")
    .values(status="cancelled", claimed_by=None, lease_until=None)
)
_BUMP_VERSION = (
    update(cases)
    .where(cases.c.id == bindparam("cid"), cases.c.version == bindparam("expected"))
    .values(version=bindparam("new_version"), last_activity_at=bindparam("at"))
    .returning(cases.c.last_seq, cases.c.last_hash)
)


class Repository:
    """Queries over one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_postgresql = conn.dialect.name == "postgresql"
        # Users are read again and again while resolving reports-to chains; within one transaction
        # they change only through this repository, which keeps the cache honest.
        self._users: dict[str, Row | None] = {}
        self._roles: dict[str, list[Row]] = {}  # users_with_role, kept honest the same way

    # -- users ------------------------------------------------------------------------------------

    def get_user(self, login: str) -> Row | None:
        if login not in self._users:
            row = self.conn.execute(_GET_USER, {"login": login}).mappings().first()
            self._users[login] = dict(row) if row else None
        found = self._users[login]
        return None if found is None else dict(found)

    def load_chains(self, logins: Iterable[str | None]) -> None:
        """Read these users and everyone above them in the reports-to chain, in one query, into the cache."""
        wanted = sorted({login for login in logins if login and login not in self._users})
        if not wanted:
            return
        for row in self.conn.execute(_GET_USER_CHAINS, {"logins": wanted}).mappings():
            self._users[row["login"]] = dict(row)
        for login in wanted:
            self._users.setdefault(login, None)

    def insert_user(self, values: Row) -> None:
        self.conn.execute(insert(users).values(**values))
        self._users.pop(values["login"], None)
        self._roles.clear()

    def update_user(self, login: str, values: Row) -> None:
        self.conn.execute(update(users).where(users.c.login == login).values(**values))
        self._users.pop(login, None)
        self._roles.clear()

    def list_users(self) -> list[Row]:
        return [dict(r) for r in self.conn.execute(select(users).order_by(users.c.login)).mappings()]

    def count_users(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(users)).scalar_one())

    def users_with_role(self, role: str) -> list[Row]:
        if role not in self._roles:
            self._roles[role] = [dict(r) for r in self.conn.execute(_USERS_WITH_ROLE, {"role": role}).mappings()]
            for row in self._roles[role]:
                self._users.setdefault(row["login"], row)
        return [dict(r) for r in self._roles[role]]

    # -- plans ------------------------------------------------------------------------------------

    def ensure_plan(self, plan_id: str, version: str, text: str, at: datetime) -> None:
        """Pin a plan version's text the first time a case uses it."""
        if self.plan_text(plan_id, version) is None:
            self.conn.execute(
                insert(plans).values(id=plan_id, version=version, text=text, first_used_at=at)
            )

    def plan_text(self, plan_id: str, version: str) -> str | None:
        query = select(plans.c.text).where(plans.c.id == plan_id, plans.c.version == version)
        return self.conn.execute(query).scalar_one_or_none()

    # -- cases ------------------------------------------------------------------------------------

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

    def case_actors(self, case_id: str, kinds: Iterable[str]) -> set[str]:
        """Who caused events of ``kinds`` on a case (reading a case does not put anyone on it)."""
        query = (
            select(events.c.actor)
            .where(events.c.case_id == case_id, events.c.actor.is_not(None), events.c.kind.in_(list(kinds)))
            .distinct()
        )
        return set(self.conn.execute(query).scalars())

    # -- supervision ------------------------------------------------------------------------------

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
        ``ix_cases_open_deadline``; ``after`` continues from the last (deadline, id) of a batch.
        """
        query = select(cases).where(cases.c.is_open == true(), cases.c.deadline < at)
        if after is not None:
            query = query.where(
                or_(cases.c.deadline > after[0], and_(cases.c.deadline == after[0], cases.c.id > after[1]))
            )
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        if unit is not None:
            query = query.where(cases.c.unit == unit)
        query = query.order_by(cases.c.deadline, cases.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [Case.from_row(r) for r in self.conn.execute(query).mappings()]

    def cases_with_failed_reminders(
        self, *, plan_id: str | None = None, unit: str | None = None
    ) -> list[tuple[Case, int]]:
        """Open cases with at least one reminder that could not be delivered, each with how many failed."""
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
        found = []
        for row in self.conn.execute(query).mappings():
            values = dict(row)
            failed_count = values.pop("failed_reminders")
            found.append((Case.from_row(values), int(failed_count)))
        return found

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

    def state_events(
        self,
        *,
        kinds: Iterable[str],
        since: datetime | None = None,
        until: datetime | None = None,
        plan_id: str | None = None,
    ) -> Iterator[Row]:
        """Events of ``kinds`` with ``since <= at < until``, with their case's plan, case by case in seq order.

        Headers only (no payload): the report needs times and states, never what was written.
        """
        query = (
            select(
                events.c.case_id,
                events.c.seq,
                events.c.kind,
                events.c.at,
                events.c.from_state,
                events.c.to_state,
                cases.c.plan_id,
                cases.c.plan_version,
            )
            .join(cases, cases.c.id == events.c.case_id)
            .where(events.c.kind.in_(list(kinds)))
        )
        if since is not None:
            query = query.where(events.c.at >= since)
        if until is not None:
            query = query.where(events.c.at < until)
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        query = query.order_by(events.c.case_id, events.c.seq)
        for row in self.conn.execute(query.execution_options(yield_per=2000)).mappings():
            yield dict(row)

    # -- events -----------------------------------------------------------------------------------

    def insert_event(self, values: Row) -> None:
        payload = values.get("payload")
        self.conn.execute(_INSERT_EVENT, {**values, "payload": None if payload is None else _dumps(payload)})

    def events_for(self, case_id: str) -> list[Row]:
        query = select(events).where(events.c.case_id == case_id).order_by(events.c.seq)
        return [_event(r) for r in self.conn.execute(query).mappings()]

    def iter_events(self) -> Iterator[Row]:
        """All events, case by case in seq order (for verify)."""
        query = select(events).order_by(events.c.case_id, events.c.seq)
        for row in self.conn.execute(query.execution_options(yield_per=2000)).mappings():
            yield _event(row)

    def sealed_events(self) -> list[tuple[int, dict[str, Any]]]:
        """(id, stored payload) of every event holding encrypted parts (for key rotation)."""
        query = select(events.c.id, events.c.payload).where(events.c.payload.like('%"sealed":%'))
        return [(row.id, json.loads(row.payload)) for row in self.conn.execute(query)]

    def set_event_payload(self, event_id: int, payload: dict[str, Any] | None) -> None:
        self.conn.execute(
            update(events).where(events.c.id == event_id).values(payload=None if payload is None else _dumps(payload))
        )

    def events_by_actor(self, login: str, kinds: Iterable[str]) -> list[Row]:
        query = (
            select(events)
            .where(events.c.actor == login, events.c.kind.in_(list(kinds)))
            .order_by(events.c.at, events.c.case_id, events.c.seq)
        )
        return [_event(r) for r in self.conn.execute(query).mappings()]

    def events_since(self, since: datetime, kinds: Iterable[str]) -> list[Row]:
        """Events of ``kinds`` at or after ``since``, oldest first (the access-log sample draws from them)."""
        query = (
            select(events)
            .where(events.c.at >= since, events.c.kind.in_(list(kinds)))
            .order_by(events.c.at, events.c.case_id, events.c.seq)
        )
        return [_event(r) for r in self.conn.execute(query).mappings()]

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

    def purge_event_payloads(self, case_id: str) -> None:
        self.conn.execute(update(events).where(events.c.case_id == case_id).values(payload=None))

    # -- reminders --------------------------------------------------------------------------------

    def insert_reminders(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if rows:
            self.conn.execute(_INSERT_REMINDERS, rows)

    def cancel_pending(self, case_id: str) -> int:
        """Cancel the pending reminders of a case that leaves its state (acute alerts still go out)."""
        return int(self.conn.execute(_CANCEL_PENDING, {"cid": case_id}).rowcount)

    def reminders_for(self, case_id: str) -> list[Reminder]:
        query = select(reminders).where(reminders.c.case_id == case_id).order_by(reminders.c.id)
        return [Reminder.from_row(r) for r in self.conn.execute(query).mappings()]

    def claim_due(self, *, now: datetime, limit: int, worker: str, lease_until: datetime) -> list[Reminder]:
        """Claim up to ``limit`` pending reminders due by ``now`` whose lease (if any) has run out.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several workers claim disjoint batches at once.
        SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        """
        due = and_(
            reminders.c.status == "pending",
            reminders.c.next_attempt_at <= now,
            or_(reminders.c.lease_until.is_(None), reminders.c.lease_until < now),
        )
        query = select(reminders.c.id).where(due).order_by(reminders.c.next_attempt_at, reminders.c.id).limit(limit)
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
        query = (
            select(reminders)
            .where(
                reminders.c.status == "pending",
                reminders.c.next_attempt_at <= now,
                or_(reminders.c.lease_until.is_(None), reminders.c.lease_until < now),
            )
            .order_by(reminders.c.next_attempt_at, reminders.c.id)
        )
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

    # -- batches (the sweep records a whole batch in a few statements) ------------------------------

    def get_cases(self, case_ids: Iterable[str], *, lock: bool = False) -> dict[str, Case]:
        """The cases with these ids, by id; with ``lock``, locked in id order (``FOR UPDATE`` on PostgreSQL)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        query = select(cases).where(cases.c.id.in_(ids)).order_by(cases.c.id)
        if lock and self.is_postgresql:
            query = query.with_for_update()
        return {r["id"]: Case.from_row(r) for r in self.conn.execute(query).mappings()}

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
        for columns, group in _by_columns(rows, "id").items():
            query = update(cases).where(cases.c.id == bindparam("case_key"))
            self.conn.execute(query, [{"case_key": r["id"], **{c: r[c] for c in columns}} for r in group])

    def insert_events(self, rows: Iterable[Row]) -> None:
        values = [{**r, "payload": None if r.get("payload") is None else _dumps(r["payload"])} for r in rows]
        if values:
            self.conn.execute(insert(events), values)

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

    def mark_reminders(self, rows: Iterable[Row], *, worker: str) -> None:
        """Update several reminders held by ``worker``: each row holds ``id`` and the columns to set.

        The claim stays in the WHERE clause; callers check which rows are still held first
        (``held_reminders``), since executemany gives no row count per row on every driver.
        """
        for columns, group in _by_columns(rows, "id").items():
            query = update(reminders).where(
                reminders.c.id == bindparam("reminder_key"),
                reminders.c.claimed_by == bindparam("worker_key"),
                reminders.c.status == "pending",
            )
            self.conn.execute(
                query, [{"reminder_key": r["id"], "worker_key": worker, **{c: r[c] for c in columns}} for r in group]
            )


def _by_columns(rows: Iterable[Row], key: str) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by the columns they set (besides ``key``), so each group is one executemany."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(c for c in row if c != key)), []).append(row)
    return groups


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event(row: Any) -> Row:
    values = dict(row)
    values.pop("id", None)
    if values["payload"] is not None:
        try:
            values["payload"] = json.loads(values["payload"])
        except ValueError:  # edited by hand into something that is not JSON: verify reports the digest
            values["payload"] = {"unreadable": values["payload"]}
    return values
