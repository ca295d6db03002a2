from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from app.deps import ReadProject, SessionDep, SettingsDep, WriteProject
from app.routes.filters import FilterDep
from app.schemas.common import JobRead, Page
from app.schemas.narratives import BatchStored, NarrativeBatch, NarrativeRead
from app.services import narratives as narrative_service
from models import Narrative

router = APIRouter(prefix="/v1/projects/{project_id}/narratives", tags=["narratives"])


@router.post("", status_code=201, response_model=BatchStored)
def post_narratives(
    body: NarrativeBatch,
    project: WriteProject,
    session: SessionDep,
    settings: SettingsDep,
) -> BatchStored:
    """Store a JSON batch, all or nothing; the embedding of new narratives is queued as a job."""
    canonical = body.model_dump_json().encode("utf-8")
    source = narrative_service.get_or_create_source(
        session,
        project,
        kind="json",
        sha256=hashlib.sha256(canonical).hexdigest(),
        size_bytes=len(canonical),
    )
    items = [narrative_service.NarrativeInput(**n.model_dump()) for n in body.narratives]
    result = narrative_service.store_batch(session, project, items, settings, source=source)
    return BatchStored(
        source_id=result.source.id,
        received=len(items),
        created=result.created,
        duplicates=result.duplicates,
        narrative_ids=result.narrative_ids,
        job=JobRead.model_validate(result.job) if result.job else None,
    )


@router.get("", response_model=Page[NarrativeRead])
def list_narratives(
    project: ReadProject,
    session: SessionDep,
    flt: FilterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[NarrativeRead]:
    """Narratives of the project, oldest first, with the total that match the filters."""
    total, rows = narrative_service.list_page(session, project, flt, limit, offset)
    return Page[NarrativeRead](
        total=total, limit=limit, offset=offset, items=_with_signifiers(session, rows)
    )


@router.get("/{narrative_id}", response_model=NarrativeRead)
def read_narrative(narrative_id: int, project: ReadProject, session: SessionDep) -> NarrativeRead:
    """One narrative with its signifier values."""
    narrative = narrative_service.get(session, project, narrative_id)
    return _with_signifiers(session, [narrative])[0]


def _with_signifiers(session: Session, rows: list[Narrative]) -> list[NarrativeRead]:
    values = narrative_service.signifier_values(session, [n.id for n in rows])
    return [
        NarrativeRead.model_validate(n).model_copy(update={"signifiers": values[n.id]})
        for n in rows
    ]
