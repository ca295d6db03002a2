"""The upload screen: one form for a chat export, transcript or file of narratives, then its
progress (parse, store, embed, place) and report, polled from the same read as /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep, SettingsDep
from app.errors import CsrfFailed
from app.routes.multipart import SESSION_FILES, UPLOAD_FILES, staged, validate_fields
from app.schemas.common import RowId
from app.schemas.uploads import SessionFields, SourceRead, UploadAccepted, UploadFields
from app.services import uploads as upload_service
from app.services.uploads import ReceivedForm
from app.ui import render
from app.ui.deps import CSRF_HEADER, ProjectViewer, ProjectWriter

router = APIRouter(prefix="/ui", include_in_schema=False)

#: what the form sends: a meeting's chat or transcript, or a file of narratives
UploadKind = Literal["session", "file"]
KindQuery = Annotated[UploadKind, Query(alias="as")]


@router.get("/p/{project_id}/upload", response_class=HTMLResponse)
def upload_page(
    request: Request, viewer: ProjectViewer, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The form (write keys), or why a read key cannot upload; the latest uploads below."""
    recent = upload_service.recent_sources(session, viewer.project)
    return render.page(
        request,
        "upload.html",
        viewer,
        active="Upload",
        recent=recent,
        max_bytes=settings.max_upload_bytes,
    )


async def _received(
    request: Request, viewer: ProjectWriter, settings: SettingsDep, kind: KindQuery = "file"
) -> AsyncIterator[ReceivedForm]:
    """The files streamed to disk, as /v1 receives them (the write key checked first)."""
    if not request.headers.get(CSRF_HEADER):
        # the page's script sends the token as a header; a form field would need the body read
        raise CsrfFailed("the upload came without its token; reload the page and try again")
    roles = SESSION_FILES if kind == "session" else UPLOAD_FILES
    async with staged(request, settings, viewer.project.id, roles) as received:
        yield received


@router.post("/api/p/{project_id}/uploads", status_code=202, response_model=UploadAccepted)
def post_upload(
    viewer: ProjectWriter,
    received: Annotated[ReceivedForm, Depends(_received)],
    session: SessionDep,
    kind: KindQuery = "file",
) -> UploadAccepted:
    """The /v1 upload (`as=file`) or session export (`as=session`) for the signed-in writer."""
    if kind == "session":
        fields = validate_fields(SessionFields, received.fields)
        return upload_service.accept_session(session, viewer.project, received, fields)
    options = validate_fields(UploadFields, received.fields).options()
    return upload_service.accept_upload(session, viewer.project, received, options)


@router.get("/api/p/{project_id}/uploads/{source_id}", response_model=SourceRead)
def read_upload(source_id: RowId, viewer: ProjectViewer, session: SessionDep) -> SourceRead:
    """The upload's status, report and progress: the /v1 read."""
    return upload_service.read_source(session, viewer.project, source_id)
