"""Canonical JSON: the one byte form digests, chain hashes and seals are computed over (stdlib only).

>>> canonical_json({"b": 1, "a": ["ø", None]})
'{"a":["ø",null],"b":1}'
"""

from __future__ import annotations

import json
from json import encoder as _json
from typing import Any

# One encoder, made once: ``json.dumps`` with these options builds a new one on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
# The C encoder behind it, made once too (``JSONEncoder.encode`` makes one per call): the same output, byte for
# byte, without the check for a structure that contains itself (a payload is built from plain values).
_make = getattr(_json, "c_make_encoder", None)  # None where the C accelerator is missing (then _ENCODER serves)
_C_ENCODE = None if _make is None else _make(None, str, _json.encode_basestring, None, ":", ",", True, False, True)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, non-ASCII kept as is, anything else (dates) as ``str``."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))
