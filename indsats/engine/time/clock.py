"""What time it is in Copenhagen, and a ``FixedClock`` for tests and ``--at`` (the ``Clock`` protocol is a port:
``indsats.engine.ports``; not imported here, so a thin client that only shows times does not load the ports).

The real clock (``SystemClock``) lives in ``indsats.bootstrap`` so that nothing under ``engine/``
reads the system time; every engine function takes a clock or an instant.

>>> from datetime import datetime, timezone
>>> clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
>>> clock.advance(hours=2).now().hour
11
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from indsats.errors import Invalid
from indsats.i18n import _

__all__ = ["LOCAL_TZ", "UTC", "FixedClock", "as_utc", "localize", "parse_time", "to_local"]

UTC = timezone.utc
LOCAL_TZ = ZoneInfo("Europe/Copenhagen")


class FixedClock:
    """A clock that stands still until it is moved."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> FixedClock:
        self._at = as_utc(at)
        return self

    def advance(self, **delta: float) -> FixedClock:
        self._at = self._at + timedelta(**delta)
        return self


def as_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC; naive datetimes are a bug and are rejected."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} (times must carry a zone)")
    return value.astimezone(UTC)


def to_local(value: datetime) -> datetime:
    """Show an instant in Europe/Copenhagen."""
    return as_utc(value).astimezone(LOCAL_TZ)


def parse_time(text: str, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """Parse an ISO 8601 time from the user into UTC; without an offset it is local time.

    A local time in the spring DST gap does not exist and is rejected; one in the autumn overlap
    is ambiguous and needs an explicit offset.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            _("bad time '{text}': use ISO 8601, e.g. 2026-03-02T09:30 (local) or 2026-03-02T08:30+00:00").format(text=text)
        ) from None
    if value.tzinfo is not None:
        return as_utc(value)
    return as_utc(localize(value, tz, text))


def localize(naive: datetime, tz: ZoneInfo = LOCAL_TZ, text: str | None = None) -> datetime:
    """Attach ``tz`` to a naive wall-clock time, refusing times that do not exist or are ambiguous."""
    shown = text or naive.isoformat()
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # fold matters only where the wall clock repeats (autumn) or skips (spring).
        round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != naive:
            raise Invalid(_("time '{shown}' does not exist in {key} (the clocks skip it)").format(shown=shown, key=tz.key))
        raise Invalid(
            _("time '{shown}' is ambiguous in {key} (the clocks repeat it): give an offset, e.g. {isoformat} or {isoformat2}").format(shown=shown, key=tz.key, isoformat=first.isoformat(), isoformat2=second.isoformat())
        )
    return first
