"""The collaborators every service function takes: the database, the clock, the plans, the calendar, the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from indsats.engine.crypto import Keyring

if TYPE_CHECKING:
    from indsats.engine.calendar import WorkingCalendar
    from indsats.engine.catalog import PlanCatalog
    from indsats.engine.clock import Clock
    from indsats.storage.database import Database


@dataclass(frozen=True, kw_only=True)
class Context:
    """Wired once in ``indsats.bootstrap`` (and again, with fakes, in tests)."""

    db: Database
    clock: Clock
    catalog: PlanCatalog
    calendar: WorkingCalendar
    keys: Keyring = field(default_factory=Keyring.none)
