"""Declared polarity axes: two pole descriptions each, placed and tested by the next analysis."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.schemas.polarities import PolaritiesDeclare, PolarityList, PolarityRead
from models import PolarityAxis, Project


def declare(session: Session, project: Project, body: PolaritiesDeclare) -> PolarityList:
    """Declare the body's axes (or update them by key); the project's axes after it."""
    axes = declare_axes(
        session, project, [(a.key, a.label, a.poles[0], a.poles[1]) for a in body.axes]
    )
    return PolarityList(axes=[_read(a) for a in axes])


def polarity_list(session: Session, project: Project) -> PolarityList:
    """The project's declared axes, as `GET /polarities` shows them."""
    return PolarityList(axes=[_read(a) for a in list_axes(session, project)])


def _read(axis: PolarityAxis) -> PolarityRead:
    return PolarityRead(
        key=axis.key, label=axis.label, poles=[axis.left, axis.right], created_at=axis.created_at
    )


def declare_axes(
    session: Session, project: Project, axes: Sequence[tuple[str, str, str, str]]
) -> list[PolarityAxis]:
    """Create axes, or update them by key; (key, label, left pole, right pole) each."""
    existing = {a.key: a for a in list_axes(session, project)}
    for key, label, left, right in axes:
        axis = existing.get(key)
        if axis is None:
            axis = PolarityAxis(project_id=project.id, key=key)
            session.add(axis)
            existing[key] = axis
        axis.label, axis.left, axis.right = label, left, right
    session.flush()
    return list_axes(session, project)


def list_axes(session: Session, project: Project) -> list[PolarityAxis]:
    """The project's declared axes, in the order they were first declared."""
    return list(
        session.scalars(
            select(PolarityAxis)
            .where(PolarityAxis.project_id == project.id)
            .order_by(PolarityAxis.id)
        )
    )
