"""Declaring a project's signifiers and checking the values narratives carry for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.errors import Conflict
from models import Project, Signifier, SignifierKind, SignifierValue
from pipelines.ingest.values import ValueProblem, check_signifier_value

#: A signifier value that does not fit its definition; the message says what would.
InvalidValue = ValueProblem


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


def check_value(signifier: Signifier, raw: Any) -> tuple[bool, Any]:
    """(not applicable?, normalised value) of `raw` for `signifier`, or InvalidValue."""
    return check_signifier_value(signifier.kind, signifier.definition, raw)
