"""Dependencies of the routes: the runtime, the request's session, and API-key access."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Forbidden, NotFound, Unauthorized
from app.runtime import Runtime
from app.services import projects as project_service
from models import ApiKey, Project, Scope


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One session per request, committed once when the route returns, before the response."""
    with runtime.session_factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="API key as 'Authorization: Bearer <key>'")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def presented_secret(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header or None


def current_key(
    session: SessionDep, secret: Annotated[str | None, Depends(presented_secret)]
) -> ApiKey:
    if not secret:
        raise Unauthorized("send the project's API key as 'Authorization: Bearer <key>'")
    key = project_service.find_key(session, secret)
    if key is None:
        raise Unauthorized("this API key is unknown or revoked")
    return key


KeyDep = Annotated[ApiKey, Depends(current_key)]


def project_access(needed: Scope) -> Callable[..., Project]:
    """A dependency giving the path's project when the key belongs to it with scope `needed`."""

    def dependency(
        project_id: Annotated[str, Path(max_length=64)], key: KeyDep, session: SessionDep
    ) -> Project:
        # another project's key sees a missing project, so projects cannot be discovered
        if key.project_id != project_id:
            raise NotFound(f"project {project_id!r} not found")
        if not key.scope.allows(needed):
            raise Forbidden(
                f"this is a {key.scope.value} key; this action needs a {needed.value} key"
            )
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound(f"project {project_id!r} not found")
        return project

    return dependency


ReadProject = Annotated[Project, Depends(project_access(Scope.read))]
WriteProject = Annotated[Project, Depends(project_access(Scope.write))]
AdminProject = Annotated[Project, Depends(project_access(Scope.admin))]
