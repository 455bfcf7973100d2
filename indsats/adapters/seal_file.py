"""The seal file: one JSON line per seal, appended and flushed to disk (the ``SealLog`` port).

The installation copies it elsewhere (another machine, write-once storage): a seal removed from the
database is still in the copy, and ``verify --seals COPY`` says so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from indsats.adapters.files import os_reason
from indsats.i18n import _
from indsats.errors import Invalid


class SealFile:
    """Seals appended to ``path`` (created 0600 with its directory)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise Invalid(_("cannot append to the seal file {path}: {error}").format(path=self.path, error=os_reason(exc))) from None

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise Invalid(_("cannot read the seal file {path}: {error}").format(path=self.path, error=os_reason(exc))) from None
        records: list[dict[str, Any]] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            records.append(value if isinstance(value, dict) else {"unreadable": line[:80]})
        return records

    def describe(self) -> str:
        return str(self.path)
