from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import KeyDep, ReadProject, SessionDep
from app.routes.filters import OffsetQuery
from app.schemas.common import JobRead, Page
from app.services import jobs as job_service
from models import Job

router = APIRouter(tags=["jobs"])


@router.get("/v1/jobs/{job_id}", response_model=JobRead)
def read_job(job_id: str, key: KeyDep, session: SessionDep) -> Job:
    """Status, progress (done of total) and error of a job of the key's project."""
    return job_service.get_for_project(session, job_id, key.project_id)


@router.get("/v1/projects/{project_id}/jobs", response_model=Page[JobRead])
def list_jobs(
    project: ReadProject,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: OffsetQuery = 0,
) -> Page[JobRead]:
    """The project's jobs, newest first, with their total."""
    return job_service.list_page(session, project.id, limit, offset)
