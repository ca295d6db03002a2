"""Reports of a session or a period, as a page or an A4 PDF."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.deps import ReadProject, SessionDep
from app.routes.filters import IdPath
from app.schemas.common import Moment
from app.services import report as report_service

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["reports"])

FormatQuery = Annotated[
    report_service.Format,
    Query(description="html: a page to read or print; pdf: an A4 PDF to send."),
]
#: The answer is a document, not JSON: declared so clients and the schema fuzz run know.
DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {}, "application/pdf": {}},
        "description": "The report, as a page or an A4 PDF.",
    }
}


def _answer(rendered: report_service.Rendered) -> Response:
    disposition = f'inline; filename="{rendered.filename}"'
    return Response(
        rendered.body, media_type=rendered.media_type, headers={"Content-Disposition": disposition}
    )


@router.get("/sessions/{session_id}/report", response_class=Response, responses=DOCUMENT)
def session_report(
    session_id: IdPath, project: ReadProject, session: SessionDep, format: FormatQuery = "html"
) -> Response:
    """What a session said (What? So what? Now what? Also raised), or why it is not ready."""
    return _answer(report_service.session_report(session, project, session_id, format))


@router.get("/report", response_class=Response, responses=DOCUMENT)
def project_report(
    project: ReadProject,
    session: SessionDep,
    since: Annotated[Moment | None, Query(description="from (ISO 8601)")] = None,
    until: Annotated[Moment | None, Query(description="up to, not including (ISO 8601)")] = None,
    format: FormatQuery = "html",
) -> Response:
    """The project's report over a period: the same sections over every session in it."""
    return _answer(report_service.period_report(session, project, since, until, format))
