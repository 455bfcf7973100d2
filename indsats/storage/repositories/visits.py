"""Visits to states (``state_visits``): written as cases enter and leave states, added up by the step report.

The report's figures are aggregates in SQL: counts and sums per plan and state with ``GROUP BY``, and the
median and 90th percentile as the row at a rank, read from ``ix_state_visits_plan_id_state_time_us`` in time order
(``ORDER BY time_us LIMIT 1 OFFSET k``: SQLite has no percentile function, and the index makes the walk a read
of the index alone).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, func, insert, select, true, update

from indsats.storage.models import case_deadlines, cases, events, state_visits
from indsats.storage.repositories.base import Queries, Row

if TYPE_CHECKING:
    from sqlalchemy import Select

_OPEN_VISIT = (state_visits.c.case_id == bindparam("cid")) & state_visits.c.left_at.is_(None)
_INSERT_VISIT = insert(state_visits)
_LEAVE_VISIT = update(state_visits).where(_OPEN_VISIT).values(
    left_at=bindparam("left_at"), time_us=bindparam("working_us") - state_visits.c.paused_us,
    on_time=bindparam("on_time"),
)
_PAUSE_VISIT = update(state_visits).where(_OPEN_VISIT).values(pauses=state_visits.c.pauses + 1)
_RESUME_VISIT = update(state_visits).where(_OPEN_VISIT).values(
    paused_us=state_visits.c.paused_us + bindparam("paused_us"))

Group = tuple[str, str]  # (plan_id, state)


class VisitQueries(Queries):
    """Writing visits as they happen, and the report's aggregates over them."""

    def insert_visits(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(_INSERT_VISIT, rows)

    def leave_visit(self, case_id: str, *, left_at: datetime, working_us: int, on_time: bool) -> None:
        """Close the case's open visit: time in state is the working time less the visit's pauses."""
        self.conn.execute(_LEAVE_VISIT, {"cid": case_id, "left_at": left_at, "working_us": working_us,
                                         "on_time": on_time})

    def pause_visit(self, case_id: str) -> None:
        self.conn.execute(_PAUSE_VISIT, {"cid": case_id})

    def resume_visit(self, case_id: str, paused_us: int) -> None:
        self.conn.execute(_RESUME_VISIT, {"cid": case_id, "paused_us": paused_us})

    def has_visits(self) -> bool:
        return self.conn.execute(select(state_visits.c.case_id).limit(1)).first() is not None

    # -- the report --------------------------------------------------------------------------------

    def _window(self, query: Select[Any], start: datetime | None, plan_id: str | None) -> Select[Any]:
        if start is not None:
            query = query.where(state_visits.c.entered_at >= start)
        if plan_id is not None:
            query = query.where(state_visits.c.plan_id == plan_id)
        return query

    def passed_visits(self, *, start: datetime | None, bound: datetime, plan_id: str | None = None) -> dict[Group, Row]:
        """Visits entered and left within ``start``..``bound``, per (plan, state): how many, how many on time,
        their paused working time and how many were paused."""
        v = state_visits.c
        query = (
            select(v.plan_id, v.state, func.count(), func.sum(case((v.on_time == true(), 1), else_=0)),
                   func.sum(v.paused_us), func.sum(case((v.pauses > 0, 1), else_=0)))
            .where(v.left_at < bound)
            .group_by(v.plan_id, v.state)
        )
        query = self._window(query, start, plan_id)
        return {(p, s): {"passed": int(n), "on_time": int(t or 0), "paused_us": int(u or 0), "paused_visits": int(k or 0)}
                for p, s, n, t, u, k in self.conn.execute(query)}

    def visit_times_at(self, plan_id: str, state: str, *, start: datetime | None, bound: datetime, offset: int,
                       count: int = 1, descending: bool = False) -> list[int]:
        """Times in state (microseconds) of the passed visits of one plan and state, in time order (or from the
        longest), ``count`` of them from position ``offset``."""
        v = state_visits.c
        order = v.time_us.desc() if descending else v.time_us
        query = (
            select(v.time_us)
            .where(v.plan_id == plan_id, v.state == state, v.time_us.is_not(None), v.left_at < bound)
            .order_by(order).limit(count).offset(offset)
        )
        if start is not None:
            query = query.where(v.entered_at >= start)
        return [int(t) for t in self.conn.execute(query).scalars()]

    def late_open_visits(self, *, start: datetime | None, bound: datetime, end: datetime,
                         plan_id: str | None = None) -> dict[Group, int]:
        """Visits entered within the window and not left before its end, never paused, past their deadline at
        ``end``, per (plan, state)."""
        v = state_visits.c
        found: dict[Group, int] = {}
        for still_open in (v.left_at.is_(None), v.left_at >= bound):
            query = (
                select(v.plan_id, v.state, func.count())
                .where(still_open, v.entered_at < bound, v.pauses == 0, v.deadline_at < end)
                .group_by(v.plan_id, v.state)
            )
            query = self._window(query, start, plan_id)
            for p, s, n in self.conn.execute(query):
                found[(p, s)] = found.get((p, s), 0) + int(n)
        return found

    def paused_open_visits(self, *, start: datetime | None, bound: datetime, plan_id: str | None = None) -> list[str]:
        """Cases whose visit entered within the window and not left before its end was paused (their deadline
        at the end depends on which pauses fell inside the window: the report replays their events). Found from
        the paused events (``ix_events_kind_at``): few, where the visits are many."""
        v = state_visits.c
        query = (
            select(v.case_id)
            .join(events, events.c.case_id == v.case_id)
            .where(events.c.kind == "paused", (v.left_at.is_(None)) | (v.left_at >= bound), v.entered_at < bound,
                   v.pauses > 0)
            .distinct()
        )
        if start is not None:
            query = query.where(events.c.at >= start)
        query = self._window(query, start, plan_id)
        return sorted(self.conn.execute(query).scalars())

    def only_plan(self) -> str | None:
        """The plan every case is under, when only one plan was ever pinned (its rows need no join to cases)."""
        found = {plan_id for plan_id, _ in self.pinned_versions()}  # type: ignore[attr-defined]
        return found.pop() if len(found) == 1 else None

    def escalation_counts(self, *, start: datetime | None, bound: datetime, plan_id: str | None = None) -> dict[Group, int]:
        """Escalations sent within the window, per (plan, state escalated), from ``ix_events_kind_at``; joined
        to the cases for their plan only when there is more than one plan."""
        only = self.only_plan()
        if only is not None and plan_id not in (None, only):
            return {}
        e = events.c
        if only is not None:
            query = select(e.from_state, func.count()).where(e.kind == "escalated", e.at < bound).group_by(e.from_state)
            if start is not None:
                query = query.where(e.at >= start)
            return {(only, s): int(n) for s, n in self.conn.execute(query)}
        query = (
            select(cases.c.plan_id, e.from_state, func.count())
            .join(cases, cases.c.id == e.case_id)
            .where(e.kind == "escalated", e.at < bound)
            .group_by(cases.c.plan_id, e.from_state)
        )
        if start is not None:
            query = query.where(e.at >= start)
        if plan_id is not None:
            query = query.where(cases.c.plan_id == plan_id)
        return {(p, s): int(n) for p, s, n in self.conn.execute(query)}

    def case_deadline_counts(self, *, start: datetime | None, bound: datetime, end: datetime, names: Iterable[str],
                             plan_id: str | None = None) -> dict[Group, Row]:
        """Case deadlines started within the window, per (plan, deadline name): started, met, met on time,
        running (case open, not met) and running past their due time at ``end``; ``names``: the plans' case
        deadlines (any others are not counted). Only the running ones are
        joined to their case (whether it is open), and the rest only when there is more than one plan."""
        d = case_deadlines.c
        only = self.only_plan()
        if only is not None and plan_id not in (None, only):
            return {}
        found: dict[Group, Row] = {}
        figures = (func.count(), func.count(d.met_at), func.sum(case(((d.met_at.is_not(None)) & (d.met_at <= d.due_at),
                                                                      1), else_=0)))
        if only is not None:
            # One read of ix_case_deadlines_started_at_name per deadline name: no sort of every row by name.
            rows = []
            for name in sorted(names):
                query = select(*figures).where(d.name == name, d.started_at < bound)
                if start is not None:
                    query = query.where(d.started_at >= start)
                n, m, t = self.conn.execute(query).one()
                if n:
                    rows.append((only, name, n, m, t))
        else:
            query = (select(cases.c.plan_id, d.name, *figures).join(cases, cases.c.id == d.case_id)
                     .where(d.started_at < bound).group_by(cases.c.plan_id, d.name))
            if start is not None:
                query = query.where(d.started_at >= start)
            if plan_id is not None:
                query = query.where(cases.c.plan_id == plan_id)
            rows = list(self.conn.execute(query))
        for p, name, n, m, t in rows:
            found[(p, name)] = {"started": int(n), "met": int(m), "on_time": int(t or 0), "running": 0,
                                "late_running": 0}
        running = (
            select(cases.c.plan_id, d.name, func.count(), func.sum(case((d.due_at < end, 1), else_=0)))
            .join(cases, cases.c.id == d.case_id)
            .where(d.met_at.is_(None), d.started_at < bound, cases.c.is_open == true())
            .group_by(cases.c.plan_id, d.name)
        )
        if start is not None:
            running = running.where(d.started_at >= start)
        if plan_id is not None:
            running = running.where(cases.c.plan_id == plan_id)
        for p, name, n, late in self.conn.execute(running):
            row = found.setdefault((p, name), {"started": 0, "met": 0, "on_time": 0, "running": 0, "late_running": 0})
            row.update(running=int(n), late_running=int(late or 0))
        return found
