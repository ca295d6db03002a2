"""Signifier values and datetimes from what narratives carry.

`check_signifier_value` is the one check of a value against its signifier, for the JSON
API and for files alike. Value shapes: triad -> [a, b, c] proportions summing to 1 (or
percentages summing to 100), or {anchor: share}; dyad -> float in [0, 1] (0 = left pole);
stones -> {stone_key: {"x": float, "y": float}} in [0, 1]; mcq -> option key or list of
option keys; free_text -> str; not applicable -> None (never 0).

File cells are text first: `signifier_value` reads a cell (numbers as text, "N/A", option
labels, 0-100 positions, "a;b;c" lists) into such a value and then checks it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from pipelines.ingest.guards import NON_FINITE, OUT_OF_RANGE, datetime_problem
from pipelines.ingest.records import SignifierSpec

#: Cell texts that mean "not applicable" (kept as None, unlike an empty cell, which
#: means "not answered" and leaves the signifier out of the record).
NOT_APPLICABLE = frozenset({"n/a", "na", "not applicable", "null", "-", "n.a."})

_SPLIT = re.compile(r"\s*[;|]\s*")


class ValueProblem(ValueError):
    """A value that does not fit: a signifier answer its definition refuses, or a date that
    is none; the message says what would fit."""


class OutOfRange(ValueProblem):
    """A date that is one, but outside the range Weft keeps (guards.OUT_OF_RANGE)."""


# --- the check of a value ------------------------------------------------------------------


def check_signifier_value(
    kind: str, definition: Mapping[str, Any], value: object
) -> tuple[bool, object]:
    """(not applicable?, normalised value) of `value` for a signifier of `kind` declared by
    `definition` (its anchors, options, multiple, stones); raises ValueProblem."""
    if value is None:
        return True, None
    if kind == "triad":
        return False, _triad(definition, value)
    if kind == "dyad":
        return False, _unit(value, "a dyad value")
    if kind == "stones":
        return False, _stones(definition, value)
    if kind == "mcq":
        return False, _mcq(definition, value)
    if kind == "free_text":
        if not isinstance(value, str):
            raise ValueProblem("a free-text answer is a string")
        return False, value
    raise ValueProblem(f"unknown signifier kind {kind!r}")


def spec_definition(spec: SignifierSpec) -> dict[str, Any]:
    """The definition `check_signifier_value` reads, from a parser's SignifierSpec."""
    return {
        "anchors": spec.anchors,
        "options": spec.options,
        "multiple": spec.multiple,
        "stones": spec.stones,
    }


def _number(value: object, what: str) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueProblem(f"{what} {NON_FINITE}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueProblem(f"{what} must be a finite number, got {value!r}")
    try:
        return float(value)
    except OverflowError as exc:  # an integer too large for a float
        raise ValueProblem(f"{what} {NON_FINITE}") from exc


def _unit(value: object, what: str) -> float:
    number = _number(value, what)
    if not 0.0 <= number <= 1.0:
        raise ValueProblem(f"{what} must lie in [0, 1]; {number:g} is outside 0-1")
    return number


def _proportions(values: Sequence[object]) -> list[float]:
    if len(values) != 3:
        raise ValueProblem(
            f"a triad value is 3 proportions, one per anchor, e.g. [0.2, 0.3, 0.5]; "
            f"got {len(values)}"
        )
    numbers = [_number(v, "each triad proportion") for v in values]
    # A marker dropped on the triangle's edge can come out a hair below zero after the
    # canvas-to-proportion conversion; that is zero, while a real negative is an error.
    if any(n < -0.01 * sum(abs(m) for m in numbers) for n in numbers):
        raise ValueProblem(f"negative triad value in {list(values)!r}")
    numbers = [max(n, 0.0) for n in numbers]
    total = sum(numbers)
    # Exports give either proportions (sum 1) or percentages (sum 100); both normalise.
    for scale in (1.0, 100.0):
        if abs(total - scale) <= 0.01 * scale:
            return [n / total for n in numbers]
    raise ValueProblem(f"triad proportions must sum to 1 (or 100), these sum to {total:g}")


def _triad(definition: Mapping[str, Any], value: object) -> list[float]:
    anchors: list[str] = list(definition.get("anchors") or [])
    if isinstance(value, Mapping):
        if set(value) != set(anchors) or len(anchors) != 3:
            raise ValueProblem(f"a triad value by anchor needs exactly the anchors {anchors}")
        value = [value[a] for a in anchors]
    if not isinstance(value, list | tuple):
        raise ValueProblem("a triad value is 3 proportions, one per anchor, e.g. [0.2, 0.3, 0.5]")
    return _proportions(value)


def _stones(definition: Mapping[str, Any], value: object) -> dict[str, dict[str, float]]:
    keys = [s["key"] for s in definition.get("stones") or []]
    if not isinstance(value, Mapping) or not value:
        raise ValueProblem(
            'a stones value maps stone keys to positions, e.g. {"stone": {"x": 0.2, "y": 0.7}}'
        )
    placed: dict[str, dict[str, float]] = {}
    for stone, position in value.items():
        if stone not in keys:
            raise ValueProblem(f"unknown stone {stone!r}; declared stones: {keys}")
        if not isinstance(position, Mapping) or set(position) != {"x", "y"}:
            raise ValueProblem(f'stone {stone!r} needs a position {{"x": .., "y": ..}}')
        placed[stone] = {"x": _unit(position["x"], "stone x"), "y": _unit(position["y"], "stone y")}
    return placed


def _mcq(definition: Mapping[str, Any], value: object) -> str | list[str]:
    options = [o["key"] for o in definition.get("options") or []]
    multiple = bool(definition.get("multiple"))
    chosen = value if isinstance(value, list) else [value]
    if not multiple and len(chosen) != 1:
        raise ValueProblem(f"this question takes a single choice, got {len(chosen)}")
    for choice in chosen:
        if not isinstance(choice, str) or choice not in options:
            raise ValueProblem(f"{choice!r} is not one of the options {options}")
    if multiple:
        return list(dict.fromkeys(chosen))
    return str(chosen[0])


# --- reading file cells --------------------------------------------------------------------


def _cell_number(value: object) -> object:
    """A number from a cell's text ("0,5", "50 %"); anything else is left to the check."""
    if not isinstance(value, str):
        return value
    cleaned = value.strip().removesuffix("%").strip().replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError as exc:
        raise ValueProblem(f"{value!r} is not a number") from exc
    if not math.isfinite(number):
        # float() reads "nan", "inf" and "1e309" without complaint
        raise ValueProblem(f"{value.strip()[:40]!r} {NON_FINITE}")
    return number


def _cell_position(value: object) -> object:
    """A position from a cell; exports give 0-1 or 0-100, so values up to 100 are percentages."""
    number = _cell_number(value)
    if isinstance(number, float | int) and not isinstance(number, bool) and 1.0 < number <= 100.0:
        return number / 100.0
    return number


def unit_interval(value: object, what: str) -> float:
    """A position in [0, 1] from a cell; values up to 100 are read as percentages."""
    return _unit(_cell_position(value), what)


def triad_proportions(values: Sequence[object]) -> list[float]:
    """Three proportions summing to 1, from cells holding proportions or percentages."""
    return _proportions([_cell_number(v) for v in values])


def _structured(value: object) -> object:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("[", "{")):
            try:
                return json.loads(stripped)
            except RecursionError as exc:
                raise ValueProblem("the JSON value is nested too deep") from exc
            except ValueError as exc:
                raise ValueProblem(f"unreadable JSON value {value!r}") from exc
    return value


def _option_key(value: str, spec: SignifierSpec) -> str:
    """The key of the option a cell names by key or label; other text is left to the check."""
    wanted = value.strip().casefold()
    for option in spec.options:
        if option["key"].casefold() == wanted or option["label"].strip().casefold() == wanted:
            return option["key"]
    return value.strip()


def _read_cell(value: object, spec: SignifierSpec) -> object:
    """A cell as the value shape of `spec`'s kind, for `check_signifier_value`."""
    if spec.kind == "free_text":
        return str(value).strip()
    if spec.kind == "dyad":
        return _cell_position(value)
    value = _structured(value)
    if spec.kind == "triad":
        if isinstance(value, Mapping):
            return {k: _cell_number(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_cell_number(v) for v in value]
        parts = _SPLIT.split(str(value).strip())
        if len(parts) == 1:
            parts = [p for p in str(value).split(",") if p.strip()]
        return [_cell_number(p) for p in parts]
    if spec.kind == "mcq":
        chosen = value if isinstance(value, list) else _SPLIT.split(str(value).strip())
        return [_option_key(str(c), spec) for c in chosen if str(c).strip()]
    if spec.kind == "stones" and isinstance(value, Mapping):
        return {
            stone: (
                {k: _cell_position(v) for k, v in position.items()}
                if isinstance(position, Mapping)
                else position
            )
            for stone, position in value.items()
        }
    return value


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
    _, checked = check_signifier_value(spec.kind, spec_definition(spec), _read_cell(value, spec))
    return checked


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
        try:
            parsed = _from_epoch(float(value))
        except OverflowError:  # an integer too large for a float
            parsed = None
    elif isinstance(value, str):
        parsed = _parse_date_text(value.strip(), dayfirst)
    if parsed is None:
        raise ValueProblem(f"{value!r} is not a date or time")
    if parsed.tzinfo is None and tz is not None:
        parsed = parsed.replace(tzinfo=tz)
    if datetime_problem(parsed):
        shown = value.strip()[:40] if isinstance(value, str) else str(value)
        raise OutOfRange(f"{shown!r} {OUT_OF_RANGE}")
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
