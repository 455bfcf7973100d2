"""Every query the engine needs, over one connection: the only home of SQL, one repository per aggregate.

``Repository`` is the facade a unit of work hands out (``uow.repo``): it is all the aggregate
repositories at once (users, plans, cases, events, reminders, case deadlines, each in
``storage/repositories/``),
sharing the connection and the transaction, so a use case calls ``repo.get_case`` and
``repo.insert_event`` without knowing which module holds the SQL. Cases and reminders come back
as the engine's values (``Case``, ``Reminder``), other rows as plain dicts (events with their payload
parsed), so nothing above storage sees SQLAlchemy.
"""

from __future__ import annotations

from indsats.storage.integrity import IntegrityQueries
from indsats.storage.repositories.base import Row
from indsats.storage.repositories.cases import CaseRepository
from indsats.storage.repositories.deadlines import DeadlineQueries
from indsats.storage.repositories.events import EventRepository
from indsats.storage.repositories.plans import PlanRepository
from indsats.storage.repositories.reminders import ReminderRepository
from indsats.storage.repositories.users import UserRepository
from indsats.storage.repositories.visits import VisitQueries

__all__ = ["Repository", "Row"]


class Repository(
    UserRepository, PlanRepository, CaseRepository, EventRepository, ReminderRepository, DeadlineQueries,
    IntegrityQueries, VisitQueries,
):
    """The queries of every aggregate, over one connection, inside the caller's transaction."""
