"""The Danish working-time calendar: when the municipality is open, and how deadlines add up on it.

Open time is the weekday opening hours minus public holidays, Grundlovsdag, 24 and 31 December and
configured closed dates; half days (1 May by default) close early. Pure: every instant is passed in.

>>> from datetime import datetime
>>> from indsats.engine.time.clock import LOCAL_TZ
>>> from indsats.engine.time.durations import parse_duration
>>> friday = datetime(2026, 3, 6, 13, 0, tzinfo=LOCAL_TZ)
>>> WorkingCalendar().add(friday, parse_duration("4 working hours")).astimezone(LOCAL_TZ).isoformat()
'2026-03-09T11:30:00+01:00'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from indsats.engine.time.clock import LOCAL_TZ, UTC, as_utc
from indsats.engine.time.durations import Duration, DurationUnit
from indsats.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULT_HOURS: tuple[tuple[time, time] | None, ...] = (
    (time(8), time(16)),
    (time(8), time(16)),
    (time(8), time(16)),
    (time(8), time(16)),
    (time(8), time(13, 30)),
    None,
    None,
)

# KL agreements: 1 May is a half day, closing at noon.
DEFAULT_HALF_DAYS: tuple[tuple[str, time], ...] = (("05-01", time(12)),)

# Not public holidays, but Danish rules on time limits treat them like one (the `holidays` package
# files them under "optional", together with 1 May, which is a half day instead).
_DEADLINE_CLOSED = ((6, 5, "Grundlovsdag"), (12, 24, "Juleaftensdag"), (12, 31, "Nytårsaften"))

# Only a broken configuration closes this many days in a row; stop rather than search forever.
_SEARCH_DAYS = 800

_CLOSED_WORDS = frozenset({"", "closed", "lukket", "none"})
_CLOCK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_SETTINGS = ("closed", "half_days", "hours", "tz")


def _month_day(text: str) -> tuple[int, int] | None:
    match = _MONTH_DAY.match(text)
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    try:
        date(2000, month, day)  # a leap year, so that 02-29 is allowed
    except ValueError:
        return None
    return month, day


class ClosedReason(Enum):
    """Why a named day is closed."""

    public_holiday = "public holiday"
    deadline_law = "closed for deadlines by Danish law"
    configured = "closed by configuration"


@dataclass(frozen=True, kw_only=True)
class ClosedDay:
    """A named closed day, with its Danish name."""

    date: date
    name: str
    reason: ClosedReason


@dataclass(frozen=True, kw_only=True)
class CalendarConfig:
    """Opening hours (Mon..Sun, None = closed), extra closed dates and yearly half days ("MM-DD")."""

    tz: ZoneInfo = LOCAL_TZ
    hours: tuple[tuple[time, time] | None, ...] = DEFAULT_HOURS
    closed: frozenset[date] = frozenset()
    half_days: tuple[tuple[str, time], ...] = DEFAULT_HALF_DAYS

    def __post_init__(self) -> None:
        # Accept lists, sets and dicts from callers, but store hashable values.
        object.__setattr__(self, "hours", tuple(tuple(h) if h is not None else None for h in self.hours))
        object.__setattr__(self, "closed", frozenset(self.closed))
        pairs = self.half_days.items() if isinstance(self.half_days, Mapping) else self.half_days
        object.__setattr__(self, "half_days", tuple(sorted((str(k), v) for k, v in pairs)))
        if len(self.hours) != 7:
            raise ValueError(f"hours needs 7 entries (Mon..Sun), not {len(self.hours)}")
        for name, hours in zip(WEEKDAYS, self.hours, strict=True):
            if hours is None:
                continue
            if len(hours) != 2 or not all(isinstance(t, time) for t in hours) or not hours[0] < hours[1]:
                raise ValueError(f"hours for {name} must be (opening, closing) times, not {hours}")
        if all(hours is None for hours in self.hours):
            raise ValueError("at least one weekday must have opening hours")
        for month_day, closing in self.half_days:
            if _month_day(month_day) is None or not isinstance(closing, time):
                raise ValueError(
                    f"half day {month_day!r} must be 'MM-DD' with a closing time, not {closing!r}"
                )

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> CalendarConfig:
        """Build a config from plain values as a TOML file gives them; bad values raise ``Invalid``.

        ``hours`` maps ``mon``..``sun`` to ``"08:00-16:00"`` or ``"closed"`` (TOML has no null;
        ``None`` and ``false`` work too); days left out keep their defaults. ``closed`` lists ISO
        dates; ``half_days`` maps ``"MM-DD"`` to a closing time; ``tz`` names a time zone.
        """
        unknown = sorted(str(key) for key in settings if key not in _SETTINGS)
        if unknown:
            raise Invalid(
                f"unknown calendar setting '{unknown[0]}': the settings are {', '.join(_SETTINGS)}"
            )
        values: dict[str, object] = {}
        if "tz" in settings:
            values["tz"] = _parse_tz(settings["tz"])
        if "hours" in settings:
            values["hours"] = _parse_hours(settings["hours"])
        if "closed" in settings:
            values["closed"] = _parse_closed(settings["closed"])
        if "half_days" in settings:
            values["half_days"] = _parse_half_days(settings["half_days"])
        return cls(**values)  # type: ignore[arg-type]


class WorkingCalendar:
    """Open time on the Danish working calendar, and deadlines counted on it."""

    def __init__(self, config: CalendarConfig = CalendarConfig()) -> None:
        self.config = config
        self._half_days = {_month_day(key): closing for key, closing in config.half_days}
        self._closed_by_year: dict[int, dict[date, ClosedDay]] = {}
        # Per year: the open time of the days before each day of the year (index 0 = 1 January), and the whole year.
        self._open_before_by_year: dict[int, list[timedelta]] = {}

    def closed_days(self, year: int) -> list[ClosedDay]:
        """The named closed days of ``year``, by date.

        Lists every public holiday (also those on a weekend, such as Påskedag), Grundlovsdag,
        24 and 31 December, and the configured closed dates; ordinary Saturdays and Sundays are
        closed as well but not listed.
        """
        return sorted(self._closed_in(year).values(), key=lambda day: day.date)

    def is_open_day(self, d: date) -> bool:
        """Whether ``d`` has any open time."""
        return self.opening(d) is not None

    def opening(self, d: date) -> tuple[datetime, datetime] | None:
        """The open interval of ``d`` as UTC instants (a half day closes early), or None if closed."""
        hours = self.config.hours[d.weekday()]
        if hours is None or d in self._closed_in(d.year):
            return None
        opens, closes = hours
        half_day = self._half_days.get((d.month, d.day))
        if half_day is not None:
            closes = min(closes, half_day)
        if closes <= opens:
            return None
        return self._instant(d, opens), self._instant(d, closes)

    def add(self, start: datetime, duration: Duration) -> datetime:
        """The deadline ``duration`` after ``start``, in UTC.

        Elapsed time is real time. Working minutes and hours are consumed from the open intervals
        at or after ``start``. Working days land on the Nth open day after the (next) open day,
        at the same local wall time, clamped into that day's open interval.
        """
        begin = as_utc(start)
        if not duration.working:
            return begin + duration.elapsed
        if duration.unit is DurationUnit.days:
            return self._add_working_days(begin, duration.amount)
        remaining = timedelta(**{duration.unit.value: duration.amount})
        for opens, closes in self._intervals_from(self._local_date(begin)):
            if closes <= begin:
                continue
            counted_from = max(opens, begin)
            available = closes - counted_from
            if remaining <= available:
                return counted_from + remaining
            remaining -= available
        raise AssertionError("unreachable: open intervals never run out")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """The open time from ``a`` to ``b``; negative if ``b`` is before ``a``."""
        start, end = as_utc(a), as_utc(b)
        if end < start:
            return -self.working_time_between(end, start)
        total = timedelta()
        if end == start:
            return total
        # A day's open interval lies within its local day: only the first and the last day are cut by
        # ``start`` and ``end``; the whole days between come from the per-year table.
        first, last = self._local_date(start), self._local_date(end)
        for day in (first, last) if first != last else (first,):
            interval = self.opening(day)
            if interval is not None:
                total += max(timedelta(), min(interval[1], end) - max(interval[0], start))
        if last > first + timedelta(days=1):
            total += self._open_between(first + timedelta(days=1), last)
        return total

    def next_open(self, at: datetime) -> datetime:
        """``at`` if it lies in open time (opening inclusive, closing exclusive), else the next opening."""
        instant = as_utc(at)
        for opens, closes in self._intervals_from(self._local_date(instant)):
            if instant < closes:
                return max(instant, opens)
        raise AssertionError("unreachable: open intervals never run out")

    @staticmethod
    def describe(td: timedelta) -> str:
        """A span in hours and minutes, e.g. "10 h 30 min", "45 min", "-2 h" (seconds are dropped)."""
        minutes = abs(td) // timedelta(minutes=1)
        if minutes == 0:
            return "0 min"
        hours, minutes = divmod(minutes, 60)
        parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if minutes else [])
        return ("-" if td < timedelta() else "") + " ".join(parts)

    def _add_working_days(self, begin: datetime, days: int) -> datetime:
        counted_from = self.next_open(begin).astimezone(self.config.tz)
        wall_time = counted_from.time()
        intervals = self._intervals_from(counted_from.date() + timedelta(days=1))
        opens, closes = next(islice(intervals, days - 1, None))
        deadline = self._instant(self._local_date(opens), wall_time)
        return min(max(deadline, opens), closes)

    def _intervals_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        closed_run = 0
        while True:
            interval = self.opening(day)
            if interval is not None:
                closed_run = 0
                yield interval
            else:
                closed_run += 1
                if closed_run > _SEARCH_DAYS:
                    raise Invalid(
                        f"the calendar has no open day in the {_SEARCH_DAYS} days before {day}: "
                        "check the calendar settings (hours, closed, half_days)"
                    )
            day += timedelta(days=1)

    def _open_between(self, first: date, stop: date) -> timedelta:
        """The open time of the whole days from ``first`` up to, not including, ``stop``."""
        total = self._open_before(stop) - self._open_before(first)
        for year in range(first.year, stop.year):
            total += self._open_before_table(year)[-1]
        return total

    def _open_before(self, d: date) -> timedelta:
        """The open time of the days of ``d``'s year before ``d``."""
        return self._open_before_table(d.year)[d.toordinal() - date(d.year, 1, 1).toordinal()]

    def _open_before_table(self, year: int) -> list[timedelta]:
        table = self._open_before_by_year.get(year)
        if table is None:
            table = [timedelta()]
            day = date(year, 1, 1)
            while day.year == year:
                interval = self.opening(day)
                table.append(table[-1] + (interval[1] - interval[0] if interval is not None else timedelta()))
                day += timedelta(days=1)
            self._open_before_by_year[year] = table
        return table

    def _closed_in(self, year: int) -> dict[date, ClosedDay]:
        cached = self._closed_by_year.get(year)
        if cached is None:
            cached = self._closed_by_year[year] = self._build_closed(year)
        return cached

    def _build_closed(self, year: int) -> dict[date, ClosedDay]:
        import holidays  # ~90 ms to import, and only needed once a calendar is asked about a year

        public = holidays.country_holidays("DK", years=year, categories=("public",), language="da")
        closed: dict[date, ClosedDay] = {}
        for day, name in sorted(public.items()):
            closed[day] = ClosedDay(date=day, name=name, reason=ClosedReason.public_holiday)
        for month, day_of_month, name in _DEADLINE_CLOSED:
            day = date(year, month, day_of_month)
            closed.setdefault(day, ClosedDay(date=day, name=name, reason=ClosedReason.deadline_law))
        for day in self.config.closed:
            if day.year == year:
                closed.setdefault(day, ClosedDay(date=day, name="Lukket", reason=ClosedReason.configured))
        return closed

    def _instant(self, d: date, wall_time: time) -> datetime:
        return datetime.combine(d, wall_time, tzinfo=self.config.tz).astimezone(UTC)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.config.tz).date()


def _parse_tz(value: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"bad calendar setting 'tz' = {value!r}: use a time zone name, e.g. 'Europe/Copenhagen'"
        ) from None


def _parse_clock_time(value: object) -> time | None:
    if isinstance(value, time) and value.tzinfo is None:
        return value
    match = _CLOCK_TIME.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return time(int(match[1]), int(match[2]))


def _parse_hours(value: object) -> tuple[tuple[time, time] | None, ...]:
    if not isinstance(value, Mapping):
        raise Invalid(
            f"bad calendar setting 'hours' = {value!r}: use a table such as "
            "{mon = \"08:00-16:00\", sat = \"closed\"}"
        )
    hours = list(DEFAULT_HOURS)
    for key, text in value.items():
        if key not in WEEKDAYS:
            raise Invalid(f"unknown day 'hours.{key}': the days are {', '.join(WEEKDAYS)}")
        hours[WEEKDAYS.index(key)] = _parse_interval(f"hours.{key}", text)
    if all(day is None for day in hours):
        raise Invalid("bad calendar setting 'hours': at least one day must be open")
    return tuple(hours)


def _parse_interval(key: str, value: object) -> tuple[time, time] | None:
    if value is None or value is False:
        return None
    if isinstance(value, str) and value.strip().lower() in _CLOSED_WORDS:
        return None
    parts = value.replace("–", "-").split("-") if isinstance(value, str) else []
    times = [_parse_clock_time(part) for part in parts]
    if len(times) != 2 or times[0] is None or times[1] is None or not times[0] < times[1]:
        raise Invalid(
            f"bad calendar setting '{key}' = {value!r}: use 'HH:MM-HH:MM' with the opening first, "
            "e.g. '08:00-16:00', or 'closed'"
        )
    return times[0], times[1]


def _parse_closed(value: object) -> frozenset[date]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise Invalid(
            f"bad calendar setting 'closed' = {value!r}: use a list of ISO dates, e.g. ['2026-12-23']"
        )
    closed: set[date] = set()
    for index, item in enumerate(value):
        if isinstance(item, date) and not isinstance(item, datetime):
            closed.add(item)
            continue
        try:
            closed.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise Invalid(
                f"bad calendar setting 'closed[{index}]' = {item!r}: use an ISO date, e.g. '2026-12-23'"
            ) from None
    return frozenset(closed)


def _parse_half_days(value: object) -> tuple[tuple[str, time], ...]:
    if not isinstance(value, Mapping):
        raise Invalid(
            f"bad calendar setting 'half_days' = {value!r}: use a table such as {{\"05-01\" = \"12:00\"}}"
        )
    half_days: list[tuple[str, time]] = []
    for key, closing in value.items():
        if not isinstance(key, str) or _month_day(key) is None:
            raise Invalid(
                f"bad calendar setting 'half_days.{key}': the key must be a date MM-DD, e.g. '05-01'"
            )
        parsed = _parse_clock_time(closing)
        if parsed is None:
            raise Invalid(
                f"bad calendar setting 'half_days.{key}' = {closing!r}: "
                "use a closing time HH:MM, e.g. '12:00'"
            )
        half_days.append((key, parsed))
    return tuple(half_days)
