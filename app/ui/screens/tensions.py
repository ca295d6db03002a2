"""The tensions screen: flagged signals first, each with its evidence in words and in the
stories on each side, filtered by kind, theme and attribute."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.schemas.tensions import TensionsQuery
from app.services import dashboard_trends
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/p/{project_id}/tensions", response_class=HTMLResponse)
def tensions_page(
    request: Request,
    viewer: ProjectViewer,
    session: SessionDep,
    query: Annotated[TensionsQuery, Query()],
) -> HTMLResponse:
    """The latest analysis's signals, through the same function as GET /v1/.../tensions."""
    screen = dashboard_trends.tensions_screen(session, viewer.project, query)
    return render.page(request, "tensions.html", viewer, active="Tensions", screen=screen)
