"""Deadline durations as plans and the command line write them: working time or elapsed time.

Working time ("4 working hours", "1 working day") is counted on the working calendar; elapsed time
("24 hours", "1 week") runs round the clock. Danish words are accepted too ("2 arbejdsdage", "3 timer").

>>> str(parse_duration("6 Working Days"))
'6 working days'
>>> parse_duration("1 week").elapsed.days
7
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from indsats.errors import Invalid

ACCEPTED_FORMS = (
    "'4 working hours', '1 working day', '30 working minutes', "
    "'24 hours', '2 days', '90 minutes' or '1 week'"
)

# Far beyond any plan's deadline, and small enough that calendar arithmetic stays fast and in range.
MAX_SPAN = timedelta(days=3660)


class DurationUnit(Enum):
    """The unit a duration is counted in."""

    minutes = "minutes"
    hours = "hours"
    days = "days"
    weeks = "weeks"


_SINGULAR = {
    DurationUnit.minutes: "minute",
    DurationUnit.hours: "hour",
    DurationUnit.days: "day",
    DurationUnit.weeks: "week",
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
}

# "working" (or Danish "arbejds-") applies to these only: a working week has no single meaning.
_WORKING_WORDS: dict[str, DurationUnit] = {
    "minute": DurationUnit.minutes,
    "minutes": DurationUnit.minutes,
    "hour": DurationUnit.hours,
    "hours": DurationUnit.hours,
    "day": DurationUnit.days,
    "days": DurationUnit.days,
    "arbejdsminut": DurationUnit.minutes,
    "arbejdsminutter": DurationUnit.minutes,
    "arbejdstime": DurationUnit.hours,
    "arbejdstimer": DurationUnit.hours,
    "arbejdsdag": DurationUnit.days,
    "arbejdsdage": DurationUnit.days,
}

_PATTERN = re.compile(r"^\s*([+-]?\d+)\s+(?:(working)\s+)?(\w+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Duration:
    """A positive span of working time or of elapsed (round-the-clock) time."""

    amount: int
    unit: DurationUnit
    working: bool

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"duration amount must be positive, not {self.amount}")
        if self.working and self.unit is DurationUnit.weeks:
            raise ValueError("working time is counted in minutes, hours or days, not weeks")

    def __str__(self) -> str:
        word = _SINGULAR[self.unit] if self.amount == 1 else self.unit.value
        return f"{self.amount} {'working ' if self.working else ''}{word}"

    @property
    def elapsed(self) -> timedelta:
        """The span as real time; only for elapsed durations (working time needs a calendar)."""
        if self.working:
            raise ValueError(f"'{self}' is working time: count it on a WorkingCalendar")
        return timedelta(**{self.unit.value: self.amount})


def parse_duration(text: str) -> Duration:
    """Parse a duration such as '4 working hours' or '2 days'; raise ``Invalid`` if it is not one."""
    shown = " ".join(text.split())  # keep the message on one line
    match = _PATTERN.match(text)
    if match is None:
        raise Invalid(f"bad duration '{shown}': use {ACCEPTED_FORMS}")
    number, working, word = match.groups()
    word = word.lower()
    amount = int(number)
    danish_working = word.startswith("arbejds")
    if working is not None and danish_working:
        unit = None  # "2 working arbejdsdage" says it twice
    elif working is not None or danish_working:
        unit = _WORKING_WORDS.get(word)
    else:
        unit = _ELAPSED_WORDS.get(word)
    if unit is None:
        raise Invalid(f"bad duration '{shown}': use {ACCEPTED_FORMS}")
    if amount <= 0:
        raise Invalid(f"bad duration '{shown}': deadlines must be positive, e.g. '1 working day'")
    if amount > MAX_SPAN // timedelta(**{unit.value: 1}):
        raise Invalid(f"bad duration '{shown}': deadlines must be at most {MAX_SPAN.days} days")
    return Duration(amount=amount, unit=unit, working=working is not None or danish_working)
