"""Case deadlines and paused cases: the queries ``Repository`` mixes in (one transaction, one connection).

Case deadlines are a projection like the ``cases`` row: started and met in the transaction of the command
that starts or meets them. A paused case's reminders are ``held``: never claimed until resumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, or_, select, true, update

from indsats.engine.cases.case import Case
from indsats.engine.reminders.reminder import Reminder
from indsats.storage.models import case_deadlines, cases, reminders
from indsats.storage.repositories.base import Queries, Row

class DeadlineQueries(Queries):
    """Case deadlines (started, met, moved by a pause) and paused cases' held reminders."""

    def insert_case_deadline(self, values: Row) -> None:
        self.conn.execute(insert(case_deadlines).values(**values))

    def case_deadlines_for(self, case_id: str) -> list[Row]:
        query = select(case_deadlines).where(case_deadlines.c.case_id == case_id).order_by(case_deadlines.c.started_seq)
        return [dict(r) for r in self.conn.execute(query).mappings()]

    def running_case_deadlines(self, case_ids: Iterable[str]) -> dict[tuple[str, str], Row]:
        """The case deadlines not yet met of these cases, by (case id, name)."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        query = select(case_deadlines).where(case_deadlines.c.case_id.in_(ids), case_deadlines.c.met_at.is_(None))
        return {(r["case_id"], r["name"]): dict(r) for r in self.conn.execute(query).mappings()}

    def unmet_case_deadlines(self) -> list[tuple[str, str]]:
        """Every case deadline not yet met, as (case id, name): what still needs someone, open case or closed."""
        query = select(case_deadlines.c.case_id, case_deadlines.c.name).where(case_deadlines.c.met_at.is_(None))
        return [(str(r[0]), str(r[1])) for r in self.conn.execute(query)]

    def meet_case_deadline(self, case_id: str, name: str, at: datetime) -> bool:
        """Mark a running case deadline met and cancel its pending (or held) reminders; False if none ran."""
        where = and_(case_deadlines.c.case_id == case_id, case_deadlines.c.name == name, case_deadlines.c.met_at.is_(None))
        if self.conn.execute(update(case_deadlines).where(where).values(met_at=at)).rowcount != 1:
            return False
        self.conn.execute(
            update(reminders)
            .where(reminders.c.case_id == case_id, reminders.c.deadline == name,
                   reminders.c.status.in_(("pending", "held")))
            .values(status="cancelled", claimed_by=None, lease_until=None)
        )
        return True

    def move_case_deadlines(self, rows: Iterable[Row]) -> None:
        """Set new due times (``case_id``, ``name``, ``due_at``) after a pause."""
        params = [{"cid": r["case_id"], "dname": r["name"], "due_at": r["due_at"]} for r in rows]
        if params:
            statement = update(case_deadlines).where(
                case_deadlines.c.case_id == bindparam("cid"), case_deadlines.c.name == bindparam("dname")
            )
            self.conn.execute(statement, params)

    def overdue_case_deadlines(
        self, *, at: datetime, plan_id: str | None = None, unit: str | None = None, only_otherwise_fine: bool = False,
        outliving: Iterable[tuple[str, str]] = (),
    ) -> Iterator[tuple[Case, str, datetime]]:
        """Running case deadlines of open cases due before ``at``, earliest first: (case, name, due_at), read
        as they are used (the stuck list streams them: there may be as many as cases).

        :param only_otherwise_fine: leave out paused cases, those past their state's deadline and those with a
            failed reminder (the stuck list shows them already), and list each case once, by its earliest.
        :param outliving: (plan id, name) of case deadlines that outlive their case's closing: listed on
            closed cases too.
        """
        on_closed = [and_(cases.c.plan_id == p, case_deadlines.c.name == n) for p, n in sorted(set(outliving))]
        query = (
            select(cases, case_deadlines.c.name.label("cd_name"), case_deadlines.c.due_at.label("cd_due_at"),
                   case_deadlines.c.started_at.label("cd_started_at"))
            .join(case_deadlines, case_deadlines.c.case_id == cases.c.id)
            .where(case_deadlines.c.met_at.is_(None), case_deadlines.c.due_at < at,
                   or_(cases.c.is_open == true(), *on_closed))
        )
        if only_otherwise_fine:
            failed = select(reminders.c.id).where(reminders.c.case_id == cases.c.id, reminders.c.status == "failed")
            query = query.where(cases.c.paused_at.is_(None), or_(cases.c.deadline.is_(None), cases.c.deadline >= at),
                                ~failed.exists())
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        if unit is not None:
            query = query.where(cases.c.unit == unit)
        query = query.order_by(case_deadlines.c.due_at, cases.c.id)
        listed: set[str] = set()
        for row in self.conn.execute(query.execution_options(yield_per=500)).mappings():
            values = dict(row)
            name, due_at = values.pop("cd_name"), values.pop("cd_due_at")
            values.pop("cd_started_at")
            if only_otherwise_fine and values["id"] in listed:
                continue
            listed.add(values["id"])
            yield Case.from_row(values), name, due_at

    def case_deadlines_of_plan(self, *, plan_id: str | None = None) -> list[Row]:
        """Every case deadline started, with its case's plan (id, version), for the report."""
        query = select(case_deadlines, cases.c.plan_id, cases.c.plan_version, cases.c.is_open).join(
            cases, cases.c.id == case_deadlines.c.case_id
        )
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        return [dict(r) for r in self.conn.execute(query.order_by(case_deadlines.c.case_id)).mappings()]

    def paused_cases(self, *, plan_id: str | None = None, unit: str | None = None) -> list[Case]:
        """Open cases that are paused, longest paused first."""
        query = select(cases).where(cases.c.is_open == true(), cases.c.paused_at.is_not(None))
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        if unit is not None:
            query = query.where(cases.c.unit == unit)
        return [Case.from_row(r) for r in self.conn.execute(query.order_by(cases.c.paused_at, cases.c.id)).mappings()]

    def hold_pending(self, case_id: str) -> int:
        """Hold a paused case's pending reminders (acute alerts still go out); return how many."""
        statement = (
            update(reminders)
            .where(reminders.c.case_id == case_id, reminders.c.status == "pending", reminders.c.kind != "acute")
            .values(status="held", claimed_by=None, lease_until=None)
        )
        return int(self.conn.execute(statement).rowcount)

    def held_reminders_of(self, case_id: str) -> list[Reminder]:
        query = select(reminders).where(reminders.c.case_id == case_id, reminders.c.status == "held")
        return [Reminder.from_row(r) for r in self.conn.execute(query.order_by(reminders.c.id)).mappings()]

    def release_held(self, rows: Iterable[Row]) -> None:
        """Make held reminders pending again at their shifted times (``id``, ``due_at``, ``next_attempt_at``)."""
        params = [{"rid": r["id"], "new_due": r["due_at"], "new_next": r["next_attempt_at"]} for r in rows]
        if params:
            statement = (
                update(reminders)
                .where(reminders.c.id == bindparam("rid"), reminders.c.status == "held")
                .values(status="pending", due_at=bindparam("new_due"), next_attempt_at=bindparam("new_next"))
            )
            self.conn.execute(statement, params)
