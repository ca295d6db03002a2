from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from app.deps import ReadProject, SessionDep
from app.routes.filters import FilterDep
from app.schemas.curation import View
from app.schemas.trends import TrendParams, TrendsPage
from app.services import trends as trend_service

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["trends"])


@router.get("/trends", response_model=TrendsPage)
def read_trends(
    project: ReadProject,
    session: SessionDep,
    params: Annotated[TrendParams, Query()],
    flt: FilterDep,
    view: Annotated[View, Query(description="curated (with edits) or machine.")] = "curated",
) -> Response:
    """Prevalence by group, session or period; distinctive, emerging and fading themes."""
    page = trend_service.trends_page(session, project, params, flt, view)
    # serialised directly: the answer is plain data shaped as TrendsPage (see trends_json)
    return Response(to_json(page), media_type="application/json")
