"""What the values the repository builds from table rows share (``Case``, ``Reminder``): a fast constructor
from a complete row, and — transitional — reading them like the row dicts they replace."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T", bound="RowValue")

_new = object.__new__


class RowValue:
    """A frozen dataclass over one table row; the subclass's fields are the table's columns, in order."""

    @classmethod
    def from_row(cls: type[T], row: Any) -> T:
        """The value a row holds (every column, as the table types it).

        The row is complete and typed by the table, so the field-by-field frozen ``__init__`` (about
        20 µs for a case's 25 fields, on every case a sweep or ``stuck`` reads) is skipped: the values go
        straight into the instance. ``tests/test_typed_rows.py`` keeps the fields and the columns equal.
        """
        value = _new(cls)
        value.__dict__.update(row)
        return value

    # -- transitional ---------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """TRANSITIONAL, to be removed: ``case["state"]`` as ``case.state``, for code written against the
        row dicts while the tree moves to attributes. New code uses attributes."""
        try:
            return self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """TRANSITIONAL, to be removed with ``__getitem__``: ``case.get("unit")`` as ``case.unit``."""
        return self.__dict__.get(key, default)
