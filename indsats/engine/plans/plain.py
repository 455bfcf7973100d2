"""A validated plan's plain form (JSON) and back, without YAML or validation: what the plan cache keeps.

``parse_plan`` checks a plan completely (YAML, pydantic, cross-references, structure). A plan that passed
once is kept by its version (the hash of its text) as ``to_plain``'s JSON; a later command rebuilds the
same ``Plan`` with ``from_plain`` (``model_construct`` field by field, no validator runs), so a command
on a known plan version parses neither YAML nor the schema.

>>> from_plain(to_plain(plan)) == plan   # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date
from enum import Enum
from typing import Any

from pydantic import BaseModel

from indsats.engine.plans.schema import Plan

# Bumped when the plain form changes shape; the cache keys on it with the schema's own fingerprint.
FORM = 2


def to_plain(plan: Plan) -> str:
    """The plan as JSON of its fields (not their aliases), defaults included, in the plan's own order: the
    order of states, sources, roles and case deadlines means something (the first source is the default,
    states are checked and shown in the order written), so the keys are never sorted."""
    return json.dumps(plan.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


def from_plain(text: str) -> Plan:
    """The ``Plan`` that ``to_plain`` wrote, rebuilt without validation."""
    plan = _build(Plan, json.loads(text))
    assert isinstance(plan, Plan)
    return plan


def _build(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _build(typing.get_args(kind)[0], value)
    if origin in (types.UnionType, typing.Union):
        return _build(next(k for k in typing.get_args(kind) if k is not type(None)), value)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_build(item, v) for v in value]
    if origin is dict:
        _key, item = typing.get_args(kind)
        return {k: _build(item, v) for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        fields = kind.model_fields
        values = {name: _build(fields[name].annotation, v) for name, v in value.items()}
        return kind.model_construct(_fields_set=set(values), **values)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is date:
        return date.fromisoformat(value)
    return value
