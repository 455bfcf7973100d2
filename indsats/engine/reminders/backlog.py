"""What is waiting: the reminders due now and not yet delivered, the oldest of them, and open cases by state.

Read by ``indsats health``, the Prometheus metrics and ``remind --metrics-file``; one unit of work, two queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class Backlog:
    due: int  # pending reminders whose (next) attempt is due now
    oldest_due_at: datetime | None  # the earliest such attempt time
    oldest_age_seconds: float  # how long that one has waited (0 when none is due)
    open_by_state: dict[tuple[str, str], int] = field(default_factory=dict)  # (plan id, state) → open cases


def due_backlog(ctx: Context) -> Backlog:
    now = ctx.clock.now()
    with ctx.db.unit_of_work() as uow:
        due, oldest = uow.repo.due_summary(now=now)
        open_by_state = uow.repo.count_open_by_state()
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Backlog(due=due, oldest_due_at=oldest, oldest_age_seconds=age, open_by_state=open_by_state)
