"""Leases: a running job proves its worker is alive, and a job whose worker went silent runs again.

A claim gives the job a fresh `run_token` and a lease that ends `job_lease_seconds` later.
While the handler runs, a `Heartbeat` thread of the same process renews the lease every
`job_heartbeat_seconds`, in an update that names the token; so does every progress report.
When the worker dies (kill -9, a lost machine), nothing renews it, and `sweep_expired`
(app/jobs/sweep.py), run by every runner and worker process every heartbeat interval, puts the
job back in the queue
(once per attempt) or fails it after `job_max_attempts`, and sends the re-queued jobs to the
runner once its transaction commits.

Every write a run makes to its job row names its token: a presumed-dead worker that wakes up
late finds the token changed, cannot overwrite the new run's progress or result, and stops at
its next check point (`JobLeaseLost`). A broker's redelivery of a job that still holds a live
lease finds it `running` and is dropped by the claim without using an attempt.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, CursorResult, and_, or_, update

from app.errors import WeftError
from models import Job, JobStatus
from models.base import utcnow

if TYPE_CHECKING:
    from app.jobs.context import JobDeps

log = logging.getLogger(__name__)


class JobLeaseLost(WeftError):
    """This run's lease was taken over: the job was re-queued while it ran (its heartbeats
    stopped reaching the store), and another run owns the job now."""

    title = "Job lease lost"


def lease_end(deps: JobDeps) -> datetime:
    """When a lease taken or renewed now ends."""
    return utcnow() + timedelta(seconds=deps.settings.job_lease_seconds)


def owned_by(job_id: str, token: str | None) -> ColumnElement[bool]:
    """Job `job_id` is running as run `token`: the condition of every write a run makes."""
    return and_(Job.id == job_id, Job.run_token == token, Job.status == JobStatus.running)


def lease_ended(before: datetime) -> ColumnElement[bool]:
    """The job's lease ended before `before`, or it has none (claimed before leases existed)."""
    return or_(Job.lease_expires_at < before, Job.lease_expires_at.is_(None))


def renew(deps: JobDeps, job_id: str, token: str) -> bool:
    """Extend the lease of run `token` of job `job_id`; False when the run no longer owns it."""
    with deps.session_factory() as session, session.begin():
        result = session.execute(
            update(Job).where(owned_by(job_id, token)).values(lease_expires_at=lease_end(deps))
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount) == 1


class Heartbeat:
    """Renews one run's lease on a daemon thread until `stop`; `lost` once it could not."""

    def __init__(self, deps: JobDeps, job_id: str, token: str, lost: threading.Event) -> None:
        self.deps, self.job_id, self.token = deps, job_id, token
        self.lost = lost
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"weft-heartbeat-{job_id[:8]}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _beat(self) -> None:
        every = self.deps.settings.job_heartbeat_seconds
        while not self._stop.wait(every):
            try:
                owned = renew(self.deps, self.job_id, self.token)
            except Exception:
                # the store is unreachable for now: the lease runs on; try again next beat
                log.warning("job %s: could not renew its lease", self.job_id, exc_info=True)
                continue
            if not owned:
                log.warning("job %s: its lease was taken over; this run stops", self.job_id)
                self.lost.set()
                return
