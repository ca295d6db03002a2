"""Checks every way into the store shares, so a JSON batch and a file refuse the same things
in the same words: text with nothing visible in it, numbers that are not finite, datetimes
outside the range Weft keeps, and JSON nested deeper than a narrative ever needs.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime

#: Deepest nesting of lists and objects accepted inside one record (a stones answer is 3).
MAX_NESTING = 32

#: The range of datetimes kept, in UTC: anything outside is a typing or export mistake,
#: and an open range would let one row stretch every trend over centuries.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

INVISIBLE_TEXT = "has no visible characters (only spaces, zero-width or control characters)"
NON_FINITE = (
    "is not a finite number (NaN, Infinity, or too large, such as 1e309); "
    "send a finite number, or the value as text in quotes"
)
OUT_OF_RANGE = (
    f"is outside the dates Weft keeps ({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}, UTC); "
    "check the year and the time zone"
)
TOO_DEEP = f"is nested more than {MAX_NESTING} levels deep; a narrative needs far fewer"

# categories with nothing to see: separators, controls, format (zero-width) characters
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn", "Mn"})


def is_invisible(text: str) -> bool:
    """True when `text` holds no character a reader would see."""
    # the common case (a letter within the first few characters) returns at once
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in text)


def non_finite_at(value: object, where: str = "") -> str | None:
    """Where in `value` (a dotted path, "" for the value itself) the first NaN or infinite
    number is; None when every number in it is finite."""
    return _walk(value, where, 0)[0]


def nesting_depth_over(value: object) -> bool:
    """True when lists and objects in `value` nest deeper than MAX_NESTING."""
    return _walk(value, "", 0)[1]


def _walk(value: object, where: str, depth: int) -> tuple[str | None, bool]:
    """(first non-finite location, too deep?), stopping at the first of either."""
    if depth > MAX_NESTING:
        return None, True
    if isinstance(value, float):
        return (None if math.isfinite(value) else where), False
    if isinstance(value, Mapping):
        children = [(f"{where}.{key}" if where else str(key), item) for key, item in value.items()]
    elif isinstance(value, list | tuple):
        children = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    else:
        return None, False
    for child_where, item in children:
        found, deep = _walk(item, child_where, depth + 1)
        if found is not None or deep:
            return found, deep
    return None, False


def datetime_problem(value: datetime) -> str | None:
    """Why `value` cannot be kept (OUT_OF_RANGE), or None. A naive datetime is read as UTC."""
    try:
        at = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return OUT_OF_RANGE
    return None if EARLIEST <= at < LATEST else OUT_OF_RANGE
