"""The Danish working-time calendar: when the municipality is open, and how deadlines add up on it.

Open time is the weekday opening hours minus public holidays, Grundlovsdag, 24 and 31 December and
configured closed dates; half days (1 May by default) close early. Pure: every instant is passed in.
A deadline in days, working days, weeks or months ends at the end of its last day (that day's closing);
one that would end on a closed day ends at the end of the next open day. A statutory deadline is counted
on the ``legal`` calendar: the days the law closes, never the installation's own closures.

>>> from datetime import datetime
>>> from indsats.engine.time.clock import LOCAL_TZ
>>> from indsats.engine.time.durations import parse_duration
>>> friday = datetime(2026, 3, 6, 13, 0, tzinfo=LOCAL_TZ)
>>> WorkingCalendar().add(friday, parse_duration("4 working hours")).astimezone(LOCAL_TZ).isoformat()
'2026-03-09T11:30:00+01:00'
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from itertools import islice
from typing import TypeVar

from indsats.engine.time.calendar_config import DEFAULT_HOURS, WEEKDAYS, CalendarConfig, month_day
from indsats.engine.time.clock import UTC, as_utc
from indsats.engine.time.durations import Duration, DurationUnit
from indsats.errors import Invalid
from indsats.i18n import _, language

__all__ = ["WEEKDAYS", "CalendarConfig", "ClosedDay", "ClosedReason", "WorkingCalendar", "add_months"]

# Not public holidays, but Danish rules on time limits treat them like one (the `holidays` package
# files them under "optional", together with 1 May, which is a half day instead).
_DEADLINE_CLOSED = ((6, 5, "Grundlovsdag"), (12, 24, "Juleaftensdag"), (12, 31, "Nytårsaften"))

_K = TypeVar("_K")
_V = TypeVar("_V")

# Only a broken configuration closes this many days in a row; stop rather than search forever.
_SEARCH_DAYS = 800


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


class WorkingCalendar:
    """Open time on the Danish working calendar, and deadlines counted on it."""

    def __init__(self, config: CalendarConfig | None = None) -> None:
        self.config = config = CalendarConfig() if config is None else config
        self._half_days = {month_day(key): closing for key, closing in config.half_days}
        self._closed_by_year: dict[int, dict[date, ClosedDay]] = {}
        # Per year: the open time of the days before each day of the year (index 0 = 1 January), and the whole year.
        self._open_before_by_year: dict[int, list[timedelta]] = {}
        # Per day: its open interval (or None), computed once (the calendar's settings never change).
        self._openings: dict[date, tuple[datetime, datetime] | None] = {}
        self._local_dates: dict[datetime, date] = {}
        # Answers that depend on the settings alone, kept as asked (bounded): the n-th open day after a day (every
        # day-counted deadline of a day's commands asks the same), and when a message due at an instant may go
        # out (deadlines, warnings and escalations fall on the same few closings across cases).
        self._open_days_after: dict[tuple[date, int], date] = {}
        self._deliverable: dict[datetime, datetime] = {}
        self._legal: WorkingCalendar | None = None
        self._working_time_to: tuple[datetime, Callable[[datetime], timedelta]] | None = None

    @property
    def legal(self) -> WorkingCalendar:
        """The calendar statutory deadlines count on: only the days the law closes (weekends, public
        holidays, Grundlovsdag, 24 and 31 December); no configured closed dates and no half days.
        Weekdays keep their configured hours (a weekday configured closed keeps the default hours).
        """
        if self._legal is None:
            hours = tuple(
                None if index >= 5 else (configured or DEFAULT_HOURS[index])
                for index, configured in enumerate(self.config.hours)
            )
            self._legal = WorkingCalendar(CalendarConfig(tz=self.config.tz, hours=hours, half_days=()))
        return self._legal

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
        try:
            return self._openings[d]
        except KeyError:
            found = self._openings[d] = self._opening(d)
            return found

    def _opening(self, d: date) -> tuple[datetime, datetime] | None:
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

    def add(self, start: datetime, duration: Duration, *, statutory: bool = False) -> datetime:
        """The deadline ``duration`` after ``start``, in UTC.

        Minutes and hours: elapsed ones are real time; working ones are consumed from the open intervals
        at or after ``start`` (ending exactly at a closing means that closing). Days, weeks and months
        end at the end of their last day: working days on the Nth open day after ``start``'s day,
        calendar days and weeks N days on, months on the same day of the month N months on (or the
        month's last day); a last day that is closed moves to the next open day.

        :param statutory: count on the ``legal`` calendar (never the installation's own closures).
        """
        if statutory:
            return self.legal.add(start, duration)
        begin = as_utc(start)
        if duration.whole_days:
            return self.end_of_day(self.last_day(self._local_date(begin), duration))
        if not duration.working:
            return begin + duration.elapsed
        return self.add_working_time(begin, timedelta(**{duration.unit.value: duration.amount}))

    def add_working_time(self, start: datetime, span: timedelta) -> datetime:
        """The instant ``span`` of open time after ``start`` (a span ending at a closing ends there)."""
        begin = as_utc(start)
        remaining = span
        if remaining <= timedelta():
            return begin
        for opens, closes in self._intervals_from(self._local_date(begin)):
            if closes <= begin:
                continue
            counted_from = max(opens, begin)
            available = closes - counted_from
            if remaining <= available:
                return counted_from + remaining
            remaining -= available
        raise AssertionError("unreachable: open intervals never run out")

    def last_day(self, start_day: date, duration: Duration) -> date:
        """The last day of a day-counted ``duration`` from ``start_day`` (before moving off a closed day)."""
        if duration.working:
            return self.open_day_after(start_day, duration.amount)
        if duration.unit is DurationUnit.months:
            return add_months(start_day, duration.amount)
        weeks = duration.unit is DurationUnit.weeks
        return start_day + timedelta(days=duration.amount * (7 if weeks else 1))

    def open_day_after(self, day: date, n: int) -> date:
        """The ``n``-th open day after ``day`` (``day`` itself never counts; ``n`` = 0 is ``day``)."""
        if n <= 0:
            return day
        found = self._open_days_after.get((day, n))
        if found is None:
            opens, _ = next(islice(self._intervals_from(day + timedelta(days=1)), n - 1, None))
            found = _kept(self._open_days_after, (day, n), self._local_date(opens))
        return found

    def open_days_between(self, first: date, last: date) -> int:
        """How many open days lie after ``first`` up to and including ``last`` (0 when ``last`` <= ``first``)."""
        count, day = 0, first + timedelta(days=1)
        while day <= last:
            count += self.is_open_day(day)
            day += timedelta(days=1)
        return count

    def end_of_day(self, day: date) -> datetime:
        """The closing instant of ``day``, or of the next open day if ``day`` is closed."""
        _, closes = next(self._intervals_from(day))
        return closes

    def is_closing(self, at: datetime) -> bool:
        """Whether ``at`` is exactly the closing instant of its day."""
        interval = self.opening(self._local_date(as_utc(at)))
        return interval is not None and interval[1] == as_utc(at)

    def deliverable(self, at: datetime) -> datetime:
        """When a message due at ``at`` may go out: ``at`` if it lies in open time, closing included
        (a deadline at the end of the day is reminded that day, not the next morning), else the next opening.
        """
        found = self._deliverable.get(at)
        if found is None:
            found = _kept(self._deliverable, at, as_utc(at) if self.is_closing(at) else self.next_open(at))
        return found

    def local_day(self, at: datetime) -> date:
        """The calendar day ``at`` falls on, in the calendar's time zone."""
        return self._local_date(as_utc(at))

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

    def working_time_to(self, end: datetime) -> Callable[[datetime], timedelta]:
        """``working_time_between(start, end)`` for many starts and one ``end`` (the stuck list: each overdue
        deadline and the list's time): what follows a start's own day is added up once per day (and the last
        ``end`` asked for is kept, days and all: a fixed clock, or a server asked twice in the same instant)."""
        end = as_utc(end)
        kept = self._working_time_to
        if kept is not None and kept[0] == end:
            return kept[1]
        last = self._local_date(end)
        last_opening = self.opening(last)
        # Per local day: its opening, its closing (cut at ``end``), and the open time after the day up to ``end``
        # (a closed day: no time of its own, ``end`` to ``end``).
        days: dict[date, tuple[datetime, datetime, timedelta]] = {}
        local_dates = self._local_dates
        zero = timedelta()

        def day(first: date) -> tuple[datetime, datetime, timedelta]:
            interval = self.opening(first)
            if first == last:
                found = (end, end, zero) if interval is None else (interval[0], min(interval[1], end), zero)
            else:
                after = zero
                if last_opening is not None:
                    after += max(zero, min(last_opening[1], end) - last_opening[0])
                if last > first + timedelta(days=1):
                    after += self._open_between(first + timedelta(days=1), last)
                found = (end, end, after) if interval is None else (interval[0], interval[1], after)
            days[first] = found
            return found

        def between(start: datetime) -> timedelta:
            if start.tzinfo is not UTC:
                start = as_utc(start)
            if start >= end:
                return self.working_time_between(start, end)
            first = local_dates.get(start) or self._local_date(start)
            opens, closes, after = days.get(first) or day(first)
            counted = closes - (start if start > opens else opens)
            return after + counted if counted > zero else after

        self._working_time_to = (end, between)
        return between

    def subtract(self, at: datetime, duration: Duration, *, statutory: bool = False) -> datetime:
        """The instant ``duration`` before ``at`` (for warnings before a deadline), the mirror of ``add``.

        Working minutes and hours are taken from the open time before ``at``; days and months step back
        whole days, keeping a closing a closing and otherwise the wall time (clamped into open time for
        working days).
        """
        if statutory:
            return self.legal.subtract(at, duration)
        end = as_utc(at)
        if not duration.whole_days:
            if not duration.working:
                return end - duration.elapsed
            return self.subtract_working_time(end, timedelta(**{duration.unit.value: duration.amount}))
        day = self._local_date(end)
        if duration.working:
            target = self.open_day_before(day, duration.amount)
        elif duration.unit is DurationUnit.months:
            target = add_months(day, -duration.amount)
        else:
            target = day - timedelta(days=duration.amount * (7 if duration.unit is DurationUnit.weeks else 1))
        return self._same_time_on(end, target, working=duration.working, back=True)

    def subtract_working_time(self, at: datetime, span: timedelta) -> datetime:
        """The instant ``span`` of open time before ``at``."""
        end = as_utc(at)
        remaining, day = span, self._local_date(end)
        for _attempt in range(_SEARCH_DAYS):
            interval = self.opening(day)
            if interval is not None and interval[0] < end:
                counted_to = min(interval[1], end)
                if remaining <= counted_to - interval[0]:
                    return counted_to - remaining
                remaining -= counted_to - interval[0]
            day -= timedelta(days=1)
        raise Invalid(_("the calendar has no open day in the {n} days before {day}: check the calendar settings").format(n=_SEARCH_DAYS, day=day))

    def open_day_before(self, day: date, n: int) -> date:
        """The ``n``-th open day before ``day`` (``day`` itself never counts)."""
        closed_run = 0
        while n > 0:
            day -= timedelta(days=1)
            if self.is_open_day(day):
                n, closed_run = n - 1, 0
            else:
                closed_run += 1
                if closed_run > _SEARCH_DAYS:
                    raise Invalid(_("the calendar has no open day in the {n} days before {day}: check the calendar settings (hours, closed, half_days)").format(n=_SEARCH_DAYS, day=day))
        return day

    def shift(
        self, at: datetime, paused_from: datetime, paused_until: datetime, duration: Duration, *, statutory: bool = False
    ) -> datetime:
        """``at`` moved on by a pause, counted as ``duration`` counts (a pause is time the deadline does not run).

        Working days move by the open days the pause covered, working hours by its open time, calendar days
        and months by its calendar days, elapsed hours by its real time. A closing stays a closing.
        """
        if statutory:
            return self.legal.shift(at, paused_from, paused_until, duration)
        start, end, instant = as_utc(paused_from), as_utc(paused_until), as_utc(at)
        if end <= start:
            return instant
        if not duration.whole_days:
            if not duration.working:
                return instant + (end - start)
            return self.add_working_time(instant, self.working_time_between(start, end))
        first, last, day = self._local_date(start), self._local_date(end), self._local_date(instant)
        if duration.working:
            target = self.open_day_after(day, self.open_days_between(first, last))
        else:
            target = day + (last - first)
        return self._same_time_on(instant, target, working=duration.working)

    def _same_time_on(self, instant: datetime, day: date, *, working: bool, back: bool = False) -> datetime:
        """``instant``'s time of day on ``day``: a closing becomes ``day``'s closing (or, if ``day`` is closed,
        the next open day's; the previous one's going ``back``); otherwise the same wall time, clamped into
        ``day``'s open time for working time."""
        if self.is_closing(instant):
            if back and not self.is_open_day(day):
                day = self.open_day_before(day, 1)
            return self.end_of_day(day)
        moved = self._instant(day, instant.astimezone(self.config.tz).time())
        if not working:
            return moved
        interval = self.opening(day)
        if interval is None:
            return self.next_open(moved)
        return min(max(moved, interval[0]), interval[1])

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
        minutes = abs(td) // _MINUTE
        key = (language(), minutes, td < _ZERO)
        found = _DESCRIBED.get(key)  # a sweep describes the same few spans thousands of times
        if found is None:
            if len(_DESCRIBED) > 4096:
                _DESCRIBED.clear()
            found = _DESCRIBED[key] = _describe(minutes, negative=td < _ZERO)
        return found

    @staticmethod
    def describer() -> Callable[[timedelta], str]:
        """``describe`` for many spans in the current language (the stuck list's): the language looked up once,
        each text made once."""
        speaking = language()
        made: dict[int, str] = {}

        def describe(td: timedelta) -> str:
            minutes = td // _MINUTE if td >= _ZERO else -(-td // _MINUTE)  # whole minutes, towards zero
            found = made.get(minutes)
            if found is None:
                if len(made) > 100_000:
                    made.clear()
                found = made[minutes] = _DESCRIBED.get((speaking, abs(minutes), minutes < 0)) or _describe(
                    abs(minutes), negative=minutes < 0)
            return found

        return describe

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
                        _("the calendar has no open day in the {n} days before {day}: check the calendar settings (hours, closed, half_days)").format(n=_SEARCH_DAYS, day=day)
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
        closed: dict[date, ClosedDay] = {}
        for day, name in _public_holidays(year):
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
        if instant.tzinfo is not UTC:
            return instant.astimezone(self.config.tz).date()
        found = self._local_dates.get(instant)  # a UTC instant falls on one local day: remembered
        if found is None:
            if len(self._local_dates) > 4096:
                self._local_dates.clear()
            found = self._local_dates[instant] = instant.astimezone(self.config.tz).date()
        return found


def _kept(kept: dict[_K, _V], key: _K, value: _V) -> _V:
    """``value``, kept under ``key`` in a bounded cache (emptied when it holds 4,096)."""
    if len(kept) >= 4096:
        kept.clear()
    kept[key] = value
    return value


def _public_holidays(year: int) -> list[tuple[date, str]]:
    """Denmark's public holidays in ``year``, by date: the shipped table, or ``holidays`` outside its years."""
    from indsats.engine.time import holiday_table

    if holiday_table.FIRST_YEAR <= year <= holiday_table.LAST_YEAR:
        return [(date(year, m, d), holiday_table.NAMES[n]) for m, d, n in holiday_table.TABLE[year]]
    import holidays  # ~90 ms to import (it loads every country): only for years the table does not cover

    return sorted(holidays.country_holidays("DK", years=year, categories=("public",), language="da").items())


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later, or that month's last day (31 January + 1 → 28/29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _gregorian.monthrange(year, month)[1]))


_MINUTE = timedelta(minutes=1)
_ZERO = timedelta()
_DESCRIBED: dict[tuple[str, int, bool], str] = {}


def _describe(minutes: int, *, negative: bool) -> str:
    if minutes == 0:
        return _("{minutes} min").format(minutes=0)
    hours, minutes = divmod(minutes, 60)
    parts = ([_("{hours} h").format(hours=hours)] if hours else []) + (
        [_("{minutes} min").format(minutes=minutes)] if minutes else [])
    return ("-" if negative else "") + " ".join(parts)
