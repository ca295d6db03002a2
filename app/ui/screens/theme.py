"""The theme page (label, quotes, shares by group and over time, tensions, history) and the
narrative page (one story, its theme, and more stories like it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import RuntimeDep, SessionDep
from app.schemas.common import RowId
from app.services import curation as curation_service
from app.services import dashboard
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)

ByQuery = Annotated[str, Query(max_length=120, pattern=r"^(attribute:.+|session|period:\w+)$")]


@router.get("/p/{project_id}/themes/{key}", response_class=HTMLResponse)
def theme(request: Request, key: str, viewer: ProjectViewer, session: SessionDep) -> HTMLResponse:
    """One theme: what it is about, who raises it, how it changes, where it pulls apart."""
    view = dashboard.theme_view(session, viewer.project, key)
    panel = curation_service.theme_panel(session, viewer.project, view.detail.key)
    return render.page(request, "theme.html", viewer, active="Overview", v=view, c=panel)


@router.get("/api/p/{project_id}/themes/{key}/shares")
def theme_shares(key: str, by: ByQuery, viewer: ProjectViewer, session: SessionDep) -> Any:
    """The theme's share in each group, session or period, with 95% intervals."""
    return dashboard.theme_shares(session, viewer.project, key, by)


@router.get("/p/{project_id}/narratives/{narrative_id}", response_class=HTMLResponse)
def narrative(
    request: Request,
    narrative_id: RowId,
    viewer: ProjectViewer,
    session: SessionDep,
    runtime: RuntimeDep,
) -> HTMLResponse:
    """One story, its theme, and more stories like it."""
    view = dashboard.narrative_view(
        session, runtime.vectors, viewer.project, narrative_id, runtime.embedder.name
    )
    return render.page(request, "narrative.html", viewer, active="Overview", v=view)
