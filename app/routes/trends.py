from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from app.deps import ReadProject, SessionDep
from app.routes.filters import FilterDep
from app.schemas.trends import TrendsPage
from app.services import analyses as analysis_service
from app.services import trends as trend_service

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["trends"])


@router.get("/trends", response_model=TrendsPage)
def read_trends(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    by: Annotated[
        list[str],
        Query(
            description="'attribute:<key>', 'session' or 'period:week|month|quarter'; give "
            "two to cross them (e.g. by=attribute:trust&by=period:month)"
        ),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    theme: Annotated[
        list[str], Query(description="Theme keys to report, repeatable; all by default")
    ] = [],  # noqa: B006
    level: Annotated[
        Literal["top", "leaf"],
        Query(description="top: top-level themes; leaf: sub-themes and childless themes"),
    ] = "top",
    alpha: Annotated[
        float, Query(gt=0, lt=0.5, description="False-discovery rate of every flag")
    ] = 0.05,
    window: Annotated[
        int, Query(ge=2, le=104, description="Recent periods or sessions the trend test covers")
    ] = 8,
    baseline: Annotated[
        int, Query(ge=1, le=103, description="Periods before the latest pooled as its baseline")
    ] = 3,
) -> Response:
    """Prevalence by group, session or period; distinctive, emerging and fading themes."""
    query = trend_service.TrendQuery(
        by=trend_service.parse_by(by),
        flt=flt,
        themes=theme,
        level=level,
        alpha=alpha,
        window=window,
        baseline=baseline,
    )
    analysis = analysis_service.latest(session, project)
    # serialised directly: the answer is plain data shaped as TrendsPage (see the service)
    return Response(
        to_json(trend_service.trends(session, project, analysis, query)),
        media_type="application/json",
    )
