"""Writing files that hold personal data: created 0600, never over an existing file, flushed to disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from indsats.errors import Invalid


def write_private_json(path: Path, data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Invalid(f"{path} exists already; choose a new file name") from None
    except OSError as exc:
        raise Invalid(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise Invalid(f"cannot write {path}: {exc.strerror}; nothing was kept") from None


class PrivateFileWriter:
    """The ``PrivateFiles`` port on the local file system."""

    def write_private_json(self, path: Path, document: Any) -> None:
        write_private_json(Path(path), document)
