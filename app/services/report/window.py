"""What a report covers: one session, or the project over a period, and the narratives
before it that "new" and "went quiet" are measured against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import UnprocessableEntity
from app.services import meetings
from app.services.narratives import NarrativeFilter, filtered
from models import Analysis, MeetingSession, Narrative, Project, ThemeAssignment

#: A theme is "present" in a session or period with at least this many messages.
PRESENT = 2


@dataclass(frozen=True)
class Window:
    """The narratives a report is about, and how to find those before them."""

    flt: NarrativeFilter
    title: str
    meeting: MeetingSession | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def kind(self) -> str:
        return "session" if self.meeting is not None else "period"


def of_session(session: Session, project: Project, meeting_id: int) -> Window:
    """The window of one session of the project; NotFound for another project's."""
    meeting = meetings.get_meeting(session, project, meeting_id)
    held = f", {meeting.held_on:%d %B %Y}" if meeting.held_on else ""
    return Window(NarrativeFilter(session_id=meeting.id), f"{meeting.name}{held}", meeting)


def of_period(since: datetime | None, until: datetime | None) -> Window:
    """The window of the project's narratives from `since` up to (not including) `until`."""
    if since and until and since >= until:
        raise UnprocessableEntity(
            f"since ({since:%Y-%m-%d %H:%M}) must be before until ({until:%Y-%m-%d %H:%M})"
        )
    if since and until:
        title = f"{since:%d %B %Y} to {until:%d %B %Y}"
    elif since:
        title = f"since {since:%d %B %Y}"
    elif until:
        title = f"until {until:%d %B %Y}"
    else:
        title = "everything so far"
    return Window(NarrativeFilter(since=since, until=until), title, since=since, until=until)


@dataclass(frozen=True)
class Change:
    """Theme ids present in the window and never before, and present just before but not now."""

    new: set[int]
    quiet: set[int]
    #: what the window is compared with, in words; None when there is nothing before it
    against: str | None


def _theme_counts(
    session: Session, project: Project, analysis: Analysis, flt: NarrativeFilter
) -> dict[int, int]:
    members = filtered(project, flt).with_only_columns(Narrative.id).scalar_subquery()
    rows = session.execute(
        select(ThemeAssignment.theme_id, func.count())
        .where(
            ThemeAssignment.analysis_id == analysis.id,
            ThemeAssignment.theme_id.is_not(None),
            ThemeAssignment.narrative_id.in_(members),
        )
        .group_by(ThemeAssignment.theme_id)
    ).all()
    return {int(t): int(n) for t, n in rows if t is not None}


def _present(counts: dict[int, int]) -> set[int]:
    return {t for t, n in counts.items() if n >= PRESENT}


def _counts_by_session(
    session: Session, analysis: Analysis, meeting_ids: list[int]
) -> dict[int, dict[int, int]]:
    """Messages per theme in each of the sessions, in one GROUP BY."""
    rows = session.execute(
        select(Narrative.session_id, ThemeAssignment.theme_id, func.count())
        .join(ThemeAssignment, ThemeAssignment.narrative_id == Narrative.id)
        .where(
            ThemeAssignment.analysis_id == analysis.id,
            ThemeAssignment.theme_id.is_not(None),
            Narrative.session_id.in_(meeting_ids),
        )
        .group_by(Narrative.session_id, ThemeAssignment.theme_id)
    ).all()
    found: dict[int, dict[int, int]] = {m: {} for m in meeting_ids}
    for meeting_id, theme_id, n in rows:
        if meeting_id is not None and theme_id is not None:
            found[meeting_id][theme_id] = int(n)
    return found


def _session_change(
    session: Session, project: Project, analysis: Analysis, window: Window
) -> Change:
    assert window.meeting is not None
    order = meetings.list_meetings(session, project)
    at = [m.id for m in order].index(window.meeting.id)
    if at == 0:
        return Change(set(), set(), None)
    counts = _counts_by_session(session, analysis, [m.id for m in order[: at + 1]])
    now = counts[window.meeting.id]
    seen = {t for m in order[:at] for t in counts[m.id]}
    previous = order[at - 1]
    quiet = _present(counts[previous.id]) - set(now)
    return Change(_present(now) - seen, quiet, f"the previous session, {previous.name}")


def _period_change(
    session: Session, project: Project, analysis: Analysis, window: Window
) -> Change:
    if window.since is None:
        return Change(set(), set(), None)
    before = _theme_counts(session, project, analysis, NarrativeFilter(until=window.since))
    if not before:
        return Change(set(), set(), None)
    span = (window.until or datetime.now(window.since.tzinfo)) - window.since
    just_before = NarrativeFilter(since=window.since - span, until=window.since)
    previous = _present(_theme_counts(session, project, analysis, just_before))
    now = _theme_counts(session, project, analysis, window.flt)
    quiet = previous - set(now)
    return Change(_present(now) - set(before), quiet, "the same length of time before it")


def change(session: Session, project: Project, analysis: Analysis, window: Window) -> Change:
    """Themes new in the window (no message of them before) and themes that went quiet."""
    if window.meeting is not None:
        return _session_change(session, project, analysis, window)
    return _period_change(session, project, analysis, window)
