"""Key files on disk: written 0600, and refused when anyone but the owner may read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from indsats.i18n import N_, _
from indsats.adapters.files import create_private, os_reason
from indsats.errors import Invalid, NotAllowed


def read_key(path: Path) -> bytes | None:
    """The key in ``path``; None if there is no such file; ``NotAllowed`` if others may read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotAllowed(_("cannot read the key file {path}: {error}").format(path=path, error=os_reason(exc))) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotAllowed(
            _("the key file {path} is readable by others (mode {mode:04o}): chmod 600 {path}").format(
                path=path, mode=stat.S_IMODE(info.st_mode))
        )
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise NotAllowed(_("cannot read the key file {path}: {error}").format(path=path, error=os_reason(exc))) from None


def write_key(path: Path, key: bytes) -> None:
    """Write a new key file readable by its owner only; never overwrite one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise Invalid(_("cannot create the key file {path}: {error}").format(path=path, error=os_reason(exc))) from None
    fd = create_private(path, exists=N_("exists already; a key file is never overwritten"), name=N_("the key file "))
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_public_key(path: Path) -> str | None:
    """A public key file's text (anyone may read it); None if there is no such file."""
    try:
        return path.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotAllowed(_("cannot read the public key file {path}: {error}").format(
            path=path, error=os_reason(exc) if isinstance(exc, OSError) else exc)) from None


def write_public_key(path: Path, text: str) -> None:
    """Write a public key file beside its private key; never overwrite one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise Invalid(_("{path} exists already; a key file is never overwritten").format(path=path)) from None
    except OSError as exc:
        raise Invalid(_("cannot write the key file {path}: {error}").format(path=path, error=os_reason(exc))) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def pending_path(key_file: Path) -> Path:
    """Where a rotation writes the next key before the database names it."""
    return key_file.with_name(key_file.name + ".new")


class KeyFiles:
    """The ``KeyStore`` port on key files: ``KEY`` now, ``KEY.new`` during a rotation; after it the old key
    is kept as ``KEY.old`` (it opens only old backups). With ``fixed`` (a key from
    ``INDSATS_KEY``) the new key stays in ``pending`` and the installation points its setting at it."""

    def __init__(self, key_file: Path, *, pending: Path | None = None, fixed: bytes | None = None) -> None:
        self.key_file = key_file
        self.pending_file = pending or pending_path(key_file)
        self.fixed = fixed

    def current(self) -> bytes | None:
        return self.fixed if self.fixed is not None else read_key(self.key_file)

    def pending(self) -> bytes | None:
        return read_key(self.pending_file)

    def write_pending(self, key: bytes) -> None:
        temporary = self.pending_file.with_name(self.pending_file.name + ".tmp")
        temporary.unlink(missing_ok=True)
        write_key(temporary, key)
        os.replace(temporary, self.pending_file)
        _sync_directory(self.pending_file.parent)

    def promote_pending(self) -> None:
        key = self.pending()
        if key is None or self.fixed is not None:
            return
        old = read_key(self.key_file)
        if old is not None and old != key:
            kept = self.key_file.with_name(self.key_file.name + ".old")
            temporary = kept.with_name(kept.name + ".tmp")
            temporary.unlink(missing_ok=True)
            write_key(temporary, old)
            os.replace(temporary, kept)
        os.replace(self.pending_file, self.key_file)
        _sync_directory(self.key_file.parent)

    def describe(self) -> str:
        return str(self.pending_file)


def _sync_directory(path: Path) -> None:
    """A rename is durable only once its directory is flushed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
