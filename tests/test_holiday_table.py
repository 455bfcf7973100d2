"""The Danish public holidays shipped in ``indsats.engine.time.holiday_table`` are exactly what ``holidays``
says, year by year: the package stays the source of truth, the table only spares every command its import.

When ``holidays`` changes (a new version, a holiday abolished), regenerate the table and review the diff:
``python tests/test_holiday_table.py > indsats/engine/time/holiday_table.py``.
"""

from __future__ import annotations

import sys
from datetime import date

FIRST_YEAR, LAST_YEAR = 2000, 2100


def from_holidays(year: int) -> list[tuple[date, str]]:
    import holidays

    return sorted(holidays.country_holidays("DK", years=year, categories=("public",), language="da").items())


def render() -> str:
    """The module's text, from ``holidays``."""
    by_year = {year: from_holidays(year) for year in range(FIRST_YEAR, LAST_YEAR + 1)}
    names = sorted({name for days in by_year.values() for _, name in days})
    lines = [
        '"""Denmark\'s public holidays (``holidays``, category public, in Danish), computed once and shipped, so no',
        "command imports ``holidays`` for the years it covers (tests/test_holiday_table.py checks it against the",
        "package; regenerate it from there). Outside these years the calendar asks ``holidays`` itself.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"FIRST_YEAR, LAST_YEAR = {FIRST_YEAR}, {LAST_YEAR}",
        f"NAMES = {tuple(names)!r}",
        "# year → (month, day, index into NAMES) of each public holiday, in date order.",
        "TABLE: dict[int, tuple[tuple[int, int, int], ...]] = {",
    ]
    for year, days in by_year.items():
        cells = ", ".join(f"({d.month}, {d.day}, {names.index(n)})" for d, n in days)
        lines.append(f"    {year}: ({cells},),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_the_shipped_table_is_what_holidays_says_for_every_year_it_covers() -> None:
    from indsats.engine.time import holiday_table

    assert (holiday_table.FIRST_YEAR, holiday_table.LAST_YEAR) == (FIRST_YEAR, LAST_YEAR)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        shipped = [(date(year, m, d), holiday_table.NAMES[n]) for m, d, n in holiday_table.TABLE[year]]
        assert shipped == from_holidays(year), f"{year}: regenerate the table (see this file's docstring)"


def test_the_calendar_reads_the_table_and_asks_holidays_only_outside_it() -> None:
    from indsats.engine.time.calendar import ClosedReason, WorkingCalendar

    calendar = WorkingCalendar()
    for year in (2026, 1999, 2101):
        public = [(c.date, c.name) for c in calendar.closed_days(year) if c.reason is ClosedReason.public_holiday]
        assert public == from_holidays(year)


if __name__ == "__main__":
    sys.stdout.write(render())
