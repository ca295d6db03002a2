from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.deps import ReadProject, RuntimeDep, SessionDep
from app.routes.filters import FilterDep, IdPath, OffsetQuery
from app.schemas.themes import SimilarList, ThemeDetail, ThemeHistory, ThemesPage
from app.services import exports as export_service
from app.services import theme_pages

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["themes"])

LevelQuery = Annotated[
    Literal["top", "leaf"],
    Query(description="top: the top-level themes; leaf: sub-themes and childless themes."),
]
MembershipQuery = Annotated[
    Literal["primary", "any"],
    Query(
        description="primary: each narrative counts in its own theme; any: in each of its "
        "top three themes (top level only)."
    ),
]


@router.get("/themes", response_model=ThemesPage)
def list_themes(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
    level: LevelQuery = "top",
    membership: MembershipQuery = "primary",
) -> ThemesPage:
    """The latest analysis's themes, largest first; filters recount sizes from stored results."""
    return theme_pages.themes_page(session, project, flt, level, membership, limit, offset)


@router.get("/themes/{key}", response_model=ThemeDetail)
def read_theme(
    key: str,
    project: ReadProject,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: OffsetQuery = 0,
) -> ThemeDetail:
    """One theme of the latest analysis: keywords with weights, exemplars, members by typicality."""
    return theme_pages.theme_detail(session, project, key, limit, offset)


@router.get("/themes/{key}/history", response_model=ThemeHistory)
def theme_history(key: str, project: ReadProject, session: SessionDep) -> ThemeHistory:
    """A theme key across analyses: where it appeared, and the splits, merges and endings
    that name it (lineage is recorded each time an analysis is matched to the one before)."""
    return theme_pages.theme_history(session, project, key)


@router.get("/narratives/{narrative_id}/similar", response_model=SimilarList)
def similar_narratives(
    narrative_id: IdPath,
    project: ReadProject,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarList:
    """More stories like this: the nearest narratives of the project by cosine similarity."""
    return theme_pages.similar_page(
        session, runtime.vectors, project, narrative_id, runtime.embedder.name, limit
    )


@router.get(
    "/assignments",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export_assignments(
    project: ReadProject,
    session: SessionDep,
    runtime: RuntimeDep,
    format: export_service.Format = "json",
) -> StreamingResponse:
    """Every narrative's theme, sub-theme and top three themes in the latest analysis, streamed."""
    export = export_service.assignments(session, runtime.session_factory, project, format)
    disposition = f'attachment; filename="{export.filename}"'
    return StreamingResponse(
        export.chunks, media_type=export.media_type, headers={"Content-Disposition": disposition}
    )
