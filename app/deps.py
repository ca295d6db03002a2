"""Dependencies of the routes: the runtime, the request's session, and API-key access."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Forbidden, NotFound, Unauthorized
from app.runtime import Runtime
from app.services import projects as project_service
from models import ApiKey, Project, Scope

# The dependencies that touch no database are `async def`: FastAPI runs a plain `def` one on a
# worker thread, and each such hop costs a read more than the work itself.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """One session per request, committed once when the route returns, before the response.

    Opening a session touches no database, so it happens on the event loop; the commit (or
    the rollback) and the close run on a worker thread, shielded so that a client that hangs
    up cannot leave the connection checked out."""
    session = runtime.session_factory()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, False)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, session, True)


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="API key as 'Authorization: Bearer <key>'")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


async def presented_secret(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header or None


def _unknown(secret: str | None) -> Unauthorized:
    if not secret:
        return Unauthorized("send the project's API key as 'Authorization: Bearer <key>'")
    return Unauthorized("this API key is unknown or revoked")


def current_key(
    session: SessionDep, secret: Annotated[str | None, Depends(presented_secret)]
) -> ApiKey:
    key = project_service.find_key(session, secret) if secret else None
    if key is None:
        raise _unknown(secret)
    return key


KeyDep = Annotated[ApiKey, Depends(current_key)]


def project_access(needed: Scope) -> Callable[..., Project]:
    """A dependency giving the path's project when the key belongs to it with scope `needed`
    (the key and its project read in one query, on one worker thread)."""

    def dependency(
        project_id: Annotated[str, Path(max_length=64)],
        secret: Annotated[str | None, Depends(presented_secret)],
        session: SessionDep,
    ) -> Project:
        found = project_service.find_key_and_project(session, secret) if secret else None
        if found is None:
            raise _unknown(secret)
        key, project = found
        # another project's key sees a missing project, so projects cannot be discovered
        if key.project_id != project_id or project is None:
            raise NotFound(f"project {project_id!r} not found")
        if not key.scope.allows(needed):
            raise Forbidden(
                f"this is a {key.scope.value} key; this action needs a {needed.value} key"
            )
        return project

    return dependency


ReadProject = Annotated[Project, Depends(project_access(Scope.read))]
WriteProject = Annotated[Project, Depends(project_access(Scope.write))]
AdminProject = Annotated[Project, Depends(project_access(Scope.admin))]
