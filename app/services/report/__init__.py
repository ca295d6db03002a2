"""Reports a convenor can send: one session, or the project over a period, as a page or an
A4 PDF, in the debrief order What? / So what? / Now what? / Also raised.

`content` reads the data through the services the API answers with (the one function that
lists a report's themes is `content.report_themes`), `chat` finds unanswered questions and
actions, `groups` the group table and participants, `charts` draws SVG, `render` makes the
HTML and the PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from app.services.report import content, render
from app.services.report import window as windows
from models import Project

Format = Literal["html", "pdf"]


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    filename: str


def _rendered(report: content.Report, fmt: Format, name: str, links: dict[str, str]) -> Rendered:
    if fmt == "pdf":
        return Rendered(render.pdf(report), "application/pdf", f"{name}.pdf")
    page = render.html(report, links=links).encode()
    return Rendered(page, "text/html; charset=utf-8", f"{name}.html")


def session_report(
    session: Session,
    project: Project,
    meeting_id: int,
    fmt: Format,
    links: dict[str, str] | None = None,
) -> Rendered:
    """The report of one session of the project (NotFound for an unknown one)."""
    window = windows.of_session(session, project, meeting_id)
    report = content.build(session, project, window)
    return _rendered(report, fmt, f"weft-session-{meeting_id}-report", links or {})


def period_report(
    session: Session,
    project: Project,
    since: datetime | None,
    until: datetime | None,
    fmt: Format,
    links: dict[str, str] | None = None,
) -> Rendered:
    """The report of the project's narratives from `since` up to `until`."""
    report = content.build(session, project, windows.of_period(since, until))
    return _rendered(report, fmt, "weft-project-report", links or {})
