"""Logging for the long-running commands (``worker``, ``server``): stdlib ``logging``, text or JSON lines.

One line per sweep and per delivery, with the time, the level and the facts as fields (reminder id,
case id, state, outcome) — never a subject reference, a note or a name. An unexpected error is logged
with its traceback.

>>> configure_logging(level="INFO", fmt="json")               # doctest: +SKIP
>>> logging.getLogger("indsats.worker").info("sweep", extra={"fields": {"sent": 3}})   # doctest: +SKIP
{"time": "2026-03-02T08:00:00.123Z", "level": "INFO", "logger": "indsats.worker", "message": "sweep", "sent": 3}
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

# A mail server's reply may quote an address ("550 <lea@example.org> unknown"): an address is personal data.
_ADDRESS = re.compile(r"[^\s<>\"',;:]+@[^\s<>\"',;]+")


def scrub(text: str | None) -> str | None:
    """``text`` with e-mail addresses replaced, for a log line."""
    return None if text is None else _ADDRESS.sub("<address>", text)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    found = getattr(record, "fields", None)
    return dict(found) if isinstance(found, dict) else {}


def _utc(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, tz=timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the record's fields, a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _utc(record), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}
        # A field never replaces the time, level, logger or message.
        line.update((k, v) for k, v in fields_of(record).items() if k not in line)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-03-02T08:00:00.123Z INFO indsats.worker sweep sent=3 failed=0`` and a traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in fields_of(record).items() if v is not None)
        line = f"{_utc(record)} {record.levelname} {record.name} {record.getMessage()}"
        if extra:
            line += " " + extra
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(*, level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send the ``indsats`` loggers (and APScheduler's warnings) to ``stream`` (stderr) as text or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name, at in (("indsats", level.upper()), ("apscheduler", "WARNING"), ("uvicorn", level.upper())):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(at)
        logger.propagate = False
