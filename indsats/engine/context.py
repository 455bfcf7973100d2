"""The collaborators every service function takes: the database, the clock, the plans, the calendar, the keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from indsats.engine.log.signing import SealKeys
from indsats.engine.privacy.crypto import Keyring

if TYPE_CHECKING:
    from indsats.engine.time.calendar import WorkingCalendar
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.engine.ports import Clock, PrivateFiles, SealLog
    from indsats.storage.database import Database


@dataclass(frozen=True, kw_only=True)
class Context:
    """Wired once in ``indsats.bootstrap`` (and again, with fakes, in tests)."""

    db: Database
    clock: Clock
    catalog: PlanCatalog
    calendar: WorkingCalendar
    keys: Keyring = field(default_factory=Keyring.none)
    files: PrivateFiles | None = None  # exports and archives; a context without it writes no files
    # The seal signing key (private: only where seals are written; the public key is enough for verify).
    signing: SealKeys = field(default_factory=SealKeys.none)
    seal_log: SealLog | None = None  # the seal file; a context without it keeps seals in the database only
    # The OS login really running the command when another registered user is acting (INDSATS_USER in direct
    # mode): every event written records it beside the actor. None when the actor is the OS login.
    os_login: str | None = None

    def private_files(self) -> PrivateFiles:
        """Where exports go; ``Invalid`` for a context wired without a file writer."""
        if self.files is None:
            from indsats.errors import Invalid

            raise Invalid("this installation writes no export files here")
        return self.files
