"""The project overview: counts, the latest analysis, themes by size."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.services import theme_pages
from app.services.narratives import NarrativeFilter
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/p/{project_id}/", response_class=HTMLResponse)
def overview(request: Request, viewer: ProjectViewer, session: SessionDep) -> HTMLResponse:
    """What the project holds and what its latest analysis found."""
    themes = theme_pages.themes_page(
        session, viewer.project, NarrativeFilter(), "top", "primary", 500, 0
    )
    return render.page(request, "overview.html", viewer, active="Overview", themes=themes)
