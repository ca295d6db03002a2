"""Turning cell values into signifier values and datetimes.

Signifier value shapes (what the service validates):
triad -> [a, b, c] proportions summing to 1; dyad -> float in [0, 1] (0 = left pole);
stones -> {stone_key: {"x": float, "y": float}} in [0, 1]; mcq -> option key or list of
option keys; free_text -> str; not applicable -> None (never 0).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo

from pipelines.ingest.records import SignifierSpec

#: Cell texts that mean "not applicable" (kept as None, unlike an empty cell, which
#: means "not answered" and leaves the signifier out of the record).
NOT_APPLICABLE = frozenset({"n/a", "na", "not applicable", "null", "-", "n.a."})

_SPLIT = re.compile(r"\s*[;|]\s*")


class ValueProblem(ValueError):
    """A cell value that does not fit its signifier; reported as a row issue."""


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        cleaned = value.strip().removesuffix("%").strip().replace(",", ".")
        try:
            number = float(cleaned)
        except ValueError as exc:
            raise ValueProblem(f"{value!r} is not a number") from exc
    else:
        raise ValueProblem(f"{value!r} is not a number")
    if not math.isfinite(number):
        raise ValueProblem(f"{value!r} is not a finite number")
    return number


def unit_interval(value: object, what: str) -> float:
    """A position in [0, 1]; values up to 100 are read as percentages."""
    number = _number(value)
    if 1.0 < number <= 100.0:
        number /= 100.0
    if not 0.0 <= number <= 1.0:
        raise ValueProblem(f"{what} {value!r} is outside 0-1 (or 0-100)")
    return number


def triad_proportions(values: Sequence[object]) -> list[float]:
    """Three proportions summing to 1, from proportions or percentages of the anchors."""
    if len(values) != 3:
        raise ValueProblem(f"a triad needs 3 values, got {len(values)}")
    numbers = [_number(v) for v in values]
    total = sum(abs(n) for n in numbers)
    if total <= 0:
        raise ValueProblem("triad values sum to 0")
    # A marker dropped on the triangle's edge can come out a hair below zero after the
    # canvas-to-proportion conversion; that is zero, while a real negative is an error.
    if any(n < -0.01 * total for n in numbers):
        raise ValueProblem(f"negative triad value in {list(values)!r}")
    numbers = [max(n, 0.0) for n in numbers]
    total = sum(numbers)
    # Exports give either proportions (sum 1) or percentages (sum 100); both normalise.
    return [n / total for n in numbers]


def _structured(value: object) -> object:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("[", "{")):
            try:
                return json.loads(stripped)
            except ValueError as exc:
                raise ValueProblem(f"unreadable JSON value {value!r}") from exc
    return value


def _option_key(value: str, spec: SignifierSpec) -> str:
    wanted = value.strip().casefold()
    for option in spec.options:
        if option["key"].casefold() == wanted or option["label"].strip().casefold() == wanted:
            return option["key"]
    raise ValueProblem(f"{value!r} is not an option of {spec.key!r}")


def is_not_applicable(value: object) -> bool:
    """Whether a cell says "not applicable"."""
    return isinstance(value, str) and value.strip().casefold() in NOT_APPLICABLE


def is_blank(value: object) -> bool:
    """Whether a cell is empty (unanswered)."""
    return value is None or (isinstance(value, str) and not value.strip())


def signifier_value(value: object, spec: SignifierSpec | None) -> object:
    """The stored value of one cell for `spec` (raises ValueProblem when it does not fit).

    Without a spec the text is kept as it is, for the service to validate against the
    project's declared signifiers.
    """
    if is_not_applicable(value):
        return None
    if spec is None:
        return value if isinstance(value, str) else json.dumps(value)
    value = _structured(value)
    if spec.kind == "free_text":
        return str(value).strip()
    if spec.kind == "dyad":
        return unit_interval(value, "dyad value")
    if spec.kind == "triad":
        parts: Sequence[object]
        if isinstance(value, Mapping):
            parts = [value.get(a) for a in spec.anchors]
        elif isinstance(value, list | tuple):
            parts = value
        else:
            parts = _SPLIT.split(str(value).strip())
            if len(parts) == 1:
                parts = [p for p in str(value).split(",") if p.strip()]
        return triad_proportions(parts)
    if spec.kind == "mcq":
        chosen = value if isinstance(value, list) else _SPLIT.split(str(value).strip())
        keys = [_option_key(str(c), spec) for c in chosen if str(c).strip()]
        if spec.multiple:
            return keys
        if len(keys) != 1:
            raise ValueProblem(f"{spec.key!r} takes one choice, got {len(keys)}")
        return keys[0]
    if spec.kind == "stones":
        if not isinstance(value, Mapping):
            raise ValueProblem("stones need a JSON object {stone: {x, y}}")
        known = {s["key"] for s in spec.stones}
        placed: dict[str, dict[str, float]] = {}
        for stone, position in value.items():
            if known and stone not in known:
                raise ValueProblem(f"{stone!r} is not a stone of {spec.key!r}")
            if isinstance(position, Mapping):
                x, y = position.get("x"), position.get("y")
            elif isinstance(position, list | tuple) and len(position) == 2:
                x, y = position
            else:
                raise ValueProblem(f"stone {stone!r} needs x and y")
            placed[str(stone)] = {
                "x": unit_interval(x, "stone x"),
                "y": unit_interval(y, "stone y"),
            }
        return placed
    raise ValueProblem(f"unknown signifier kind {spec.kind!r}")


_DATE_FORMATS_DAYFIRST = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
_DATE_FORMATS_MONTHFIRST = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
)
_DATE_FORMATS_ANY = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y %H:%M",
    "%a, %d %b %Y %H:%M:%S %z",
)


def parse_datetime(
    value: object, *, dayfirst: bool = True, tz: tzinfo | None = None
) -> datetime | None:
    """A datetime from a cell: datetime/date objects, ISO 8601, common day-first or
    month-first forms, or Unix epoch seconds/milliseconds (read as UTC).

    Times without a zone stay naive unless `tz` is given. Returns None for a blank cell;
    raises ValueProblem for text that is not a date.
    """
    if is_blank(value):
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = _from_epoch(float(value))
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip(), dayfirst)
    if parsed is None:
        raise ValueProblem(f"{value!r} is not a date or time")
    if parsed.tzinfo is None and tz is not None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _from_epoch(number: float) -> datetime | None:
    # Milliseconds since 1970 are over 1e11 for any date after March 1973.
    seconds = number / 1000.0 if abs(number) >= 1e11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_date_text(text: str, dayfirst: bool) -> datetime | None:
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):
        return _from_epoch(float(text))
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    ordered = (
        _DATE_FORMATS_DAYFIRST + _DATE_FORMATS_MONTHFIRST
        if dayfirst
        else _DATE_FORMATS_MONTHFIRST + _DATE_FORMATS_DAYFIRST
    )
    for pattern in ordered + _DATE_FORMATS_ANY:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
