"""The job worker process of the embedded default (``WEFT_JOB_RUNNER=process``).

`weft serve` starts it (``python -P -m app.jobs.worker``) and supervises it (see
app/jobs/process_runner.py). It builds its own engine, sessions and embedding model from the
same ``WEFT_`` settings, and runs the queued jobs on the lanes of a `ThreadJobRunner`, against
the same store as the web server (a SQLite file in WAL mode, so readers do not wait for its
writes). The web server's interpreter then only serves requests: an analysis no longer holds
the GIL the requests need.

Its standard input is the wake-up line: the server writes a job id on it when a request has
queued one, and the lanes also look in the store every ``job_poll_seconds``. The end of that
input means the server is gone (even killed with SIGKILL), so the worker stops too and leaves
no orphan behind. SIGTERM stops it the same way; SIGINT (Ctrl-C in the server's terminal
reaches the whole process group) is left to the server, which stops the worker itself.

Once ready it compiles the analysis code in the background (``WEFT_ANALYSIS_WARM_UP``), so
the first analysis does not wait on numba. At start the lanes' runner re-queues the jobs a
previous worker left running (it was killed mid-job), since it is the only worker on this
store; its lease sweeper re-queues any job whose lease ran out later.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from app.config import Settings, configure_logging
from app.jobs.context import build_deps
from app.jobs.runner import ThreadJobRunner
from app.jobs.warm import start_warm_up
from pipelines.embed import Embedder

log = logging.getLogger("weft.worker")


def _lower_priority(nice: int) -> None:
    if nice <= 0 or not hasattr(os, "nice"):
        return
    try:
        os.nice(nice)
    except OSError as exc:
        log.warning("could not lower the job worker's priority by %d: %s", nice, exc)


def _read_wakeups(runner: ThreadJobRunner, stop: threading.Event) -> None:
    """Wake the lanes for every line the server writes; stop once it closes the pipe."""
    for line in sys.stdin:
        job_id = line.strip()
        if job_id:
            runner.submit(job_id)
    stop.set()


def main(embedder: Embedder | None = None) -> None:
    """Run queued jobs until the server closes standard input or sends SIGTERM;
    `embedder` replaces the configured model (tests)."""
    settings = Settings()
    configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority(settings.job_worker_nice)

    from app.services.jobs import attach_runner

    engine, deps = build_deps(settings, embedder)
    runner = ThreadJobRunner(deps, poll_seconds=settings.job_poll_seconds)
    # jobs queued by jobs (an analysis after an embedding job) wake this process's lanes
    attach_runner(deps.session_factory, runner)
    runner.start()
    threading.Thread(target=_read_wakeups, args=(runner, stop), daemon=True).start()
    log.info("job worker ready: %d lanes, model %s", runner.lanes, deps.embedder.name)
    start_warm_up(settings)
    while not stop.wait(1.0):
        pass
    log.info("job worker stopping")
    runner.stop(timeout=max(1.0, settings.job_worker_stop_seconds / 2))
    engine.dispose()
    logging.shutdown()
    # a lane still inside a job (torch, numba) is left to the OS: its job holds a lease and
    # runs again at the next start
    os._exit(0)


if __name__ == "__main__":
    main()
