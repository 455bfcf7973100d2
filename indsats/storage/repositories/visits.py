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

from indsats.storage.models import case_deadlines, cases, escalation_days, events, state_visits, visit_days
from indsats.storage.repositories.base import Queries, Row
from indsats.storage.day_rows import day_row_breaks, expected_day_rows
from indsats.storage.visit_days import (
    UPSERT_VISIT_DAY, bucket_bounds, day_start, local_day, time_bucket, visit_day_values,
)

if TYPE_CHECKING:
    from sqlalchemy import Select

_OPEN_VISIT = (state_visits.c.case_id == bindparam("cid")) & state_visits.c.left_at.is_(None)
_INSERT_VISIT = insert(state_visits)
_LEAVE_VISIT = update(state_visits).where(_OPEN_VISIT).values(
    left_at=bindparam("left_at"), time_us=bindparam("working_us") - state_visits.c.paused_us,
    on_time=bindparam("on_time"),
).returning(state_visits.c.plan_id, state_visits.c.state, state_visits.c.entered_at, state_visits.c.time_us,
            state_visits.c.paused_us, state_visits.c.pauses)
_PAUSE_VISIT = update(state_visits).where(_OPEN_VISIT).values(pauses=state_visits.c.pauses + 1)
_RESUME_VISIT = update(state_visits).where(_OPEN_VISIT).values(
    paused_us=state_visits.c.paused_us + bindparam("paused_us"))

Group = tuple[str, str]  # (plan_id, state)


def _whole_days(bound: datetime) -> tuple[int, datetime]:
    """The local day of a window's end, and its midnight: the days before it are whole within the window."""
    day = local_day(bound)
    return day, day_start(day)


def _start_day(start: datetime) -> int:
    """The local day a window starts (at its midnight: a day row is within the window or not, never partly)."""
    day = local_day(start)
    if day_start(day) != start:
        raise ValueError(f"a report window starts at a local midnight, not {start}")
    return day


class VisitQueries(Queries):
    """Writing visits as they happen, and the report's aggregates over them."""

    def insert_visits(self, rows: list[Row]) -> None:
        if rows:
            self.conn.execute(_INSERT_VISIT, rows)

    def leave_visit(self, case_id: str, *, left_at: datetime, working_us: int, on_time: bool) -> None:
        """Close the case's open visit: time in state is the working time less the visit's pauses."""
        left = self.conn.execute(_LEAVE_VISIT, {"cid": case_id, "left_at": left_at, "working_us": working_us,
                                                "on_time": on_time}).all()
        for plan_id, state, entered_at, time_us, paused_us, pauses in left:  # counted into its day, once
            self._driver_sql(UPSERT_VISIT_DAY, visit_day_values(plan_id, state, entered_at, left_at, time_us, on_time,
                                                                paused_us, pauses))

    def _driver_sql(self, sql: str, params: tuple[Any, ...]) -> None:
        self.conn.exec_driver_sql(sql.replace("?", "%s") if self.is_postgresql else sql, params)

    def pause_visit(self, case_id: str) -> None:
        self.conn.execute(_PAUSE_VISIT, {"cid": case_id})

    def resume_visit(self, case_id: str, paused_us: int) -> None:
        self.conn.execute(_RESUME_VISIT, {"cid": case_id, "paused_us": paused_us})

    def day_row_breaks(self) -> list[str]:
        """Where the step report's day rows are not what the visits and escalation events add up to (verify)."""
        visits, sent = expected_day_rows(lambda sql: self.conn.exec_driver_sql(sql).yield_per(5000))
        return [
            *day_row_breaks("visit_days", visits, self.conn.execute(select(visit_days)), keys=5),
            *day_row_breaks("escalation_days", sent, self.conn.execute(select(escalation_days)), keys=3),
        ]

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
        their paused working time, how many were paused, and how many fell in each time bucket (``buckets``:
        (bucket, visits) in bucket order). ``start`` is a local midnight (or None).

        The whole days before ``bound``'s own local day are summed from ``visit_days``; the visits left on that
        day before ``bound`` are read from ``state_visits`` (a day's worth, by ``left_at``)."""
        bound_day, edge = _whole_days(bound)
        d = visit_days.c
        query = (
            select(d.plan_id, d.state, d.bucket, func.sum(d.visits), func.sum(d.on_time), func.sum(d.paused_us),
                   func.sum(d.paused_visits))
            .where(d.left_day < bound_day)
            .group_by(d.plan_id, d.state, d.bucket)
        )
        if start is not None:
            query = query.where(d.entry_day >= _start_day(start))
        if plan_id is not None:
            query = query.where(d.plan_id == plan_id)
        found: dict[Group, Row] = {}
        buckets: dict[Group, dict[int, int]] = {}

        def add(p: str, s: str, bucket: int, n: int, on_time: int, paused_us: int, paused: int) -> None:
            row = found.get((p, s))
            if row is None:
                row = found[(p, s)] = {"passed": 0, "on_time": 0, "paused_us": 0, "paused_visits": 0}
                buckets[(p, s)] = {}
            row["passed"] += n
            row["on_time"] += on_time
            row["paused_us"] += paused_us
            row["paused_visits"] += paused
            counts = buckets[(p, s)]
            counts[bucket] = counts.get(bucket, 0) + n

        for p, s, bucket, n, t, u, k in self.conn.execute(query):
            add(p, s, int(bucket), int(n), int(t or 0), int(u or 0), int(k or 0))
        if edge < bound:
            v = state_visits.c
            last_day = (select(v.plan_id, v.state, v.time_us, v.on_time, v.paused_us, v.pauses)
                        .where(v.left_at >= edge, v.left_at < bound))
            for p, s, t, on_time, u, k in self.conn.execute(self._window(last_day, start, plan_id)):
                add(p, s, time_bucket(int(t)), 1, int(bool(on_time)), int(u), int(k > 0))
        for key, row in found.items():
            row["buckets"] = sorted(buckets[key].items())
        return found

    def visit_times_at_ranks(self, plan_id: str, state: str, ranks: list[int], *, start: datetime | None,
                             bound: datetime, buckets: list[tuple[int, int]]) -> list[int]:
        """Times in state (microseconds) of the passed visits of one plan and state at ``ranks`` (0-based, in
        time order), given how many fell in each time bucket (``passed_visits``): each read from its bucket's
        range of ``ix_state_visits_plan_id_state_time_us``, at its offset within the bucket."""
        v = state_visits.c
        found = []
        for rank in ranks:
            before, chosen = 0, None
            for bucket, n in buckets:
                if rank < before + n:
                    chosen = bucket
                    break
                before += n
            if chosen is None:
                raise ValueError(f"rank {rank} beyond the {before} visits counted")
            lo, hi = bucket_bounds(chosen)
            query = (select(v.time_us)
                     .where(v.plan_id == plan_id, v.state == state, v.time_us >= lo, v.time_us < hi, v.left_at < bound)
                     .order_by(v.time_us).limit(1).offset(rank - before))
            if start is not None:
                query = query.where(v.entered_at >= start)
            value = self.conn.execute(query).scalar()
            if value is None:  # the day rows disagree with the visits (verify says so): read it the long way
                walked = self.visit_times_at(plan_id, state, start=start, bound=bound, offset=rank)
                if not walked:
                    raise RuntimeError(f"the day rows of '{state}' count more visits than there are: run indsats verify")
                value = walked[0]
            found.append(int(value))
        return found

    def visit_times_at(self, plan_id: str, state: str, *, start: datetime | None, bound: datetime, offset: int,
                       count: int = 1, descending: bool = False) -> list[int]:
        """Times in state (microseconds) of the passed visits of one plan and state, in time order (or from the
        longest), ``count`` of them from position ``offset`` (a walk of the index: every visit before it)."""
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
        """Escalations sent within the window, per (plan, state escalated): the whole days before ``bound``'s
        own local day from ``escalation_days``, that day's from the events (``ix_events_kind_at``)."""
        bound_day, edge = _whole_days(bound)
        d = escalation_days.c
        query = select(d.plan_id, d.state, func.sum(d.escalations)).where(d.day < bound_day).group_by(d.plan_id, d.state)
        if start is not None:
            query = query.where(d.day >= _start_day(start))
        if plan_id is not None:
            query = query.where(d.plan_id == plan_id)
        found = {(p, s): int(n) for p, s, n in self.conn.execute(query)}
        if edge < bound:  # start is a local midnight, so never after the edge
            e = events.c
            last_day = (select(cases.c.plan_id, e.from_state, func.count())
                        .join(cases, cases.c.id == e.case_id)
                        .where(e.kind == "escalated", e.at >= edge, e.at < bound, e.from_state.is_not(None))
                        .group_by(cases.c.plan_id, e.from_state))
            if plan_id is not None:
                last_day = last_day.where(cases.c.plan_id == plan_id)
            for p, s, n in self.conn.execute(last_day):
                found[(p, s)] = found.get((p, s), 0) + int(n)
        return found

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
            # One read of ix_case_deadlines_name_started_at per deadline name: its own entries, no sort by name.
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
