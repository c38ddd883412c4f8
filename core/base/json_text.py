"""JSON every strict parser reads: NaN and infinities become ``null`` (Python's ``json`` writes ``NaN`` and
``Infinity``, which are not JSON). Everything Tailor prints or writes as JSON goes through :func:`json_text`."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth of dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` with non-finite floats as null; never non-standard JSON."""
    return json.dumps(finite_or_none(value), allow_nan=False, **options)
