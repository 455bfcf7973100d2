"""Deadlines as Danish practice counts them, on the calendar alone: end of day, months, ISO 8601, statutory.

Each rule is a timeline on the default calendar (Mon–Thu 08:00–16:00, Fri 08:00–13:30) or on one with a
configured July closure; ``indsats calendar due`` prints the same answers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from indsats.engine.time.calendar import CalendarConfig, WorkingCalendar, add_months
from indsats.engine.time.clock import LOCAL_TZ, localize
from indsats.engine.time.durations import Duration, DurationUnit, parse_duration
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

JULY_SHUTDOWN = frozenset(date(2026, 7, 1) + timedelta(days=n) for n in range(31))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return localize(datetime(year, month, day, hour, minute), LOCAL_TZ)


def add(calendar: WorkingCalendar, start: datetime, duration: str, *, statutory: bool = False) -> datetime:
    return calendar.add(start, parse_duration(duration), statutory=statutory)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


# -- end of day ---------------------------------------------------------------------------------


def test_friday_14_plus_5_working_days_is_the_following_friday_at_closing(calendar: WorkingCalendar) -> None:
    deadline = add(calendar, local(2026, 3, 6, 14, 0), "5 working days")
    assert deadline == local(2026, 3, 13, 13, 30)
    assert calendar.is_closing(deadline)
    # Reminded at that closing, not the next morning.
    assert calendar.deliverable(deadline) == deadline


def test_22_december_10_plus_6_hverdage_is_5_january_2027(calendar: WorkingCalendar) -> None:
    assert add(calendar, local(2026, 12, 22, 10, 0), "6 hverdage") == local(2027, 1, 5, 16, 0)


def test_calendar_days_end_at_the_closing_of_their_last_day(calendar: WorkingCalendar) -> None:
    # Mon 09:00 + 2 days is Wednesday, at its closing.
    assert add(calendar, local(2026, 3, 2, 9, 0), "2 days") == local(2026, 3, 4, 16, 0)
    assert add(calendar, local(2026, 3, 2, 9, 0), "P2D") == local(2026, 3, 4, 16, 0)


def test_a_deadline_that_would_end_on_a_closed_day_ends_at_the_end_of_the_next_working_day(
    calendar: WorkingCalendar,
) -> None:
    # Thu 10:00 + 2 days is Saturday: closed, so the deadline is Monday's closing.
    assert add(calendar, local(2026, 3, 5, 10, 0), "2 days") == local(2026, 3, 9, 16, 0)
    # Thu 26 Mar + 1 week is Skærtorsdag: closed, as are the days to Anden påskedag, so Tuesday 7 April.
    assert add(calendar, local(2026, 3, 26, 10, 0), "1 week") == local(2026, 4, 7, 16, 0)


def test_working_hours_keep_their_arithmetic_and_an_instant_at_closing_is_that_days_closing(
    calendar: WorkingCalendar,
) -> None:
    assert add(calendar, local(2026, 3, 6, 13, 0), "4 working hours") == local(2026, 3, 9, 11, 30)
    at_closing = add(calendar, local(2026, 3, 2, 12, 0), "4 working hours")
    assert at_closing == local(2026, 3, 2, 16, 0)
    assert calendar.deliverable(at_closing) == at_closing  # never Tuesday 08:00
    assert calendar.deliverable(local(2026, 3, 2, 16, 1)) == local(2026, 3, 3, 8, 0)
    assert add(calendar, local(2026, 3, 2, 12, 0), "PT4H") == local(2026, 3, 2, 16, 0)  # elapsed: same here


# -- months -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "last"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 8, 31), 4, date(2026, 12, 31)),
        (date(2026, 10, 15), 4, date(2027, 2, 15)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
    ],
)
def test_months_are_calendar_months_that_stop_at_the_months_last_day(start: date, months: int, last: date) -> None:
    assert add_months(start, months) == last


def test_31_january_plus_1_month_is_the_end_of_28_february(calendar: WorkingCalendar) -> None:
    # 28 February 2030 is a Thursday: open, so the deadline is its closing.
    assert add(calendar, local(2030, 1, 31, 10, 0), "1 month") == local(2030, 2, 28, 16, 0)
    assert add(calendar, local(2028, 1, 31, 10, 0), "1 måned") == local(2028, 2, 29, 16, 0)
    # 28 February 2027 is a Sunday: the deadline moves to Monday 1 March, at its closing.
    assert add(calendar, local(2027, 1, 31, 10, 0), "P1M") == local(2027, 3, 1, 16, 0)


def test_four_months_in_danish(calendar: WorkingCalendar) -> None:
    assert add(calendar, local(2026, 3, 2, 9, 0), "4 måneder") == local(2026, 7, 2, 16, 0)


# -- ISO 8601 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", Duration(amount=4, unit=DurationUnit.hours, working=False)),
        ("P6D", Duration(amount=6, unit=DurationUnit.days, working=False)),
        ("pt30m", Duration(amount=30, unit=DurationUnit.minutes, working=False)),
        ("P2W", Duration(amount=2, unit=DurationUnit.weeks, working=False)),
        ("P1M", Duration(amount=1, unit=DurationUnit.months, working=False)),
        ("P1Y", Duration(amount=12, unit=DurationUnit.months, working=False)),
        ("6 hverdage", Duration(amount=6, unit=DurationUnit.days, working=True)),
        ("1 hverdag", Duration(amount=1, unit=DurationUnit.days, working=True)),
        ("4 months", Duration(amount=4, unit=DurationUnit.months, working=False)),
    ],
)
def test_iso_8601_hverdage_and_months_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P1DT2H", "PT0H", "P", "PT4S", "1 working month", "2 working hverdage", "P999Y"])
def test_durations_with_no_single_rule_are_refused(text: str) -> None:
    with pytest.raises(Invalid, match="bad duration"):
        parse_duration(text)


# -- statutory ----------------------------------------------------------------------------------


def test_a_statutory_deadline_through_a_configured_july_closure_is_not_stretched() -> None:
    calendar = WorkingCalendar(CalendarConfig(closed=JULY_SHUTDOWN))
    start = local(2026, 6, 29, 10, 0)  # Monday
    # The installation's own count runs past the shutdown: Tue 30 Jun, then 3, 4, 5, 6 August.
    assert add(calendar, start, "5 working days") == local(2026, 8, 6, 16, 0)
    # The law closes none of July: Tue 30 Jun, Wed 1, Thu 2, Fri 3 (13:30 on Fridays), Mon 6 July.
    assert add(calendar, start, "5 working days", statutory=True) == local(2026, 7, 6, 16, 0)
    # A calendar-day deadline ending in the shutdown is not moved past it either.
    assert add(calendar, start, "7 days", statutory=True) == local(2026, 7, 6, 16, 0)
    assert add(calendar, start, "7 days") == local(2026, 8, 3, 16, 0)


def test_a_statutory_deadline_still_skips_the_days_the_law_closes() -> None:
    calendar = WorkingCalendar(CalendarConfig(closed=JULY_SHUTDOWN))
    assert add(calendar, local(2026, 12, 22, 10, 0), "6 hverdage", statutory=True) == local(2027, 1, 5, 16, 0)
    assert add(calendar, local(2026, 6, 4, 10, 0), "1 working day", statutory=True) == local(2026, 6, 8, 16, 0)


def test_the_legal_calendar_has_no_half_days_and_no_configured_closures() -> None:
    calendar = WorkingCalendar(CalendarConfig(closed=JULY_SHUTDOWN))
    assert calendar.legal.opening(date(2026, 5, 1)) == (local(2026, 5, 1, 8, 0), local(2026, 5, 1, 13, 30))
    assert calendar.legal.is_open_day(date(2026, 7, 15))
    assert not calendar.legal.is_open_day(date(2026, 7, 18))  # a Saturday


# -- the command --------------------------------------------------------------------------------


def test_calendar_due_prints_the_instant_and_the_day(invoke: Callable[..., Result], cli_org: object) -> None:
    result = invoke(["calendar", "due", "2026-03-06T14:00", "5", "hverdage"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2026-03-13 13:30 (Friday at closing) — 5 working days from 2026-03-06 14:00")


def test_calendar_due_statutory_ignores_the_configured_july_closure(
    invoke: Callable[..., Result], tmp_path: Path, cli_org: object
) -> None:
    config = tmp_path / "indsats.toml"
    config.write_text('[calendar]\nclosed = [' + ", ".join(f'"{d}"' for d in sorted(JULY_SHUTDOWN)) + "]\n")

    local_count = invoke(["calendar", "due", "2026-06-29T10:00", "P7D"], INDSATS_CONFIG=str(config))
    statutory = invoke(["calendar", "due", "2026-06-29T10:00", "P7D", "--statutory"], INDSATS_CONFIG=str(config))

    assert local_count.exit_code == 0, local_count.output
    assert local_count.stdout.startswith("2026-08-03 16:00 (Monday at closing)")
    assert statutory.exit_code == 0, statutory.output
    assert statutory.stdout.startswith("2026-07-06 16:00 (Monday at closing) — 7 days (statutory)")


def test_calendar_due_refuses_a_mixed_iso_duration_with_one_line(
    invoke: Callable[..., Result], cli_org: object
) -> None:
    result = invoke(["calendar", "due", "2026-03-06T14:00", "P1DT2H"])

    assert result.exit_code == 5
    assert result.stderr.startswith("Error: bad duration 'P1DT2H'")
    assert result.stderr.count("\n") == 1
