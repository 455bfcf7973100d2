"""The working calendar and deadline durations: holidays, half days, DST and the hard cases, by hand."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indsats.engine.time.calendar import CalendarConfig, ClosedDay, ClosedReason, WorkingCalendar
from indsats.engine.time.clock import LOCAL_TZ, UTC, localize
from indsats.engine.time.durations import Duration, DurationUnit, parse_duration
from indsats.errors import Invalid

DEFAULT_CALENDAR = WorkingCalendar()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Europe/Copenhagen wall-clock time, as the tests write their timelines."""
    return localize(datetime(year, month, day, hour, minute), LOCAL_TZ)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


def add(calendar: WorkingCalendar, start: datetime, duration: str) -> datetime:
    return calendar.add(start, parse_duration(duration))


# --- weekdays and weekends -------------------------------------------------------------------


def test_friday_afternoon_deadline_moves_to_monday(calendar: WorkingCalendar) -> None:
    # Fri 13:00 → 30 min until 13:30, the remaining 3 h 30 min run from Mon 08:00.
    assert add(calendar, local(2026, 3, 6, 13, 0), "4 working hours") == local(2026, 3, 9, 11, 30)


def test_deadline_is_returned_in_utc(calendar: WorkingCalendar) -> None:
    deadline = add(calendar, local(2026, 3, 2, 9, 0), "1 working hour")
    assert deadline.tzinfo is UTC
    assert deadline == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_working_hours_that_end_exactly_at_closing_end_that_day(calendar: WorkingCalendar) -> None:
    assert add(calendar, local(2026, 3, 6, 13, 0), "30 working minutes") == local(2026, 3, 6, 13, 30)


def test_one_working_day_from_thursday_afternoon_is_clamped_to_friday_closing(
    calendar: WorkingCalendar,
) -> None:
    assert add(calendar, local(2026, 3, 5, 15, 0), "1 working day") == local(2026, 3, 6, 13, 30)


def test_working_days_end_at_the_closing_of_their_last_day(calendar: WorkingCalendar) -> None:
    # Thu 10:15 + 3 working days: Fri, Mon, Tue; the deadline is Tuesday's closing, not 10:15.
    assert add(calendar, local(2026, 3, 5, 10, 15), "3 working days") == local(2026, 3, 10, 16, 0)


def test_five_working_days_from_friday_afternoon_end_the_following_friday_at_closing(
    calendar: WorkingCalendar,
) -> None:
    assert add(calendar, local(2026, 3, 6, 14, 0), "5 working days") == local(2026, 3, 13, 13, 30)
    assert add(calendar, local(2026, 3, 6, 14, 0), "5 hverdage") == local(2026, 3, 13, 13, 30)
    assert add(calendar, local(2026, 3, 6, 14, 0), "5 arbejdsdage") == local(2026, 3, 13, 13, 30)


def test_working_days_from_after_closing_count_from_the_next_day(calendar: WorkingCalendar) -> None:
    # Fri 17:00 is still Friday: the first working day after it is Monday, which ends at 16:00.
    assert add(calendar, local(2026, 3, 6, 17, 0), "1 working day") == local(2026, 3, 9, 16, 0)
    # Saturday is day 0 as well: Monday is the first working day after it.
    assert add(calendar, local(2026, 3, 7, 11, 0), "1 working day") == local(2026, 3, 9, 16, 0)


def test_working_time_between_spans_only_open_time_across_a_weekend(calendar: WorkingCalendar) -> None:
    friday_noon, monday_ten = local(2026, 3, 6, 12, 0), local(2026, 3, 9, 10, 0)
    assert calendar.working_time_between(friday_noon, monday_ten) == timedelta(hours=3, minutes=30)
    assert calendar.working_time_between(monday_ten, friday_noon) == -timedelta(hours=3, minutes=30)
    assert calendar.working_time_between(friday_noon, friday_noon) == timedelta(0)


def test_next_open_is_the_instant_itself_inside_open_time(calendar: WorkingCalendar) -> None:
    assert calendar.next_open(local(2026, 3, 4, 11, 0)) == local(2026, 3, 4, 11, 0)


def test_next_open_after_friday_closing_is_monday_morning(calendar: WorkingCalendar) -> None:
    assert calendar.next_open(local(2026, 3, 6, 13, 30)) == local(2026, 3, 9, 8, 0)
    assert calendar.next_open(local(2026, 3, 7, 12, 0)) == local(2026, 3, 9, 8, 0)
    assert calendar.next_open(local(2026, 3, 9, 6, 0)).tzinfo is UTC


# --- holidays ---------------------------------------------------------------------------------


def test_easter_closes_maundy_thursday_good_friday_and_easter_monday(calendar: WorkingCalendar) -> None:
    assert [calendar.is_open_day(date(2026, 4, day)) for day in range(1, 8)] == [
        True,  # Wed 1 Apr
        False,  # Skærtorsdag
        False,  # Langfredag
        False,  # Saturday
        False,  # Påskedag
        False,  # Anden påskedag
        True,  # Tue 7 Apr
    ]
    # Wed 15:00 → one hour that day, the second on Tue 7 April.
    assert add(calendar, local(2026, 4, 1, 15, 0), "2 working hours") == local(2026, 4, 7, 9, 0)
    assert add(calendar, local(2026, 4, 1, 10, 0), "1 working day") == local(2026, 4, 7, 16, 0)


def test_six_hverdage_from_before_christmas_end_on_5_january_at_closing(calendar: WorkingCalendar) -> None:
    # 23 Dec, 28, 29, 30 Dec, 4 Jan, 5 Jan: 24–27 Dec, 31 Dec and 1 Jan are closed.
    assert add(calendar, local(2026, 12, 22, 10, 0), "6 hverdage") == local(2027, 1, 5, 16, 0)
    assert add(calendar, local(2026, 12, 22, 10, 0), "6 working days") == local(2027, 1, 5, 16, 0)


def test_christmas_eve_and_new_years_eve_are_closed(calendar: WorkingCalendar) -> None:
    assert not calendar.is_open_day(date(2026, 12, 24))
    assert not calendar.is_open_day(date(2026, 12, 31))
    assert calendar.opening(date(2026, 12, 24)) is None
    assert calendar.is_open_day(date(2026, 12, 30))


def test_grundlovsdag_is_closed(calendar: WorkingCalendar) -> None:
    assert not calendar.is_open_day(date(2026, 6, 5))
    assert add(calendar, local(2026, 6, 4, 15, 0), "2 working hours") == local(2026, 6, 8, 9, 0)


def test_a_deadline_started_on_a_holiday_counts_from_the_next_opening(calendar: WorkingCalendar) -> None:
    easter_monday = local(2026, 4, 6, 10, 0)
    assert add(calendar, easter_monday, "1 working hour") == local(2026, 4, 7, 9, 0)
    assert add(calendar, easter_monday, "1 working day") == local(2026, 4, 7, 16, 0)
    assert calendar.next_open(easter_monday) == local(2026, 4, 7, 8, 0)


def test_store_bededag_is_closed_in_2023_and_open_from_2024(calendar: WorkingCalendar) -> None:
    assert not calendar.is_open_day(date(2023, 5, 5))
    assert calendar.is_open_day(date(2024, 4, 26))
    assert "Store bededag" in {day.name for day in calendar.closed_days(2023)}
    assert "Store bededag" not in {day.name for day in calendar.closed_days(2024)}


def test_closed_days_list_the_named_days_of_2026_with_their_danish_names(
    calendar: WorkingCalendar,
) -> None:
    public, by_law = ClosedReason.public_holiday, ClosedReason.deadline_law
    assert calendar.closed_days(2026) == [
        ClosedDay(date=date(2026, 1, 1), name="Nytårsdag", reason=public),
        ClosedDay(date=date(2026, 4, 2), name="Skærtorsdag", reason=public),
        ClosedDay(date=date(2026, 4, 3), name="Langfredag", reason=public),
        ClosedDay(date=date(2026, 4, 5), name="Påskedag", reason=public),
        ClosedDay(date=date(2026, 4, 6), name="Anden påskedag", reason=public),
        ClosedDay(date=date(2026, 5, 14), name="Kristi himmelfartsdag", reason=public),
        ClosedDay(date=date(2026, 5, 24), name="Pinsedag", reason=public),
        ClosedDay(date=date(2026, 5, 25), name="Anden pinsedag", reason=public),
        ClosedDay(date=date(2026, 6, 5), name="Grundlovsdag", reason=by_law),
        ClosedDay(date=date(2026, 12, 24), name="Juleaftensdag", reason=by_law),
        ClosedDay(date=date(2026, 12, 25), name="Juledag", reason=public),
        ClosedDay(date=date(2026, 12, 26), name="Anden juledag", reason=public),
        ClosedDay(date=date(2026, 12, 31), name="Nytårsaften", reason=by_law),
    ]


# --- half days --------------------------------------------------------------------------------


def test_first_of_may_closes_at_noon(calendar: WorkingCalendar) -> None:
    assert calendar.opening(date(2026, 5, 1)) == (local(2026, 5, 1, 8, 0), local(2026, 5, 1, 12, 0))
    assert add(calendar, local(2026, 5, 1, 11, 0), "2 working hours") == local(2026, 5, 4, 9, 0)
    assert add(calendar, local(2026, 4, 30, 12, 30), "1 working day") == local(2026, 5, 1, 12, 0)


def test_first_of_may_is_a_full_day_without_the_half_day_setting() -> None:
    calendar = WorkingCalendar(CalendarConfig(half_days=()))
    assert calendar.opening(date(2026, 5, 1)) == (local(2026, 5, 1, 8, 0), local(2026, 5, 1, 13, 30))


# --- daylight saving time ---------------------------------------------------------------------


def test_monday_after_spring_forward_still_opens_at_eight_local(calendar: WorkingCalendar) -> None:
    assert calendar.opening(date(2026, 3, 30)) == (
        datetime(2026, 3, 30, 6, 0, tzinfo=UTC),  # 08:00 CEST
        datetime(2026, 3, 30, 14, 0, tzinfo=UTC),  # 16:00 CEST
    )
    assert add(calendar, local(2026, 3, 27, 13, 0), "2 working hours") == local(2026, 3, 30, 9, 30)
    assert add(calendar, local(2026, 3, 27, 10, 0), "1 working day") == local(2026, 3, 30, 16, 0)


def test_monday_after_fall_back_still_opens_at_eight_local(calendar: WorkingCalendar) -> None:
    assert calendar.opening(date(2026, 10, 26)) == (
        datetime(2026, 10, 26, 7, 0, tzinfo=UTC),  # 08:00 CET
        datetime(2026, 10, 26, 15, 0, tzinfo=UTC),  # 16:00 CET
    )
    assert add(calendar, local(2026, 10, 23, 13, 0), "2 working hours") == local(2026, 10, 26, 9, 30)
    assert add(calendar, local(2026, 10, 23, 10, 0), "1 working day") == local(2026, 10, 26, 16, 0)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # The clocks skip 02:00–03:00 on 29 March: 24 real hours read 25 hours on the wall.
        (local(2026, 3, 28, 12, 0), "24 hours", local(2026, 3, 29, 13, 0)),
        # The clocks repeat 02:00–03:00 on 25 October: 24 real hours read 23 hours on the wall.
        (local(2026, 10, 24, 12, 0), "24 hours", local(2026, 10, 25, 11, 0)),
        (local(2026, 10, 24, 12, 0), "90 minutes", local(2026, 10, 24, 13, 30)),
    ],
)
def test_elapsed_time_across_a_dst_change_is_real_time(
    calendar: WorkingCalendar, start: datetime, duration: str, expected: datetime
) -> None:
    deadline = add(calendar, start, duration)
    assert deadline == expected
    assert deadline - start == parse_duration(duration).elapsed


def test_working_time_between_across_spring_forward_counts_open_hours(calendar: WorkingCalendar) -> None:
    friday, monday = local(2026, 3, 27, 13, 0), local(2026, 3, 30, 9, 30)
    assert calendar.working_time_between(friday, monday) == timedelta(hours=2)


# --- describe ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(hours=10, minutes=30), "10 h 30 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(0), "0 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=50, minutes=5), "50 h 5 min"),
        (-timedelta(hours=2, minutes=30), "-2 h 30 min"),
        (timedelta(seconds=59), "0 min"),
    ],
)
def test_describe_shows_hours_and_minutes(span: timedelta, text: str) -> None:
    assert WorkingCalendar.describe(span) == text


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4 working hours", Duration(amount=4, unit=DurationUnit.hours, working=True)),
        ("1 Working Day", Duration(amount=1, unit=DurationUnit.days, working=True)),
        ("30 WORKING MINUTES", Duration(amount=30, unit=DurationUnit.minutes, working=True)),
        ("24 hours", Duration(amount=24, unit=DurationUnit.hours, working=False)),
        ("2 days", Duration(amount=2, unit=DurationUnit.days, working=False)),
        ("90 minutes", Duration(amount=90, unit=DurationUnit.minutes, working=False)),
        (" 1 week ", Duration(amount=1, unit=DurationUnit.weeks, working=False)),
        ("3 arbejdsdage", Duration(amount=3, unit=DurationUnit.days, working=True)),
        ("1 arbejdstime", Duration(amount=1, unit=DurationUnit.hours, working=True)),
        ("2 timer", Duration(amount=2, unit=DurationUnit.hours, working=False)),
        ("2 uger", Duration(amount=2, unit=DurationUnit.weeks, working=False)),
    ],
)
def test_durations_parse_in_english_and_danish(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1 working days", "1 working day"),
        ("6 working day", "6 working days"),
        ("24 HOURS", "24 hours"),
        ("1 weeks", "1 week"),
        ("5 arbejdsminutter", "5 working minutes"),
    ],
)
def test_durations_print_their_canonical_text(text: str, canonical: str) -> None:
    assert str(parse_duration(text)) == canonical


@pytest.mark.parametrize("text", ["0 hours", "-3 working days", "0 arbejdsdage"])
def test_zero_and_negative_durations_are_rejected(text: str) -> None:
    with pytest.raises(Invalid, match="deadlines must be positive"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["3 fortnights", "working 2", "1 working week", "two days", "", "4 working", "99999999 days", "3\nfortnights"],
)
def test_malformed_durations_name_the_text_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(Invalid, match=f"bad duration '{' '.join(text.split())}'") as raised:
        parse_duration(text)
    assert raised.value.exit_code == 5
    assert "\n" not in str(raised.value)


def test_working_durations_have_no_elapsed_span() -> None:
    assert parse_duration("90 minutes").elapsed == timedelta(minutes=90)
    with pytest.raises(ValueError, match="working time"):
        parse_duration("1 working day").elapsed  # noqa: B018


# --- configuration ----------------------------------------------------------------------------


def test_config_from_mapping_changes_hours_closed_dates_and_half_days() -> None:
    config = CalendarConfig.from_mapping(
        {
            "hours": {"fri": "08:00-15:00", "sat": "09:00-12:00", "sun": None},
            "closed": ["2026-12-23", date(2026, 12, 30)],
            "half_days": {"12-22": "12:00"},
        }
    )
    calendar = WorkingCalendar(config)
    assert config.hours[0] == (time(8), time(16))  # days left out keep their defaults
    assert calendar.opening(date(2026, 3, 6)) == (local(2026, 3, 6, 8, 0), local(2026, 3, 6, 15, 0))
    assert calendar.opening(date(2026, 3, 7)) == (local(2026, 3, 7, 9, 0), local(2026, 3, 7, 12, 0))
    assert calendar.opening(date(2026, 12, 22)) == (local(2026, 12, 22, 8, 0), local(2026, 12, 22, 12, 0))
    assert calendar.opening(date(2026, 5, 1)) == (local(2026, 5, 1, 8, 0), local(2026, 5, 1, 15, 0))
    assert not calendar.is_open_day(date(2026, 12, 23))
    assert ClosedDay(date=date(2026, 12, 30), name="Lukket", reason=ClosedReason.configured) in (
        calendar.closed_days(2026)
    )
    assert {config: "a config is hashable, so it can key a cache"}


def test_an_empty_mapping_gives_the_default_config() -> None:
    assert CalendarConfig.from_mapping({}) == CalendarConfig()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"hours": {"fri": "8-13"}}, "'hours.fri'"),
        ({"hours": {"fri": "16:00-08:00"}}, "'hours.fri'"),
        ({"hours": {"friday": "08:00-13:00"}}, "'hours.friday'"),
        ({"hours": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "closed")}, "'hours'"),
        ({"closed": ["2026-13-01"]}, "'closed[0]'"),
        ({"closed": "2026-12-23"}, "'closed'"),
        ({"half_days": {"5-1": "12:00"}}, "'half_days.5-1'"),
        ({"half_days": {"05-01": "noon"}}, "'half_days.05-01'"),
        ({"tz": "Europe/Aarhus"}, "'tz'"),
        ({"holidays": []}, "'holidays'"),
    ],
)
def test_bad_calendar_settings_are_invalid_and_name_the_key(settings: dict[str, object], named: str) -> None:
    with pytest.raises(Invalid, match=re.escape(named)):
        CalendarConfig.from_mapping(settings)


def test_a_calendar_that_never_opens_fails_instead_of_searching_forever() -> None:
    every_day = (date(2000, 1, 1) + timedelta(days=n) for n in range(366))
    never_open = CalendarConfig(half_days={day.strftime("%m-%d"): time(0) for day in every_day})
    with pytest.raises(Invalid, match="no open day"):
        WorkingCalendar(never_open).next_open(local(2026, 3, 2, 9, 0))


def test_naive_datetimes_are_rejected(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.add(datetime(2026, 3, 2, 9, 0), parse_duration("1 working hour"))


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    day=st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    minute=st.integers(min_value=0, max_value=24 * 60),
    amount=st.integers(min_value=1, max_value=200),
    unit=st.sampled_from(["working hours", "working minutes"]),
)
def test_working_time_between_a_start_and_its_deadline_is_the_duration(
    day: date, minute: int, amount: int, unit: str
) -> None:
    interval = DEFAULT_CALENDAR.opening(day)
    if interval is None:
        day = DEFAULT_CALENDAR.next_open(local(day.year, day.month, day.day)).astimezone(LOCAL_TZ).date()
        interval = DEFAULT_CALENDAR.opening(day)
        assert interval is not None
    opens, closes = interval
    start = opens + timedelta(minutes=minute % ((closes - opens) // timedelta(minutes=1)))
    duration = parse_duration(f"{amount} {unit}")
    deadline = DEFAULT_CALENDAR.add(start, duration)
    assert DEFAULT_CALENDAR.working_time_between(start, deadline) == timedelta(
        **{duration.unit.value: amount}
    )
