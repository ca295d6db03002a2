"""Where a project stands before its results can be read: the newest analysis of any status,
its job's progress, and whether there is anything to analyse. Every "no analysis yet" answer
(the API's notes and each dashboard screen's words) is worded from this one reading."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Analysis, AnalysisStatus, Job, Narrative, Project


def job_percent(session: Session, analysis: Analysis) -> int | None:
    """How far the analysis's job has got, in percent, once it has counted its work."""
    job = session.get(Job, analysis.job_id) if analysis.job_id else None
    if job is None or not job.progress_total:
        return None
    return min(100, round(100 * job.progress_done / job.progress_total))


@dataclass(frozen=True)
class Pending:
    """A project's newest analysis (of any status) and its narratives, read together."""

    last: Analysis | None
    percent: int | None
    narratives: int

    @property
    def busy(self) -> bool:
        """An analysis is queued or running."""
        return self.last is not None and self.last.status in (
            AnalysisStatus.queued,
            AnalysisStatus.running,
        )

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.status == AnalysisStatus.failed


def newest(session: Session, project: Project, after: int = 0) -> Analysis | None:
    """The project's newest analysis with an id above `after`, whatever its status."""
    return session.scalars(
        select(Analysis)
        .where(Analysis.project_id == project.id, Analysis.id > after)
        .order_by(Analysis.id.desc())
        .limit(1)
    ).first()


def pending(session: Session, project: Project) -> Pending:
    """Where a project without a readable analysis stands."""
    last = newest(session, project)
    busy = last is not None and last.status in (AnalysisStatus.queued, AnalysisStatus.running)
    stored = session.scalar(
        select(func.count()).select_from(Narrative).where(Narrative.project_id == project.id)
    )
    return Pending(
        last=last,
        percent=job_percent(session, last) if busy and last is not None else None,
        narratives=int(stored or 0),
    )
