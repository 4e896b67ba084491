"""Strict JSON out: a number that is not finite (NaN, an infinity) is written as null.

Python's ``json`` writes bare ``NaN`` and ``Infinity`` by default, which strict parsers (``jq``,
JavaScript, Go's encoding/json) reject.
"""

from __future__ import annotations

import json
import math
import numbers

__all__ = ["dumps", "finite"]


def finite(value: object) -> object:
    """``value`` with every non-finite number inside dicts, lists and tuples replaced by None."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def dumps(value: object, **kwargs) -> str:
    """``json.dumps`` that writes null for NaN and infinities, and refuses to write them bare."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
