"""Dependencies of the dashboard pages: the signed-in viewer, their project, and CSRF."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Path, Request

from app.deps import SessionDep
from app.errors import CsrfFailed, Forbidden, NotFound, SignInNeeded
from app.services import ui_sessions
from app.services.ui_sessions import Viewer

SESSION_COOKIE = "weft_session"
#: header the dashboard's scripts send their CSRF token in; forms send the field `csrf`
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _presented_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    # A plain form carries the token as a field; a multipart body (an upload) must bring it
    # in the header, so a forged upload is refused before its body is read.
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get("csrf")
        return value if isinstance(value, str) else ""
    return ""


async def signed_in(request: Request, session: SessionDep) -> Viewer:
    """The viewer of the request's session cookie; unsafe methods must carry its CSRF token."""
    found = ui_sessions.viewer(session, request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise SignInNeeded("sign in with your project key to see this page")
    if request.method in _UNSAFE:
        presented = await _presented_csrf(request)
        if not secrets.compare_digest(presented.encode(), found.csrf_token.encode()):
            raise CsrfFailed("the page was open too long or came from elsewhere; reload it")
    return found


ViewerDep = Annotated[Viewer, Depends(signed_in)]


def project_viewer(project_id: Annotated[str, Path(max_length=64)], viewer: ViewerDep) -> Viewer:
    """The viewer, when the path's project is the one their key opens (else 404, as the API)."""
    if viewer.project.id != project_id:
        raise NotFound(f"project {project_id!r} not found")
    return viewer


ProjectViewer = Annotated[Viewer, Depends(project_viewer)]


def project_writer(viewer: ProjectViewer) -> Viewer:
    if not viewer.can_upload:
        raise Forbidden("this is a read key; uploading needs a write key")
    return viewer


ProjectWriter = Annotated[Viewer, Depends(project_writer)]
