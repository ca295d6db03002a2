from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from app.deps import KeyDep, ReadProject, RuntimeDep, SessionDep, WriteProject
from app.routes.filters import FilterDep, IdPath, OffsetQuery
from app.schemas.curation import (
    CuratedThemeDetail,
    CuratedThemeHistory,
    CuratedThemesPage,
    EditList,
    EditRead,
    EditsMade,
    ThemeMerge,
    ThemePatch,
    View,
)
from app.schemas.themes import SimilarList
from app.services import curation as curation_service
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
ViewQuery = Annotated[
    View,
    Query(description="curated: with the convenor's edits applied; machine: as analysed."),
]


@router.get("/themes", response_model=CuratedThemesPage)
def list_themes(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: OffsetQuery = 0,
    level: LevelQuery = "top",
    membership: MembershipQuery = "primary",
    view: ViewQuery = "curated",
) -> Response:
    """The latest analysis's themes, largest first; filters recount sizes from stored results."""
    page = theme_pages.themes_page(session, project, flt, level, membership, limit, offset, view)
    # serialised directly: the page is a validated CuratedThemesPage already, and dashboards
    # read it many times a minute
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/themes/edits", response_model=EditList)
def list_edits(project: ReadProject, session: SessionDep) -> EditList:
    """Every curation edit, with what it does to the latest analysis (needs_decision first
    to look at: a theme it names ended or split)."""
    return curation_service.list_edits(session, project)


@router.post("/themes/edits/{edit_id}/undo", response_model=EditRead)
def undo_edit(edit_id: IdPath, project: WriteProject, key: KeyDep, session: SessionDep) -> EditRead:
    """Undo an edit; it stays on record, marked undone with the key and time."""
    return curation_service.undo(session, project, key, edit_id)


@router.post("/themes/edits/{edit_id}/confirm", response_model=EditRead)
def confirm_edit(
    edit_id: IdPath, project: WriteProject, key: KeyDep, session: SessionDep
) -> EditRead:
    """Keep an edit that needs a decision, on the latest analysis's themes as they are now."""
    return curation_service.confirm(session, project, key, edit_id)


@router.post("/themes/merge", status_code=201, response_model=EditRead)
def merge_themes(
    body: ThemeMerge, project: WriteProject, key: KeyDep, session: SessionDep
) -> EditRead:
    """Show two or more top-level themes as one, under the larger theme's key."""
    return curation_service.merge(session, project, key, body)


@router.get("/themes/{key}", response_model=CuratedThemeDetail)
def read_theme(
    key: str,
    project: ReadProject,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: OffsetQuery = 0,
    view: ViewQuery = "curated",
) -> CuratedThemeDetail:
    """One theme of the latest analysis: keywords with weights, exemplars, members by typicality."""
    return theme_pages.theme_detail(session, project, key, limit, offset, view)


@router.patch("/themes/{key}", response_model=EditsMade)
def edit_theme(
    key: str, body: ThemePatch, project: WriteProject, api_key: KeyDep, session: SessionDep
) -> EditsMade:
    """Rename (label), hide or show (hidden), pin or unpin (pinned) a theme."""
    return curation_service.patch(session, project, api_key, key, body)


@router.post("/themes/{key}/split", status_code=201, response_model=EditRead)
def split_theme(key: str, project: WriteProject, api_key: KeyDep, session: SessionDep) -> EditRead:
    """Show a theme as its sub-themes, each a theme of its own in the curated view."""
    return curation_service.split(session, project, api_key, key)


@router.get("/themes/{key}/history", response_model=CuratedThemeHistory)
def theme_history(key: str, project: ReadProject, session: SessionDep) -> CuratedThemeHistory:
    """A theme key across analyses: where it appeared, the splits, merges and endings that
    name it, and every curation edit of it, with the key name and time."""
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
    view: ViewQuery = "curated",
) -> StreamingResponse:
    """Every narrative's theme, sub-theme and top three themes in the latest analysis, and
    the curated view's theme (curated_key, curated_label, hidden), streamed."""
    export = export_service.assignments(session, runtime.session_factory, project, format, view)
    disposition = f'attachment; filename="{export.filename}"'
    return StreamingResponse(
        export.chunks, media_type=export.media_type, headers={"Content-Disposition": disposition}
    )
