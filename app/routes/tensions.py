from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ReadProject, SessionDep, WriteProject
from app.schemas.curation import View
from app.schemas.polarities import PolaritiesDeclare, PolarityList
from app.schemas.tensions import TensionsPage, TensionsQuery
from app.services import polarities as polarity_service
from app.services import tensions as tension_service

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["tensions"])


@router.get("/tensions", response_model=TensionsPage)
def list_tensions(
    project: ReadProject,
    session: SessionDep,
    query: Annotated[TensionsQuery, Query()],
    view: Annotated[View, Query(description="curated (with edits) or machine.")] = "curated",
) -> TensionsPage:
    """Tension and polarity signals of the latest analysis, flagged first."""
    return tension_service.tensions_page(session, project, query, view)


@router.post("/polarities", response_model=PolarityList)
def declare_polarities(
    body: PolaritiesDeclare, project: WriteProject, session: SessionDep
) -> PolarityList:
    """Declare polarity axes (two pole descriptions each), or update them by key."""
    return polarity_service.declare(session, project, body)


@router.get("/polarities", response_model=PolarityList)
def list_polarities(project: ReadProject, session: SessionDep) -> PolarityList:
    """The project's declared polarity axes."""
    return polarity_service.polarity_list(session, project)
