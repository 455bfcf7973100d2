"""Canonical JSON: the one byte form digests, chain hashes and seals are computed over (stdlib only).

>>> canonical_json({"b": 1, "a": ["ø", None]})
'{"a":["ø",null],"b":1}'
"""

from __future__ import annotations

import json
from typing import Any


# One encoder, made once: ``json.dumps`` with these options builds a new one on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, non-ASCII kept as is, anything else (dates) as ``str``."""
    return _ENCODER.encode(value)
