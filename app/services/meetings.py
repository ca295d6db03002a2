"""Meetings (sessions): the events chat exports and transcripts come from."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import CursorResult, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from app.errors import NotFound
from models import MeetingSession, Narrative, Project, Source, SourceStatus


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
    transcript of one meeting share it; new attributes are merged into it.

    An existing meeting is claimed with an update at once (the write lock on SQLite, the row
    lock on PostgreSQL, held until the request commits), so the failed parse of an earlier
    export cannot drop it meanwhile (`drop_if_empty`); one dropped just before is made again."""
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
    if meeting is not None and claim_existing(session, meeting, attributes):
        return meeting
    meeting = MeetingSession(
        project_id=project.id, name=name, held_on=held_on, attributes=attributes
    )
    session.add(meeting)
    session.flush()
    return meeting


def claim_existing(session: Session, meeting: MeetingSession, attributes: dict[str, Any]) -> bool:
    """Merge `attributes` into `meeting` in one update that locks its row; False (and the
    meeting forgotten by `session`) when the row is gone."""
    claimed = session.execute(
        update(MeetingSession)
        .where(MeetingSession.id == meeting.id)
        .values(attributes={**meeting.attributes, **attributes})
        .execution_options(synchronize_session=False)
    )
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        session.expunge(meeting)
        return False
    session.refresh(meeting)
    return True


def drop_if_empty(session: Session, meeting_id: int, failed_source_id: int) -> bool:
    """Delete the meeting a failed export was posted for, when nothing else holds it: no
    narrative of it is stored and no other export of it is stored or on its way. True when
    it was deleted."""
    meeting = session.get(MeetingSession, meeting_id)
    if meeting is None:
        return False
    has_lines = session.scalar(select(exists().where(Narrative.session_id == meeting_id)))
    if has_lines:
        return False
    others = session.scalars(
        select(Source).where(
            Source.project_id == meeting.project_id,
            Source.kind == "session",
            Source.id != failed_source_id,
            Source.status != SourceStatus.failed,
        )
    )
    if any(other.options.get("session_id") == meeting_id for other in others):
        return False
    # only while no newer export claimed it (a request not yet committed has set its source)
    dropped = session.execute(
        delete(MeetingSession).where(
            MeetingSession.id == meeting_id,
            or_(
                MeetingSession.source_id == failed_source_id,
                MeetingSession.source_id.is_(None),
            ),
        )
    )
    assert isinstance(dropped, CursorResult)
    return int(dropped.rowcount) == 1
