"""The project overview: counts, the latest analysis, themes by size, what is new."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import RuntimeDep, SessionDep
from app.schemas.themes import AnalysisCreate
from app.services import analyses as analysis_service
from app.services import dashboard
from app.ui import render
from app.ui.deps import ProjectViewer, ProjectWriter

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/p/{project_id}/", response_class=HTMLResponse)
def overview(request: Request, viewer: ProjectViewer, session: SessionDep) -> HTMLResponse:
    """What the project holds and what its latest analysis found."""
    found = dashboard.overview(session, viewer.project)
    return render.page(request, "overview.html", viewer, active="Overview", o=found)


@router.post("/p/{project_id}/analyses")
def start_analysis(
    viewer: ProjectWriter, session: SessionDep, runtime: RuntimeDep
) -> RedirectResponse:
    """Queue an analysis with Weft's defaults (a write key; the form carries the CSRF token)."""
    analysis_service.request(session, viewer.project, AnalysisCreate(), runtime.embedder.name)
    return RedirectResponse(f"/ui/p/{viewer.project.id}/", status_code=303)


@router.get("/api/p/{project_id}/progress")
def progress(viewer: ProjectViewer, session: SessionDep) -> dict[str, Any]:
    """The jobs in hand, for the overview to show their progress while they run."""
    return dashboard.progress(session, viewer.project)
