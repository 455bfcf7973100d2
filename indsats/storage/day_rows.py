"""``verify``'s check of the step report's day rows (``indsats.storage.visit_days``): each row is what the visits
left and the escalations sent add up to, none is missing and none counts what is not there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from indsats.storage.visit_days import LEFT_VISITS, SENT_ESCALATIONS, add_up_escalations, add_up_visits, stored_time


def expected_day_rows(read: Callable[[str], Iterable[Any]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The day rows the visits left and the escalations sent add up to (``visit_days``, ``escalation_days``):
    ``read`` runs a query and gives its rows."""
    visits = add_up_visits((p, s, stored_time(a), stored_time(b), t, o, u, k) for p, s, a, b, t, o, u, k
                           in read(LEFT_VISITS))
    sent = add_up_escalations((p, s, stored_time(at)) for p, s, at in read(SENT_ESCALATIONS))
    return visits, sent


def day_row_breaks(table: str, expected: Iterable[tuple[Any, ...]], stored: Iterable[tuple[Any, ...]], *,
                   keys: int, shown: int = 10) -> list[str]:
    """``verify``'s findings for one day table: rows that are not what the visits (or events) add up to, rows
    missing and rows too many; at most ``shown`` named, then how many more."""
    want = {tuple(r[:keys]): tuple(int(v) for v in r[keys:]) for r in expected}
    have = {tuple(r[:keys]): tuple(int(v) for v in r[keys:]) for r in stored}
    found = []
    for key in sorted(want.keys() | have.keys()):
        if want.get(key) != have.get(key):
            plan_id, state, day, *rest = key
            where = f"{table}: plan '{plan_id}' state '{state}' {date.fromordinal(int(day))}"
            where += "".join(f" {int(v)}" for v in rest)
            if key not in have:
                found.append(f"{where}: missing, the rows it counts give {want[key]} (removed)")
            elif key not in want:
                found.append(f"{where}: {have[key]} counts nothing there is (edited)")
            else:
                found.append(f"{where}: {have[key]}, the rows it counts give {want[key]} (edited)")
    if len(found) > shown:
        found[shown:] = [f"{table}: {len(found) - shown} more day rows like these"]
    return found
