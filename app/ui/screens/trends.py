"""The trends screen: theme shares by group, session or period, as a heatmap or small
multiples, with the distinctive themes and the rising and falling ones in words."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic_core import to_json

from app.deps import SessionDep
from app.routes.filters import FilterDep
from app.schemas.trends import TrendParams
from app.services import dashboard_trends
from app.services import trends as trend_service
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/p/{project_id}/trends", response_class=HTMLResponse)
def trends_page(
    request: Request,
    viewer: ProjectViewer,
    session: SessionDep,
    flt: FilterDep,
    by: Annotated[list[str], Query(max_length=200)] = [],  # noqa: B006 - FastAPI copies it
    level: Literal["top", "leaf"] = "top",
    view: Literal["heatmap", "lines"] = "heatmap",
) -> HTMLResponse:
    """The controls, rendered here; the charts drawn by trends.js from the same answer."""
    screen = dashboard_trends.trends_screen(session, viewer.project, by, level, flt)
    return render.page(request, "trends.html", viewer, active="Trends", screen=screen, view=view)


@router.get("/api/p/{project_id}/trends")
def trends_data(
    viewer: ProjectViewer,
    session: SessionDep,
    params: Annotated[TrendParams, Query()],
    flt: FilterDep,
) -> Response:
    """The answer of GET /v1/.../trends for the page's script, for the signed-in viewer."""
    page = trend_service.trends_page(session, viewer.project, params, flt)
    return Response(to_json(page), media_type="application/json")
