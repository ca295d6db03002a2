"""Job runners: the interface, and the in-process background thread of the embedded default."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from app.jobs.context import JobDeps
from app.jobs.execute import execute, queued_ids, recover_interrupted

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    """Runs queued jobs. `submit` is called after the transaction that queued the job commits."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, job_id: str) -> None: ...


class ThreadJobRunner:
    """Runs jobs one at a time on a daemon thread of this process.

    Submitted ids are run first; when idle, the thread also looks for queued jobs in the
    store every `poll_seconds`, so nothing queued is forgotten across restarts.
    """

    def __init__(self, deps: JobDeps, poll_seconds: float = 2.0) -> None:
        self.deps = deps
        self.poll_seconds = poll_seconds
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        requeued, failed = recover_interrupted(self.deps)
        if requeued or failed:
            log.warning("interrupted jobs: %d re-queued, %d failed", requeued, failed)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="weft-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = self._queue.get(timeout=self.poll_seconds)
                ids = [job_id] if job_id is not None else []
            except queue.Empty:
                try:
                    ids = queued_ids(self.deps, limit=20)
                except Exception:
                    log.exception("could not look for queued jobs")
                    continue
            for jid in ids:
                if self._stopping.is_set():
                    return
                try:
                    execute(self.deps, jid)
                except Exception:
                    # execute() records failures itself; this is the store being unreachable
                    log.exception("job %s could not be run", jid)
