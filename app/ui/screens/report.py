"""Reports on the dashboard: the list of sessions with their reports, and the reports
themselves (the same pages and PDFs as `/v1/.../report`, with a way back)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.schemas.common import RowId
from app.services import meetings, theme_map
from app.services import report as report_service
from app.ui import render
from app.ui.deps import ProjectViewer

router = APIRouter(prefix="/ui/p/{project_id}", include_in_schema=False)

DayQuery = Annotated[str, Query(max_length=40)]


def _answer(rendered: report_service.Rendered) -> Response:
    disposition = f'inline; filename="{rendered.filename}"'
    return Response(
        rendered.body, media_type=rendered.media_type, headers={"Content-Disposition": disposition}
    )


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, viewer: ProjectViewer, session: SessionDep) -> HTMLResponse:
    """Every session with its report, and a report over a chosen period."""
    found = meetings.list_meetings(session, viewer.project)
    return render.page(request, "report/index.html", viewer, active="Overview", sessions=found)


@router.get("/sessions/{session_id}/report")
def session_report(
    viewer: ProjectViewer,
    session: SessionDep,
    session_id: RowId,
    format: report_service.Format = "html",
) -> Response:
    """One session's report, as a page with a way back or as a PDF."""
    base = f"/ui/p/{viewer.project.id}"
    links = {"back": f"{base}/reports", "pdf": f"{base}/sessions/{session_id}/report?format=pdf"}
    found = report_service.session_report(session, viewer.project, session_id, format, links)
    return _answer(found)


@router.get("/report")
def period_report(
    request: Request,
    viewer: ProjectViewer,
    session: SessionDep,
    since: DayQuery = "",
    until: DayQuery = "",
    format: report_service.Format = "html",
) -> Response:
    """The project's report over the days chosen on the reports page (both included)."""
    flt = theme_map.parse_filter(since=since, until=until)
    base = f"/ui/p/{viewer.project.id}"
    pdf = request.url.include_query_params(format="pdf")
    links = {"back": f"{base}/reports", "pdf": f"{pdf.path}?{pdf.query}"}
    found = report_service.period_report(
        session, viewer.project, flt.since, flt.until, format, links
    )
    return _answer(found)
