"""The theme map: every story of the latest analysis as a point, coloured by its theme."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.deps import SessionDep
from app.schemas.common import RowId
from app.services import theme_map
from app.services.narratives import NarrativeFilter
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui", include_in_schema=False)


def map_filter(
    attribute: Annotated[str, Query(max_length=700)] = "",
    session_id: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> NarrativeFilter:
    """The map form's fields (empty ones filter nothing) as the API's narrative filter."""
    return theme_map.parse_filter(attribute, session_id, since, until)


MapFilter = Annotated[NarrativeFilter, Depends(map_filter)]
FIELDS = ("attribute", "session_id", "since", "until")


def _query(request: Request) -> str:
    """The filter's fields of the page's query, for the script's data calls."""
    return urlencode({k: v for k in FIELDS if (v := request.query_params.get(k, ""))})


@router.get("/p/{project_id}/map", response_class=HTMLResponse)
def map_page(
    request: Request, viewer: ProjectViewer, session: SessionDep, flt: MapFilter
) -> HTMLResponse:
    """The map page; its script fetches the points with the same query string."""
    found = theme_map.map_page(session, viewer.project, flt)
    return render.page(
        request,
        "map.html",
        viewer,
        active="Theme map",
        map=found,
        query=_query(request),
        chosen={k: request.query_params.get(k, "") for k in FIELDS},
    )


@router.get("/api/p/{project_id}/map/points")
def map_points(viewer: ProjectViewer, session: SessionDep, flt: MapFilter) -> Response:
    """The map's points as compact parallel arrays (no per-point objects)."""
    body = theme_map.map_points_json(session, viewer.project, flt)
    return Response(body, media_type="application/json")


@router.get("/api/p/{project_id}/map/snippet/{narrative_id}")
def map_snippet(viewer: ProjectViewer, session: SessionDep, narrative_id: RowId) -> JSONResponse:
    """The start of one story, for the card shown while the pointer rests on its point."""
    return JSONResponse(theme_map.hover_snippet(session, viewer.project, narrative_id))
