"""What every repository shares: the connection of one unit of work, the dialect, and the row helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from indsats.engine.log.canonical import canonical_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = dict[str, Any]


class Queries:
    """Statements over one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_postgresql = conn.dialect.name == "postgresql"


def by_columns(rows: Iterable[Row], key: str) -> dict[tuple[str, ...], list[Row]]:
    """Rows grouped by the columns they set (besides ``key``), so each group is one executemany."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(c for c in row if c != key)), []).append(row)
    return groups


def dumps(payload: dict[str, Any]) -> str:
    """A payload as stored: its canonical JSON (the form its digest is taken over)."""
    return canonical_json(payload)


def event_row(row: Any) -> Row:
    values = dict(row)
    values.pop("id", None)
    if values["payload"] is not None:
        try:
            values["payload"] = json.loads(values["payload"])
        except ValueError:  # edited by hand into something that is not JSON: verify reports the digest
            values["payload"] = {"unreadable": values["payload"]}
    return values
