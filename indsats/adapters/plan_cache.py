"""The plan cache on disk: validated plans' plain form, one private file per plan version.

The folder's name carries a fingerprint of the code that writes and reads the form (the plan schema and
``plans/plain.py``), so a changed schema never reads an old entry. Entries are written atomically (a
0600 file renamed into place); anything unreadable counts as absent, and any failure to write is
ignored: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

_ENGINE_PLANS = Path(__file__).resolve().parent.parent / "engine" / "plans"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("schema.py", "plain.py", "checks.py"):
        digest.update((_ENGINE_PLANS / name).read_bytes())
    return digest.hexdigest()[:12]


class PlanCacheFolder:
    """``PlanCache`` in ``folder`` (``<data dir>/cache``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"plans-{code_fingerprint()}" / f"{key}.json"

    def read(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def write(self, key: str, text: str) -> None:
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, path)
        except OSError:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass
