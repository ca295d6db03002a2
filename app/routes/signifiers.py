from __future__ import annotations

from fastapi import APIRouter

from app.deps import ReadProject, SessionDep, WriteProject
from app.schemas.signifiers import SignifierList, SignifierRead, SignifiersDeclare
from app.services import signifiers as signifier_service

router = APIRouter(prefix="/v1/projects/{project_id}/signifiers", tags=["signifiers"])


@router.post("", response_model=SignifierList)
def declare_signifiers(
    body: SignifiersDeclare, project: WriteProject, session: SessionDep
) -> SignifierList:
    """Declare the instrument: create signifiers, or update them by key."""
    declared = signifier_service.declare(
        session, project, [{**s.definition(), "kind": s.kind} for s in body.signifiers]
    )
    return SignifierList(signifiers=[SignifierRead.model_validate(s) for s in declared])


@router.get("", response_model=SignifierList)
def list_signifiers(project: ReadProject, session: SessionDep) -> SignifierList:
    """The project's signifiers, in declaration order."""
    found = signifier_service.list_signifiers(session, project)
    return SignifierList(signifiers=[SignifierRead.model_validate(s) for s in found])
