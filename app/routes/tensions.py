from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ReadProject, SessionDep, WriteProject
from app.schemas.tensions import (
    PolaritiesDeclare,
    PolarityList,
    PolarityRead,
    TensionsPage,
)
from app.services import analyses as analysis_service
from app.services import tensions as tension_service
from models import PolarityAxis

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["tensions"])


@router.get("/tensions", response_model=TensionsPage)
def list_tensions(
    project: ReadProject,
    session: SessionDep,
    theme: Annotated[list[str], Query(description="Theme keys (repeatable).")] = [],  # noqa: B006
    kind: Annotated[list[str], Query(description="Signal kinds (repeatable).")] = [],  # noqa: B006
    attribute: Annotated[
        list[str], Query(description="Group attributes of divergence signals (repeatable).")
    ] = [],  # noqa: B006
    min_strength: Annotated[float | None, Query(description="Least strength.")] = None,
    flagged_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TensionsPage:
    """Tension and polarity signals of the latest analysis, flagged first."""
    analysis = analysis_service.latest(session, project)
    if analysis is None:
        return TensionsPage(
            analysis_id=None,
            computed=False,
            notes=[],
            total=0,
            limit=limit,
            offset=offset,
            signals=[],
        )
    flt = tension_service.SignalFilter(
        themes=tuple(theme),
        kinds=tuple(kind),
        attributes=tuple(attribute),
        min_strength=min_strength,
        flagged_only=flagged_only,
    )
    total, rows = tension_service.list_signals(session, analysis, flt, limit, offset)
    context = tension_service.context(session, analysis, rows)
    notes = list(analysis.notes)
    placed = analysis.incremental_count
    if placed:
        notes.append(
            f"{placed} narratives placed into themes since this analysis ran are not in these "
            "signals; run an analysis to include them"
        )
    return TensionsPage(
        analysis_id=analysis.id,
        computed=tension_service.computed(analysis),
        notes=notes,
        placed_since=placed,
        total=total,
        limit=limit,
        offset=offset,
        signals=tension_service.render_signals(rows, context),
    )


def _axis(axis: PolarityAxis) -> PolarityRead:
    return PolarityRead(
        key=axis.key, label=axis.label, poles=[axis.left, axis.right], created_at=axis.created_at
    )


@router.post("/polarities", response_model=PolarityList)
def declare_polarities(
    body: PolaritiesDeclare, project: WriteProject, session: SessionDep
) -> PolarityList:
    """Declare polarity axes (two pole descriptions each), or update them by key."""
    axes = tension_service.declare_axes(
        session, project, [(a.key, a.label, a.poles[0], a.poles[1]) for a in body.axes]
    )
    return PolarityList(axes=[_axis(a) for a in axes])


@router.get("/polarities", response_model=PolarityList)
def list_polarities(project: ReadProject, session: SessionDep) -> PolarityList:
    """The project's declared polarity axes."""
    return PolarityList(axes=[_axis(a) for a in tension_service.list_axes(session, project)])
