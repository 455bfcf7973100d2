"""The last sweep's heartbeat: a small file in the data directory that ``worker`` and ``remind`` rewrite
after every sweep, and ``indsats health`` reads. Atomic (a temporary file renamed), mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

NAME = "last-sweep.json"


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    at: datetime
    worker: str
    summary: str  # counts only, e.g. "3 sent, 0 failed"


def write_heartbeat(data_dir: Path, beat: Heartbeat) -> None:
    """Best effort: a data directory that cannot be written must not stop the sweep."""
    path = data_dir / NAME
    temporary = path.with_name(f".{NAME}.{os.getpid()}")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"at": beat.at.isoformat(), "worker": beat.worker, "summary": beat.summary}, out)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def read_heartbeat(data_dir: Path) -> Heartbeat | None:
    try:
        found = json.loads((data_dir / NAME).read_text(encoding="utf-8"))
        return Heartbeat(at=datetime.fromisoformat(found["at"]), worker=str(found["worker"]),
                         summary=str(found["summary"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
