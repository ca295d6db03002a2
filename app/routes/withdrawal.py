"""Taking data out: deleting narratives, uploads, sessions and projects, a participant's
withdrawal, and the audit trail of deletions. Every route needs an admin key."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminProject, KeyDep, RuntimeDep, SessionDep, SettingsDep
from app.routes.filters import IdPath
from app.schemas.withdrawal import AuditRead, DeletionSummary, WithdrawalMatches, WithdrawalQuery
from app.services import withdrawal as withdrawal_service

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["taking data out"])


@router.delete("/narratives/{narrative_id}", response_model=DeletionSummary)
def delete_narrative(
    narrative_id: IdPath,
    project: AdminProject,
    key: KeyDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DeletionSummary:
    """Delete one narrative and its traces in every analysis; its themes are described again."""
    return withdrawal_service.delete_narrative(
        session, project, key, narrative_id, settings, runtime.embedder
    )


@router.delete("/uploads/{source_id}", response_model=DeletionSummary)
def delete_upload(
    source_id: IdPath,
    project: AdminProject,
    key: KeyDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DeletionSummary:
    """Delete an upload with all its narratives and its raw files."""
    return withdrawal_service.delete_upload(
        session, project, key, source_id, settings, runtime.embedder
    )


@router.delete("/sessions/{session_id}", response_model=DeletionSummary)
def delete_session(
    session_id: IdPath,
    project: AdminProject,
    key: KeyDep,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> DeletionSummary:
    """Delete a session (meeting): its chat and transcript uploads, narratives and raw files."""
    return withdrawal_service.delete_session(
        session, project, key, session_id, settings, runtime.embedder
    )


@router.delete("", response_model=DeletionSummary)
def delete_project(
    project: AdminProject, key: KeyDep, session: SessionDep, settings: SettingsDep
) -> DeletionSummary:
    """Delete the project: everything it holds, its files and its keys (they stop working)."""
    return withdrawal_service.delete_project(session, project, key, settings)


@router.post("/narratives/search-for-withdrawal", response_model=WithdrawalMatches)
def search_for_withdrawal(
    body: WithdrawalQuery, project: AdminProject, session: SessionDep
) -> WithdrawalMatches:
    """The narratives of one participant, by author name (pseudonymised here) or external id."""
    return withdrawal_service.search(session, project, body)


@router.post("/withdrawals", response_model=DeletionSummary)
def withdraw(
    body: WithdrawalQuery,
    project: AdminProject,
    key: KeyDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> DeletionSummary:
    """Delete every narrative the same search finds, and the author's reactions."""
    return withdrawal_service.withdraw(session, project, key, body, runtime.embedder)


@router.get("/audit", response_model=list[AuditRead])
def audit_trail(project: AdminProject, session: SessionDep) -> list[AuditRead]:
    """The project's deletions, newest first: what, how many, when and by which key."""
    return withdrawal_service.audit_trail(session, project)
