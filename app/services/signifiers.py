"""Declaring a project's signifiers and checking the values narratives carry for them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.errors import Conflict
from models import Project, Signifier, SignifierKind, SignifierValue

#: The value that marks a signifier as answered "not applicable".
NOT_APPLICABLE = None


class InvalidValue(ValueError):
    """A signifier value that does not fit its definition; the message says what would."""


def list_signifiers(session: Session, project: Project) -> list[Signifier]:
    return list(
        session.scalars(
            select(Signifier)
            .where(Signifier.project_id == project.id)
            .order_by(Signifier.position, Signifier.id)
        )
    )


def declare(
    session: Session, project: Project, declarations: Sequence[Mapping[str, Any]]
) -> list[Signifier]:
    """Create or update signifiers by key; a kind cannot change once values are stored."""
    current = {s.key: s for s in list_signifiers(session, project)}
    next_position = max((s.position for s in current.values()), default=-1) + 1
    for decl in declarations:
        kind = SignifierKind(decl["kind"])
        definition = {k: v for k, v in decl.items() if k not in ("key", "kind", "label")}
        existing = current.get(decl["key"])
        if existing is None:
            signifier = Signifier(
                project_id=project.id,
                key=decl["key"],
                kind=kind,
                label=decl.get("label", ""),
                definition=definition,
                position=next_position,
            )
            next_position += 1
            session.add(signifier)
            current[signifier.key] = signifier
            continue
        if existing.kind != kind and session.scalar(
            select(exists().where(SignifierValue.signifier_id == existing.id))
        ):
            raise Conflict(
                f"signifier {existing.key!r} is a {existing.kind.value} with stored values; "
                f"it cannot become a {kind.value}. Declare a new key instead."
            )
        existing.kind = kind
        existing.label = decl.get("label", existing.label)
        existing.definition = definition
    session.flush()
    return sorted(current.values(), key=lambda s: s.position)


def _number(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InvalidValue(f"{what} must be a finite number, got {raw!r}")
    return float(raw)


def _triad(definition: Mapping[str, Any], raw: Any) -> list[float]:
    anchors: list[str] = list(definition.get("anchors") or [])
    if isinstance(raw, Mapping):
        unknown = set(raw) - set(anchors)
        if unknown or len(raw) != 3:
            raise InvalidValue(f"a triad value by anchor needs exactly the anchors {anchors}")
        raw = [raw[a] for a in anchors]
    if not isinstance(raw, list | tuple) or len(raw) != 3:
        raise InvalidValue("a triad value is 3 proportions, one per anchor, e.g. [0.2, 0.3, 0.5]")
    parts = [_number(x, "each triad proportion") for x in raw]
    if any(p < 0 for p in parts):
        raise InvalidValue("triad proportions cannot be negative")
    total = sum(parts)
    # percentages are accepted as such: 100 = 1
    for scale in (1.0, 100.0):
        if abs(total - scale) <= 0.01 * scale:
            return [p / total for p in parts]
    raise InvalidValue(f"triad proportions must sum to 1 (or 100), these sum to {total:g}")


def _unit(raw: Any, what: str) -> float:
    x = _number(raw, what)
    if not 0.0 <= x <= 1.0:
        raise InvalidValue(f"{what} must lie in [0, 1], got {x:g}")
    return x


def _stones(definition: Mapping[str, Any], raw: Any) -> dict[str, dict[str, float]]:
    keys = [s["key"] for s in definition.get("stones") or []]
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidValue(
            'a stones value maps stone keys to positions, e.g. {"stone": {"x": 0.2, "y": 0.7}}'
        )
    placed: dict[str, dict[str, float]] = {}
    for stone, pos in raw.items():
        if stone not in keys:
            raise InvalidValue(f"unknown stone {stone!r}; declared stones: {keys}")
        if not isinstance(pos, Mapping) or set(pos) != {"x", "y"}:
            raise InvalidValue(f'stone {stone!r} needs a position {{"x": .., "y": ..}}')
        placed[stone] = {"x": _unit(pos["x"], "stone x"), "y": _unit(pos["y"], "stone y")}
    return placed


def _mcq(definition: Mapping[str, Any], raw: Any) -> str | list[str]:
    options = [o["key"] for o in definition.get("options") or []]
    multiple = bool(definition.get("multiple"))
    chosen = raw if isinstance(raw, list) else [raw]
    if not multiple and isinstance(raw, list) and len(raw) != 1:
        raise InvalidValue("this question takes a single choice")
    for choice in chosen:
        if not isinstance(choice, str) or choice not in options:
            raise InvalidValue(f"{choice!r} is not one of the options {options}")
    if multiple:
        return list(dict.fromkeys(chosen))
    return str(chosen[0])


def check_value(signifier: Signifier, raw: Any) -> tuple[bool, Any]:
    """(not applicable?, normalised value) of `raw` for `signifier`, or InvalidValue."""
    if raw is NOT_APPLICABLE:
        return True, None
    definition = signifier.definition
    match signifier.kind:
        case SignifierKind.triad:
            return False, _triad(definition, raw)
        case SignifierKind.dyad:
            return False, _unit(raw, "a dyad value")
        case SignifierKind.stones:
            return False, _stones(definition, raw)
        case SignifierKind.mcq:
            return False, _mcq(definition, raw)
        case SignifierKind.free_text:
            if not isinstance(raw, str):
                raise InvalidValue("a free-text answer is a string")
            return False, raw
    raise InvalidValue(f"unsupported signifier kind {signifier.kind}")  # pragma: no cover
