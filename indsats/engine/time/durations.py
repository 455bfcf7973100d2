"""Deadline durations as plans and the command line write them: working time or elapsed time.

Working time ("4 working hours", "6 working days", Danish "6 hverdage" or "2 arbejdsdage") is counted on
the working calendar; elapsed time ("24 hours", "2 days", "1 week", "4 måneder") on the clock and the
calendar. ISO 8601 durations of one part are accepted too ("PT4H", "P6D", "P1M").
Days, working days, weeks and months count whole days: they end at the end of their last day.

>>> str(parse_duration("6 Working Days"))
'6 working days'
>>> str(parse_duration("6 hverdage")), str(parse_duration("P1M"))
('6 working days', '1 month')
>>> parse_duration("24 hours").elapsed.days
1
"""

from __future__ import annotations

from functools import lru_cache

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from indsats.errors import Invalid
from indsats.i18n import N_, _

# Translated where shown: the Danish text gives the Danish forms (both are accepted in either language).
ACCEPTED_FORMS = N_(
    "'4 working hours', '1 working day', '6 hverdage', '30 working minutes', "
    "'24 hours', '2 days', '90 minutes', '1 week', '1 month' or ISO 8601 such as 'PT4H' or 'P6D'"
)

# Far beyond any plan's deadline, and small enough that calendar arithmetic stays fast and in range.
MAX_SPAN = timedelta(days=3660)


class DurationUnit(Enum):
    """The unit a duration is counted in."""

    minutes = "minutes"
    hours = "hours"
    days = "days"
    weeks = "weeks"
    months = "months"


_SINGULAR = {
    DurationUnit.minutes: "minute",
    DurationUnit.hours: "hour",
    DurationUnit.days: "day",
    DurationUnit.weeks: "week",
    DurationUnit.months: "month",
}

# The longest span one unit can be, for the MAX_SPAN check.
_LONGEST = {
    DurationUnit.minutes: timedelta(minutes=1),
    DurationUnit.hours: timedelta(hours=1),
    DurationUnit.days: timedelta(days=1),
    DurationUnit.weeks: timedelta(weeks=1),
    DurationUnit.months: timedelta(days=31),
}

_ELAPSED_WORDS: dict[str, DurationUnit] = {
    "minute": DurationUnit.minutes,
    "minutes": DurationUnit.minutes,
    "minut": DurationUnit.minutes,
    "minutter": DurationUnit.minutes,
    "hour": DurationUnit.hours,
    "hours": DurationUnit.hours,
    "time": DurationUnit.hours,
    "timer": DurationUnit.hours,
    "day": DurationUnit.days,
    "days": DurationUnit.days,
    "dag": DurationUnit.days,
    "dage": DurationUnit.days,
    "døgn": DurationUnit.days,
    "week": DurationUnit.weeks,
    "weeks": DurationUnit.weeks,
    "uge": DurationUnit.weeks,
    "uger": DurationUnit.weeks,
    "month": DurationUnit.months,
    "months": DurationUnit.months,
    "måned": DurationUnit.months,
    "måneder": DurationUnit.months,
}

# "working" (or Danish "arbejds-", "hverdage") applies to these only: a working week has no single meaning.
_WORKING_WORDS: dict[str, DurationUnit] = {
    "minute": DurationUnit.minutes,
    "minutes": DurationUnit.minutes,
    "hour": DurationUnit.hours,
    "hours": DurationUnit.hours,
    "day": DurationUnit.days,
    "days": DurationUnit.days,
}
_DANISH_WORKING_WORDS: dict[str, DurationUnit] = {
    "arbejdsminut": DurationUnit.minutes,
    "arbejdsminutter": DurationUnit.minutes,
    "arbejdstime": DurationUnit.hours,
    "arbejdstimer": DurationUnit.hours,
    "arbejdsdag": DurationUnit.days,
    "arbejdsdage": DurationUnit.days,
    # The legal term: in Danish rules on time limits a hverdag is a day that is not closed.
    "hverdag": DurationUnit.days,
    "hverdage": DurationUnit.days,
}

_PATTERN = re.compile(r"^\s*([+-]?\d+)\s+(?:(working)\s+)?(\w+)\s*$", re.IGNORECASE)
# One-part ISO 8601 durations: PnY, PnM, PnW, PnD, PTnH, PTnM (a mix such as P1DT2H has no single rule).
_ISO = re.compile(r"^\s*P(?:(\d+)([YMWD])|T(\d+)([HM]))\s*$", re.IGNORECASE)
_ISO_UNITS = {
    "Y": (DurationUnit.months, 12),
    "M": (DurationUnit.months, 1),
    "W": (DurationUnit.weeks, 1),
    "D": (DurationUnit.days, 1),
    "TH": (DurationUnit.hours, 1),
    "TM": (DurationUnit.minutes, 1),
}


@dataclass(frozen=True, kw_only=True)
class Duration:
    """A positive span of working time or of elapsed (round-the-clock) time."""

    amount: int
    unit: DurationUnit
    working: bool

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"duration amount must be positive, not {self.amount}")
        if self.working and self.unit in (DurationUnit.weeks, DurationUnit.months):
            raise ValueError("working time is counted in minutes, hours or days, not weeks or months")

    def __str__(self) -> str:
        word = _SINGULAR[self.unit] if self.amount == 1 else self.unit.value
        return f"{self.amount} {'working ' if self.working else ''}{word}"

    @property
    def whole_days(self) -> bool:
        """Whether the span counts whole days (days, working days, weeks, months): it ends at the end of a day."""
        return self.unit in (DurationUnit.days, DurationUnit.weeks, DurationUnit.months)

    @property
    def elapsed(self) -> timedelta:
        """The span as real time; only for elapsed minutes and hours (days and months end at the end of a day)."""
        if self.working:
            raise ValueError(f"'{self}' is working time: count it on a WorkingCalendar")
        if self.whole_days:
            raise ValueError(f"'{self}' ends at the end of a day: count it on a WorkingCalendar")
        return timedelta(**{self.unit.value: self.amount})


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> Duration:
    """Parse a duration such as '4 working hours', '6 hverdage', '2 days' or 'P6D'; ``Invalid`` if it is not one."""
    shown = " ".join(text.split())  # keep the message on one line
    iso = _ISO.match(text)
    if iso is not None:
        number = iso[1] or iso[3]
        letter = iso[2].upper() if iso[2] else "T" + iso[4].upper()
        iso_unit, factor = _ISO_UNITS[letter]
        return _checked(shown, int(number) * factor, iso_unit, working=False)
    match = _PATTERN.match(text)
    if match is None:
        raise Invalid(_("bad duration '{shown}': use {ACCEPTED_FORMS}").format(shown=shown, ACCEPTED_FORMS=_(ACCEPTED_FORMS)))
    number, working, word = match.groups()
    word = word.lower()
    danish = _DANISH_WORKING_WORDS.get(word)
    unit: DurationUnit | None
    if working is not None and danish is not None:
        unit = None  # "2 working arbejdsdage" says it twice
    elif danish is not None:
        unit = danish
    elif working is not None:
        unit = _WORKING_WORDS.get(word)
    else:
        unit = _ELAPSED_WORDS.get(word)
    if unit is None:
        raise Invalid(_("bad duration '{shown}': use {ACCEPTED_FORMS}").format(shown=shown, ACCEPTED_FORMS=_(ACCEPTED_FORMS)))
    return _checked(shown, int(number), unit, working=working is not None or danish is not None)


def _checked(shown: str, amount: int, unit: DurationUnit, *, working: bool) -> Duration:
    if amount <= 0:
        raise Invalid(_("bad duration '{shown}': deadlines must be positive, e.g. '1 working day'").format(shown=shown))
    if amount > MAX_SPAN // _LONGEST[unit]:
        raise Invalid(_("bad duration '{shown}': deadlines must be at most {days} days").format(shown=shown, days=MAX_SPAN.days))
    return Duration(amount=amount, unit=unit, working=working)
