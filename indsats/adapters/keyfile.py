"""Key files on disk: written 0600, and refused when anyone but the owner may read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from indsats.errors import Invalid, NotAllowed


def read_key(path: Path) -> bytes | None:
    """The key in ``path``; None if there is no such file; ``NotAllowed`` if others may read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotAllowed(f"cannot read the key file {path}: {exc.strerror}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotAllowed(
            f"the key file {path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 {path}"
        )
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise NotAllowed(f"cannot read the key file {path}: {exc.strerror}") from None


def write_key(path: Path, key: bytes) -> None:
    """Write a new key file readable by its owner only; never overwrite one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Invalid(f"{path} exists already; a key file is never overwritten") from None
    except OSError as exc:
        raise Invalid(f"cannot write the key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
