from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ReadProject, SessionDep, SettingsDep, WriteProject
from app.routes.filters import FilterDep, IdPath, OffsetQuery
from app.schemas.common import Page
from app.schemas.narratives import BatchStored, NarrativeBatch, NarrativeRead
from app.services import narratives as narrative_service

router = APIRouter(prefix="/v1/projects/{project_id}/narratives", tags=["narratives"])


@router.post("", status_code=201, response_model=BatchStored)
def post_narratives(
    body: NarrativeBatch,
    project: WriteProject,
    session: SessionDep,
    settings: SettingsDep,
) -> BatchStored:
    """Store a JSON batch, all or nothing; the embedding of new narratives is queued as a job."""
    return narrative_service.post_batch(session, project, body, settings)


@router.get("", response_model=Page[NarrativeRead])
def list_narratives(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: OffsetQuery = 0,
) -> Page[NarrativeRead]:
    """Narratives of the project, oldest first, with the total that match the filters."""
    return narrative_service.list_page(session, project, flt, limit, offset)


@router.get("/{narrative_id}", response_model=NarrativeRead)
def read_narrative(
    narrative_id: IdPath, project: ReadProject, session: SessionDep
) -> NarrativeRead:
    """One narrative with its signifier values."""
    return narrative_service.read(session, project, narrative_id)
