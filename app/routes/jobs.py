from __future__ import annotations

from fastapi import APIRouter

from app.deps import KeyDep, SessionDep
from app.schemas.common import JobRead
from app.services import jobs as job_service
from models import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobRead)
def read_job(job_id: str, key: KeyDep, session: SessionDep) -> Job:
    """Status, progress (done of total) and error of a job of the key's project."""
    return job_service.get_for_project(session, job_id, key.project_id)
