"""Writing files that hold personal data: created 0600, never over an existing file, flushed to disk."""

from __future__ import annotations

import json
import errno
import os
from pathlib import Path
from typing import Any

from indsats.i18n import N_, _
from indsats.errors import IndsatsError, Invalid


def create_private(
    path: Path,
    *,
    exists: str = "exists already; choose a new file name",
    name: str = "",
    error: type[IndsatsError] = Invalid,
) -> int:
    """Create the new file ``path`` readable and writable by its owner only (0600) and open it for writing.

    ``O_EXCL`` refuses an existing file atomically, even when two writers race for one name, so nothing is
    ever overwritten and the mode is right from the first byte.

    :param exists: what the error says after the path when the file exists.
    :param name: what the file is, for the error when it cannot be created ("the key file ").
    :param error: the error raised (``Invalid``; ``StorageUnavailable`` for the database file).
    :return: the open file descriptor.
    """
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        said = _(exists)
        raise error(f"{path} {said}") from None
    except OSError as exc:
        raise error(_("cannot create {name}{path}: {error}").format(name=_(name) if name else "", path=path,
                                                                    error=os_reason(exc))) from None


def private_json_text(data: Any) -> str:
    """The text ``write_private_json`` writes for ``data``."""
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def write_private_json(path: Path, data: Any) -> None:
    write_private_text(path, private_json_text(data))


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to the new file ``path`` (0600), or ``Invalid``; never over an existing file.
    ``-`` is stdout (the caller's pipe)."""
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
        return
    fd = create_private(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise Invalid(_("cannot write {path}: {error}; nothing was kept").format(path=path, error=os_reason(exc))) from None


def replace_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a temporary file beside it, 0600, renamed over it), or
    ``Invalid``: a reader (node_exporter's textfile collector) sees the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise Invalid(_("cannot write {path}: {error}").format(path=path, error=os_reason(exc))) from None


class PrivateFileWriter:
    """The ``PrivateFiles`` port on the local file system."""

    def write_private_json(self, path: Path, document: Any) -> None:
        write_private_json(Path(path), document)


class CapturedFiles:
    """The ``PrivateFiles`` port for ``indsats server``: it keeps each file's text for the caller to write on
    its own side (as its own user, relative to its own directory); the server writes nothing."""

    def __init__(self) -> None:
        self.files: list[tuple[str, str]] = []

    def write_private_json(self, path: Path, document: Any) -> None:
        self.files.append((str(path), private_json_text(document)))


# The operating system's reasons a person is most likely to read, as the C library says them in English.
_OS_REASONS = {
    errno.ENOENT: N_("No such file or directory"),
    errno.EACCES: N_("Permission denied"),
    errno.EPERM: N_("Operation not permitted"),
    errno.EEXIST: N_("File exists"),
    errno.EISDIR: N_("Is a directory"),
    errno.ENOTDIR: N_("Not a directory"),
    errno.ENOSPC: N_("No space left on device"),
    errno.EROFS: N_("Read-only file system"),
    errno.EADDRINUSE: N_("Address already in use"),
}


def os_reason(exc: OSError) -> str:
    """Why an operating-system call failed, in the reader's language where the reason is a common one."""
    known = _OS_REASONS.get(exc.errno) if exc.errno is not None else None
    return _(known) if known else (exc.strerror or str(exc))
