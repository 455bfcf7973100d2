"""Wiring, in one place: settings → database, clock, plans, calendar, notifier. Tests wire it again with fakes.

The real clock lives here, not under ``engine/``: the engine only ever asks a ``Clock``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.clock import Clock
    from indsats.engine.context import Context
    from indsats.engine.notifiers import Notifier


class SystemClock:
    """The computer's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def build_context(settings: Settings, *, clock: Clock | None = None) -> Context:
    from indsats.engine.calendar import CalendarConfig, WorkingCalendar
    from indsats.engine.catalog import PlanCatalog
    from indsats.engine.context import Context
    from indsats.storage.database import Database

    return Context(
        db=Database(settings.database_url, busy_timeout_ms=settings.busy_timeout_ms),
        clock=clock or SystemClock(),
        catalog=PlanCatalog(settings.plans_dir),
        calendar=WorkingCalendar(CalendarConfig.from_mapping(settings.calendar)),
    )


def build_notifier(settings: Settings) -> Notifier:
    """SMTP when ``INDSATS_SMTP_URL`` is set; otherwise the outbox file, so nothing is silently dropped."""
    from indsats.engine.notifiers import OutboxNotifier, SmtpNotifier, parse_smtp_url

    if settings.smtp_url:
        return SmtpNotifier(parse_smtp_url(settings.smtp_url), settings.mail_from)
    return OutboxNotifier(settings.outbox)
