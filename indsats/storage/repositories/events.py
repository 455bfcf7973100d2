"""Events: the append-only, hash-chained log, stored with its payload as canonical JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from indsats.storage.models import cases, events
from indsats.storage.repositories.base import Queries, Row, dumps, event_row
from indsats.storage.visit_days import UPSERT_ESCALATION_DAY_OF_CASE, escalation_day_params

_INSERT_EVENT = insert(events)


class EventRepository(Queries):
    """Reading and appending events."""

    def case_actors(self, case_id: str, kinds: Iterable[str]) -> set[str]:
        """Who caused events of ``kinds`` on a case (reading a case does not put anyone on it)."""
        query = (
            select(events.c.actor)
            .where(events.c.case_id == case_id, events.c.actor.is_not(None), events.c.kind.in_(list(kinds)))
            .distinct()
        )
        return set(self.conn.execute(query).scalars())

    def fired_triggers(self, case_id: str) -> set[str]:
        """The triggers ever fired on a case (its events' ``trigger``s)."""
        query = select(events.c.trigger).where(events.c.case_id == case_id, events.c.trigger.is_not(None)).distinct()
        return set(self.conn.execute(query).scalars())

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

    def insert_event(self, values: Row) -> None:
        payload = values.get("payload")  # a dict, or already in its stored form (``sealed_row``'s canonical JSON)
        self.conn.execute(_INSERT_EVENT, {**values, "payload": payload if payload is None or isinstance(payload, str) else dumps(payload)})
        self._count_escalations([values])

    def events_for(self, case_id: str) -> list[Row]:
        query = select(events).where(events.c.case_id == case_id).order_by(events.c.seq)
        return [event_row(r) for r in self.conn.execute(query).mappings()]

    def iter_events(self) -> Iterator[Row]:
        """All events, case by case in seq order (for verify)."""
        query = select(events).order_by(events.c.case_id, events.c.seq)
        for row in self.conn.execute(query.execution_options(yield_per=2000)).mappings():
            yield event_row(row)

    def sealed_events(self, event_ids: list[Any] | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(id, stored payload) of every event holding encrypted parts (of ``event_ids`` only, if given)."""
        query = select(events.c.id, events.c.payload).where(events.c.payload.like('%"sealed":%'))
        if event_ids is not None:
            query = query.where(events.c.id.in_(event_ids))
        return [(row.id, json.loads(row.payload)) for row in self.conn.execute(query)]

    def set_event_payload(self, event_id: int, payload: dict[str, Any] | None) -> None:
        self.conn.execute(
            update(events).where(events.c.id == event_id).values(payload=None if payload is None else dumps(payload))
        )

    def events_by_actor(self, login: str, kinds: Iterable[str]) -> list[Row]:
        query = (
            select(events)
            .where(events.c.actor == login, events.c.kind.in_(list(kinds)))
            .order_by(events.c.at, events.c.case_id, events.c.seq)
        )
        return [event_row(r) for r in self.conn.execute(query).mappings()]

    def events_since(self, since: datetime, kinds: Iterable[str]) -> list[Row]:
        """Events of ``kinds`` at or after ``since``, oldest first (the access-log sample draws from them)."""
        query = (
            select(events)
            .where(events.c.at >= since, events.c.kind.in_(list(kinds)))
            .order_by(events.c.at, events.c.case_id, events.c.seq)
        )
        return [event_row(r) for r in self.conn.execute(query).mappings()]

    def purge_event_payloads(self, case_id: str) -> None:
        self.conn.execute(update(events).where(events.c.case_id == case_id).values(payload=None))

    def insert_events(self, rows: Iterable[Row]) -> None:
        # A payload may come already in its stored form (the canonical JSON ``sealed_row`` gives).
        values = [r if isinstance(r.get("payload"), str | None) else {**r, "payload": dumps(r["payload"])} for r in rows]
        if values:
            self.conn.execute(insert(events), values)
            self._count_escalations(values)

    def _count_escalations(self, rows: list[Row]) -> None:
        """Escalations being written are counted into their day, in the same transaction (the step report)."""
        found = escalation_day_params(rows)
        if found:
            sql = UPSERT_ESCALATION_DAY_OF_CASE
            self.conn.exec_driver_sql(sql.replace("?", "%s") if self.is_postgresql else sql, found)
