"""Wiring, in one place: settings → database, clock, plans, calendar, notifier. Tests wire it again with fakes.

The real clock lives here, not under ``engine/``: the engine only ever asks a ``Clock``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.ports import Clock
    from indsats.engine.context import Context
    from indsats.engine.ports import Notifier


class SystemClock:
    """The computer's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def build_context(settings: Settings, *, clock: Clock | None = None) -> Context:
    from indsats.engine.time.calendar import CalendarConfig, WorkingCalendar
    from indsats.adapters.files import PrivateFileWriter
    from indsats.adapters.plan_cache import PlanCacheFolder
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.engine.context import Context
    from indsats.engine.privacy.crypto import Keyring
    from indsats.adapters.keyfile import pending_path, read_key, read_public_key
    from indsats.adapters.seal_file import SealFile
    from indsats.engine.log.signing import SealKeys
    from indsats.storage.database import Database

    def load_key() -> bytes | None:
        return settings.key.encode("ascii") if settings.key else read_key(settings.key_file)

    return Context(
        db=Database(settings.database_url, busy_timeout_ms=settings.busy_timeout_ms),
        clock=clock or SystemClock(),
        catalog=PlanCatalog(PlanFolders(settings.plans_dir), PlanCacheFolder(settings.data_dir / "cache")),
        calendar=WorkingCalendar(CalendarConfig.from_mapping(settings.calendar)),
        # During a key rotation the next key opens data too; which one seals is the database's word.
        keys=Keyring(load_key, lambda: [k for k in (read_key(pending_path(settings.key_file)),) if k is not None]),
        files=PrivateFileWriter(),
        signing=SealKeys(lambda: read_key(settings.signing_key_path),
                         lambda: read_public_key(settings.seal_public_key_path)),
        seal_log=SealFile(settings.seal_file_path),
        os_login=_os_login_beside(settings.user),
    )


def _os_login_beside(actor: str) -> str | None:
    """The OS login running this process when someone else is the actor (INDSATS_USER), else None."""
    from indsats.locations import os_login

    me = os_login()
    return me if me and me != actor else None


def build_notifier(settings: Settings) -> Notifier:
    """SMTP when ``INDSATS_SMTP_URL`` is set; otherwise the outbox file, so nothing is silently dropped."""
    from indsats.adapters.outbox import OutboxNotifier
    from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url

    if settings.smtp_url:
        return SmtpNotifier(parse_smtp_url(settings.smtp_url), settings.mail_from)
    return OutboxNotifier(settings.outbox)


def probe_mail(settings: Settings) -> str | None:
    """Why reminders cannot be delivered right now (SMTP not answering, outbox not writable), or None."""
    from indsats.adapters.outbox import OutboxNotifier
    from indsats.adapters.smtp import SmtpNotifier, parse_smtp_url

    if settings.smtp_url:
        return SmtpNotifier(parse_smtp_url(settings.smtp_url), settings.mail_from).probe()
    return OutboxNotifier(settings.outbox).probe()
def ensure_signing_key(settings: Settings) -> Path | None:
    """Make the seal signing key (0600) and its public key beside it on ``init``; return its path if made."""
    from indsats.adapters.keyfile import write_key, write_public_key
    from indsats.engine.log.signing import SealSigner, new_signing_key

    path = settings.signing_key_path
    if path.exists():
        return None
    key = new_signing_key()
    write_key(path, key)
    if not settings.seal_public_key_path.exists():
        write_public_key(settings.seal_public_key_path, SealSigner(key).public_key)
    return path


def ensure_key_file(settings: Settings) -> Path | None:
    """Make the key file on first ``init`` when no key is configured; return its path if it was made."""
    from indsats.engine.privacy.crypto import new_key
    from indsats.adapters.keyfile import write_key

    if settings.key or settings.key_file.exists():
        return None
    write_key(settings.key_file, new_key())
    return settings.key_file
