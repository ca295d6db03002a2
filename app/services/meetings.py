"""Meetings (sessions): the events chat exports and transcripts come from."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from models import MeetingSession, Project


def get_meeting(session: Session, project: Project, meeting_id: int) -> MeetingSession:
    meeting = session.get(MeetingSession, meeting_id)
    if meeting is None or meeting.project_id != project.id:
        raise NotFound(f"session {meeting_id} not found")
    return meeting


def list_meetings(session: Session, project: Project) -> list[MeetingSession]:
    """The project's meetings by date."""
    return list(
        session.scalars(
            select(MeetingSession)
            .where(MeetingSession.project_id == project.id)
            .order_by(MeetingSession.held_on, MeetingSession.id)
        )
    )


def find_or_create(
    session: Session,
    project: Project,
    name: str,
    held_on: date | None,
    attributes: dict[str, Any],
) -> MeetingSession:
    """The project's meeting of this name and date, created if new, so the chat and the
    transcript of one meeting share it; new attributes are merged into it."""
    meeting = session.scalars(
        select(MeetingSession)
        .where(
            MeetingSession.project_id == project.id,
            MeetingSession.name == name,
            MeetingSession.held_on.is_(None)
            if held_on is None
            else MeetingSession.held_on == held_on,
        )
        .order_by(MeetingSession.id)
        .limit(1)
    ).first()
    if meeting is None:
        meeting = MeetingSession(
            project_id=project.id, name=name, held_on=held_on, attributes=attributes
        )
        session.add(meeting)
        session.flush()
    elif attributes:
        meeting.attributes = {**meeting.attributes, **attributes}
    return meeting
