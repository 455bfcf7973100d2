"""Which key the data is under: the database records the fingerprint of its current key (and, during a
rotation, of the next one), and nothing is encrypted under any other.

A command holding a different key is refused before it writes (exit 4, "this database is sealed under key
FINGERPRINT"), so a second data directory's fresh key can never mix into the data. A database from before
fingerprints records the key that opens what it holds, on first use.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from indsats.errors import NotAllowed

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.privacy.crypto import Cipher
    from indsats.storage.repository import Repository


class WrongKey(NotAllowed):
    """The configured key is not the one the database's data is under."""

    def __init__(self, current: str, configured: str) -> None:
        super().__init__(
            f"this database is sealed under key {current}; the configured key is {configured}: nothing was "
            "written (point INDSATS_KEY_FILE at the right key; after an interrupted rotation run 'indsats keys rotate')"
        )


def writing_cipher(repo: Repository, cipher: Cipher, at: datetime) -> Cipher:
    """The cipher to encrypt with in this transaction: the held key the database calls current.

    Reads the fingerprints with a share lock (PostgreSQL), so a rotation's last step waits for this
    transaction and sees what it wrote. ``WrongKey`` when no held key is the current one.
    """
    checked = getattr(repo, "_writing_cipher", None)
    if checked is not None and checked[0] is cipher:
        return checked[1]
    current = repo.key_fingerprints(lock=True).get("current")
    if current is None:
        current = adopt_key(repo, cipher, at)
    if current not in cipher.fingerprints:
        raise WrongKey(current, cipher.fingerprint)
    chosen = cipher.with_primary(current)
    repo._writing_cipher = (cipher, chosen)  # type: ignore[attr-defined]
    return chosen


def adopt_key(repo: Repository, cipher: Cipher, at: datetime) -> str:
    """Record the key the data is under when the database names none yet; the key must open what is stored."""
    sample = repo.sealed_sample()
    if sample is not None:
        cipher.open(sample)  # NotAllowed ("wrong key?") when it does not
        for fingerprint in cipher.fingerprints:
            if cipher.with_primary(fingerprint).opens_with_primary(sample):
                repo.set_key_fingerprint(fingerprint, "current", at)
                return fingerprint
    repo.set_key_fingerprint(cipher.fingerprint, "current", at)
    return cipher.fingerprint


def record_key(ctx: Context) -> str | None:
    """What ``init`` does once a key is configured: record (or check) the fingerprint; None without a key."""
    cipher = ctx.keys.optional()
    if cipher is None:
        return None
    with ctx.db.unit_of_work(write=True) as uow:
        chosen = writing_cipher(uow.repo, cipher, ctx.clock.now())
        uow.commit()
    return chosen.fingerprint
