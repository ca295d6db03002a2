from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ReadProject, RuntimeDep, SessionDep, WriteProject
from app.routes.filters import IdPath
from app.schemas.themes import AnalysisCreate, AnalysisQueued, AnalysisRead
from app.services import analyses as analysis_service
from models import Analysis

router = APIRouter(prefix="/v1/projects/{project_id}/analyses", tags=["analyses"])


@router.post("", status_code=202, response_model=AnalysisQueued)
def request_analysis(
    body: AnalysisCreate, project: WriteProject, session: SessionDep, runtime: RuntimeDep
) -> AnalysisQueued:
    """Queue a clustering run over the project's narratives; poll its job."""
    return analysis_service.request(session, project, body, runtime.embedder.name)


@router.get("", response_model=list[AnalysisRead])
def list_analyses(
    project: ReadProject,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Analysis]:
    """The project's analyses, newest first."""
    return analysis_service.recent(session, project, limit)


@router.get("/{analysis_id}", response_model=AnalysisRead)
def read_analysis(analysis_id: IdPath, project: ReadProject, session: SessionDep) -> Analysis:
    """One analysis: parameters, seed, model, library versions, timings and counts."""
    return analysis_service.get(session, project, analysis_id)
