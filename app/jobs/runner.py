"""Job runners: the interface, and the in-process lanes of the embedded default."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from app.jobs.context import JobDeps
from app.jobs.execute import claim_next, recover_interrupted, run_claimed
from app.jobs.sweep import Sweeper

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    """Runs queued jobs. `submit` is called after the transaction that queued the job commits."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, job_id: str) -> None: ...


class ThreadJobRunner:
    """Runs jobs on `lanes` daemon threads of this process.

    Each lane claims the oldest queued job of a project that has no job running (see
    `app.jobs.execute`), so a project's jobs run one after another while other projects'
    jobs run beside them. `submit` wakes the lanes; idle lanes also look for queued jobs in
    the store every `poll_seconds`, so nothing queued is forgotten across restarts.
    """

    def __init__(self, deps: JobDeps, poll_seconds: float = 2.0, lanes: int | None = None) -> None:
        self.deps = deps
        self.poll_seconds = poll_seconds
        self.lanes = lanes if lanes is not None else deps.settings.job_lanes
        self._wake = threading.Condition()
        # bumped by every submit, so a lane that found nothing does not sleep through one
        self._submitted = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sweeper = Sweeper(deps)

    def start(self) -> None:
        requeued, failed = recover_interrupted(self.deps)
        if requeued or failed:
            log.warning("interrupted jobs: %d re-queued, %d failed", requeued, failed)
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._lane, name=f"weft-jobs-{n}", daemon=True)
            for n in range(1, self.lanes + 1)
        ]
        for thread in self._threads:
            thread.start()
        # a job whose lease ran out (another process sharing the store died) runs again
        self._sweeper.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._sweeper.stop()
        with self._wake:
            self._wake.notify_all()
        # one deadline for all lanes: a lane inside a long job is not waited for lane by lane
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def submit(self, job_id: str) -> None:
        with self._wake:
            self._submitted += 1
            self._wake.notify_all()

    def _lane(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                seen = self._submitted
            try:
                ctx = claim_next(self.deps)
            except Exception:
                # run_claimed records failures itself; this is the store being unreachable
                log.exception("could not look for queued jobs")
                ctx = None
            if ctx is not None:
                try:
                    run_claimed(self.deps, ctx)
                except Exception:
                    log.exception("job %s could not be recorded", ctx.job_id)
                continue
            with self._wake:
                if self._submitted == seen and not self._stopping.is_set():
                    self._wake.wait(self.poll_seconds)
