"""The signifier explorer: triads, dyads, stones and multiple-choice answers of a selection
against the rest (or a second selection), the stories behind it, and A-vs-B tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.services import signifier_explorer
from app.services.signifier_explorer import ExplorerRequest
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/p/{project_id}/signifiers", response_class=HTMLResponse)
def signifiers_page(request: Request, viewer: ProjectViewer, session: SessionDep) -> HTMLResponse:
    """The explorer's frame; its script fetches the plots' data."""
    context = signifier_explorer.page_context(session, viewer.project)
    return render.page(request, "signifiers.html", viewer, active="Signifiers", **context)


@router.post("/api/p/{project_id}/signifiers/selection")
def selection(body: ExplorerRequest, viewer: ProjectViewer, session: SessionDep) -> dict[str, Any]:
    """Plot data for selection A against B (or the rest), with a page of A's stories."""
    return signifier_explorer.selection(session, viewer.project, body)


@router.post("/api/p/{project_id}/signifiers/compare")
def compare(body: ExplorerRequest, viewer: ProjectViewer, session: SessionDep) -> dict[str, Any]:
    """The signal tests of every signifier, A against B, computed now."""
    return signifier_explorer.compare(session, viewer.project, body)
