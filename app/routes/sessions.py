from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import ReadProject, SessionDep, WriteProject
from app.routes.filters import IdPath
from app.routes.multipart import SESSION_FILES, receiving, validate_fields
from app.schemas.uploads import MeetingRead, SessionFields, UploadAccepted, multipart_body
from app.services import meetings as meeting_service
from app.services import uploads as upload_service
from app.services.uploads import ReceivedForm

router = APIRouter(prefix="/v1/projects/{project_id}/sessions", tags=["sessions"])


received_export = receiving(SESSION_FILES)


_SESSION_BODY = multipart_body(
    files={"file": "Zoom meeting_saved_chat.txt, a WebVTT/SRT/plain transcript, or Teams JSON."},
    fields={
        "name": "the meeting's name",
        "held_on": "its date, YYYY-MM-DD",
        "started_at": "when the recording started (ISO 8601); anchors transcript times",
        "timezone": "zone of the chat's clock times (default UTC)",
        "attributes": 'JSON object of group fields for every line, e.g. {"group": "North"}',
        "format": "auto (default), zoom_chat, teams_json or transcript",
    },
    required=["file", "name"],
)


@router.post("", status_code=202, response_model=UploadAccepted, openapi_extra=_SESSION_BODY)
def post_session(
    project: WriteProject,
    received: Annotated[ReceivedForm, Depends(received_export)],
    session: SessionDep,
) -> UploadAccepted:
    """Keep a session's chat export or transcript and queue its parsing."""
    fields = validate_fields(SessionFields, received.fields)
    return upload_service.accept_session(session, project, received, fields)


@router.get("", response_model=list[MeetingRead])
def list_sessions(project: ReadProject, session: SessionDep) -> list[MeetingRead]:
    """The project's sessions, by date."""
    return [MeetingRead.model_validate(m) for m in meeting_service.list_meetings(session, project)]


@router.get("/{session_id}", response_model=MeetingRead)
def read_session(session_id: IdPath, project: ReadProject, session: SessionDep) -> MeetingRead:
    """One session."""
    return MeetingRead.model_validate(meeting_service.get_meeting(session, project, session_id))
