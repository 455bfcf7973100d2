"""What every repository shares: the connection of one unit of work, the dialect, and the row helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from indsats.engine.log.canonical import canonical_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

Row = dict[str, Any]


ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE reads an index: approximate, and as good for our plans


class Queries:
    """Statements over one connection, inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_postgresql = conn.dialect.name == "postgresql"

    def refresh_statistics(self) -> None:
        """Refresh what the query planner knows of the tables (``ANALYZE``): without it SQLite plans by rule of
        thumb (``indsats report`` ran ~15 % slower at 100,000 cases). SQLite reads at most ``ANALYSIS_LIMIT``
        rows an index (~10 ms at 100,000 cases); PostgreSQL samples as it always does (its autovacuum analyzes
        too, when it gets round to it)."""
        if not self.is_postgresql:
            self.conn.exec_driver_sql(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        self.conn.exec_driver_sql("ANALYZE")


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
