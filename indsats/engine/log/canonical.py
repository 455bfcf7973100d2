"""Canonical JSON: the one byte form digests, chain hashes and seals are computed over (stdlib only).

>>> canonical_json({"b": 1, "a": ["ø", None]})
'{"a":["ø",null],"b":1}'
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, non-ASCII kept as is, anything else (dates) as ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
