"""The working calendar's settings: opening hours per weekday, closed dates and half days, and how
they are read from a TOML file's plain values (bad values raise ``Invalid`` naming the setting).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from indsats.engine.time.clock import LOCAL_TZ
from indsats.errors import Invalid
from indsats.i18n import _

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

_CLOSED_WORDS = frozenset({"", "closed", "lukket", "none"})
_CLOCK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_SETTINGS = ("closed", "half_days", "hours", "tz")


def month_day(text: str) -> tuple[int, int] | None:
    match = _MONTH_DAY.match(text)
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    try:
        date(2000, month, day)  # a leap year, so that 02-29 is allowed
    except ValueError:
        return None
    return month, day


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
            raise ValueError(_("hours needs 7 entries (Mon..Sun), not {n}").format(n=len(self.hours)))
        for name, hours in zip(WEEKDAYS, self.hours, strict=True):
            if hours is None:
                continue
            if len(hours) != 2 or not all(isinstance(t, time) for t in hours) or not hours[0] < hours[1]:
                raise ValueError(_("hours for {name} must be (opening, closing) times, not {hours}").format(name=name, hours=hours))
        if all(hours is None for hours in self.hours):
            raise ValueError(_("at least one weekday must have opening hours"))
        for key, closing in self.half_days:
            if month_day(key) is None or not isinstance(closing, time):
                raise ValueError(
                    _("half day {key!r} must be 'MM-DD' with a closing time, not {closing!r}").format(key=key, closing=closing)
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
                _("unknown calendar setting '{unknown}': the settings are {listed}").format(unknown=unknown[0], listed=', '.join(_SETTINGS))
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


def _parse_tz(value: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            _("bad calendar setting 'tz' = {value!r}: use a time zone name, e.g. 'Europe/Copenhagen'").format(value=value)
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
            _('bad calendar setting \'hours\' = {value!r}: use a table such as {{mon = "08:00-16:00", sat = "closed"}}').format(value=value)
        )
    hours = list(DEFAULT_HOURS)
    for key, text in value.items():
        if key not in WEEKDAYS:
            raise Invalid(_("unknown day 'hours.{key}': the days are {listed}").format(key=key, listed=', '.join(WEEKDAYS)))
        hours[WEEKDAYS.index(key)] = _parse_interval(f"hours.{key}", text)
    if all(day is None for day in hours):
        raise Invalid(_("bad calendar setting 'hours': at least one day must be open"))
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
            _("bad calendar setting '{key}' = {value!r}: use 'HH:MM-HH:MM' with the opening first, e.g. '08:00-16:00', or 'closed'").format(key=key, value=value)
        )
    return times[0], times[1]


def _parse_closed(value: object) -> frozenset[date]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise Invalid(
            _("bad calendar setting 'closed' = {value!r}: use a list of ISO dates, e.g. ['2026-12-23']").format(value=value)
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
                _("bad calendar setting 'closed[{index}]' = {item!r}: use an ISO date, e.g. '2026-12-23'").format(index=index, item=item)
            ) from None
    return frozenset(closed)


def _parse_half_days(value: object) -> tuple[tuple[str, time], ...]:
    if not isinstance(value, Mapping):
        raise Invalid(
            _('bad calendar setting \'half_days\' = {value!r}: use a table such as {{"05-01" = "12:00"}}').format(value=value)
        )
    half_days: list[tuple[str, time]] = []
    for key, closing in value.items():
        if not isinstance(key, str) or month_day(key) is None:
            raise Invalid(
                _("bad calendar setting 'half_days.{key}': the key must be a date MM-DD, e.g. '05-01'").format(key=key)
            )
        parsed = _parse_clock_time(closing)
        if parsed is None:
            raise Invalid(
                _("bad calendar setting 'half_days.{key}' = {closing!r}: use a closing time HH:MM, e.g. '12:00'").format(key=key, closing=closing)
            )
        half_days.append((key, parsed))
    return tuple(half_days)
