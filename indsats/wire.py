"""The values a use case returns, as JSON and back: what travels between ``indsats server`` and the client.

Standard library only, so the thin client imports nothing heavy. A dataclass (or a pydantic model) travels
as its fields and comes back as a frozen dataclass of the same name and fields, so the commands render the
very same values in both modes; datetimes, dates, durations and enums keep their types (an enum comes back
as a ``WireEnum``: a ``str`` with ``.value`` and ``.name``). Properties of a dataclass travel beside its
fields and are readable on the copy.

>>> from datetime import datetime, timezone
>>> decode(encode({"at": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)}))["at"].hour
9
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any
from collections.abc import Callable

RECORD = "__record__"  # the class name of a dataclass that travelled
TYPE = "__type__"  # a scalar that JSON has no type for: datetime, date, timedelta, enum, bytes


class WireEnum(str):
    """An enum member that travelled: compares and prints as its value."""

    name: str

    def __new__(cls, value: str, name: str) -> WireEnum:
        made = super().__new__(cls, value)
        made.name = name
        return made

    @property
    def value(self) -> str:
        return str.__str__(self)


def encode(value: Any) -> Any:
    """``value`` as plain JSON types, tagged where JSON has no type for it."""
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, Enum):
        return value
    if isinstance(value, Enum):
        return {TYPE: "enum", "value": value.value, "name": value.name}
    if isinstance(value, datetime):
        return {TYPE: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {TYPE: "date", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {TYPE: "timedelta", "value": value.total_seconds()}
    if isinstance(value, bytes):
        import base64

        return {TYPE: "bytes", "value": base64.b64encode(value).decode("ascii")}
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        props = {
            name: encode(getattr(value, name))
            for name, member in vars(type(value)).items()
            if isinstance(member, property) and not name.startswith("_")
        }
        return {RECORD: type(value).__name__, "fields": fields, **({"properties": props} if props else {})}
    if hasattr(value, "model_dump") and hasattr(type(value), "model_fields"):  # a pydantic model, duck-typed
        fields = {name: encode(getattr(value, name)) for name in type(value).model_fields}
        return {RECORD: type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} over the wire")


def plain(value: Any) -> Any:
    """``value`` as JSON for people's tools, untagged: what ``--json`` prints and the web view's ``/api``
    answers. Local ISO times (Europe/Copenhagen), whole seconds for spans, enums by value, dataclasses (and
    records that travelled) as their fields, a pydantic model (a plan) as its document."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        from indsats.engine.time.clock import to_local

        return to_local(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if hasattr(value, "model_dump"):  # a pydantic model (a plan)
        return value.model_dump(mode="json", by_alias=True)
    return value


def decode(value: Any) -> Any:
    """The inverse of ``encode``: dataclasses come back as ``record`` instances."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if RECORD in value:
        fields = {k: decode(v) for k, v in value["fields"].items()}
        props = {k: decode(v) for k, v in value.get("properties", {}).items()}
        return record(str(value[RECORD]), fields, props)
    kind = value.get(TYPE)
    if kind == "datetime":
        return datetime.fromisoformat(value["value"])
    if kind == "date":
        return date.fromisoformat(value["value"])
    if kind == "timedelta":
        return timedelta(seconds=value["value"])
    if kind == "enum":
        return WireEnum(value["value"], value["name"])
    if kind == "bytes":
        import base64

        return base64.b64decode(value["value"])
    return {k: decode(v) for k, v in value.items()}


_CLASSES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], type] = {}


def _reader(name: str) -> Callable[[Any], Any]:
    def read(self: Any) -> Any:
        return self.__dict__["_wire_properties"][name]

    return read


def record(name: str, fields: dict[str, Any], properties: dict[str, Any] | None = None) -> Any:
    """A frozen dataclass instance called ``name`` with these fields (and read-only properties)."""
    properties = properties or {}
    key = (name, tuple(fields), tuple(properties))
    cls = _CLASSES.get(key)
    if cls is None:
        namespace = {p: property(_reader(p)) for p in properties}
        cls = dataclasses.make_dataclass(name, list(fields), frozen=True, namespace=namespace)
        _CLASSES[key] = cls
    made = cls(**fields)
    object.__setattr__(made, "_wire_properties", properties)
    return made
