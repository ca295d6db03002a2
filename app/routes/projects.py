from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import AdminProject, ReadProject, SessionDep, SettingsDep, presented_secret
from app.schemas.projects import (
    KeyCreate,
    KeyIssued,
    KeyRead,
    ProjectCreate,
    ProjectCreated,
    ProjectRead,
)
from app.services import projects as project_service
from models import ApiKey, Project

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectCreated)
def create_project(
    body: ProjectCreate,
    session: SessionDep,
    settings: SettingsDep,
    secret: Annotated[str | None, Depends(presented_secret)],
) -> ProjectCreated:
    """Create a project; the response carries its admin key, shown this once."""
    return project_service.new_project(session, body, settings.bootstrap_token, secret)


@router.get("/{project_id}", response_model=ProjectRead)
def read_project(project: ReadProject) -> Project:
    """The project the key belongs to."""
    return project


@router.post("/{project_id}/keys", status_code=201, response_model=KeyIssued)
def create_key(body: KeyCreate, project: AdminProject, session: SessionDep) -> KeyIssued:
    """Issue a key: `read` for dashboards, `write` for uploads, `admin` to manage keys."""
    return project_service.issue_key(session, project, body.scope, body.name).read()


@router.get("/{project_id}/keys", response_model=list[KeyRead])
def list_keys(project: AdminProject, session: SessionDep) -> list[ApiKey]:
    """Every key of the project, without secrets."""
    return project_service.list_keys(session, project)


@router.delete("/{project_id}/keys/{key_id}", response_model=KeyRead)
def revoke_key(key_id: str, project: AdminProject, session: SessionDep) -> ApiKey:
    """Revoke a key; it stops working at once."""
    return project_service.revoke_key(session, project, key_id)
