"""The process runner of the embedded default: jobs run in a supervised worker process.

The web server (``WEFT_JOB_RUNNER=process``, what `weft serve` uses) runs no job itself. At
start it launches the job worker (app/jobs/worker.py) with its own settings in the
environment, and a supervisor thread waits on it: when the worker dies (a crash, the OOM
killer, kill -9) the supervisor logs how it ended and starts a new one after a pause that
doubles after each quick death (``job_worker_restart_seconds`` up to 60 s, back to the first
pause once a worker has lived a minute). The new worker re-queues the job the dead one left
running, so it completes (see app/jobs/lease.py for why no run can overwrite another).

`submit` writes the job's id on the worker's standard input, which wakes its lanes; the pipe
never blocks a request (a full pipe or a worker being restarted drops the line: the worker
also polls the store every ``job_poll_seconds``). At shutdown the worker gets SIGTERM, and is
killed if it has not ended within ``job_worker_stop_seconds``. If the server itself is killed,
the worker sees its standard input end and stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

from app.config import Settings
from app.jobs.relay import StatusFile

log = logging.getLogger(__name__)

#: How the web server starts its job worker: ``-P`` keeps the working directory off the
#: worker's path, where a folder named like one of Weft's packages (``models``, say) would
#: shadow it.
WORKER_COMMAND = (sys.executable, "-P", "-m", "app.jobs.worker")
#: The longest pause between two starts of a worker that keeps dying.
MAX_RESTART_PAUSE = 60.0
#: A worker that lived this long died of something new: the next pause is the first again.
HEALTHY_SECONDS = 60.0


def worker_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting spelled out as ``WEFT_`` variables, so the
    worker runs with the settings the server was given (command-line options included)."""
    env = settings_environment(settings)
    # the worker's own lanes run its jobs
    env["WEFT_JOB_RUNNER"] = "thread"
    return env


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting of `settings` as a ``WEFT_`` variable (a
    setting that is None unset), for a process that must run with them."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        variable = f"WEFT_{name.upper()}"
        if value is None:
            env.pop(variable, None)
        else:
            env[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class ProcessJobRunner:
    """Starts, wakes, restarts and stops the job worker process; see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        command: Sequence[str] | None = None,
        status_file: StatusFile | None = None,
    ) -> None:
        self.settings = settings
        self.command = list(command or WORKER_COMMAND)
        # with several web processes, where they read the worker's state (app/jobs/relay.py)
        self.status_file = status_file
        self.restarts = 0
        self.last_exit: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    # --- the runner interface -------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="weft-worker-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            self._end(process)
        if self._supervisor is not None:
            self._supervisor.join(5)
            self._supervisor = None
        if self.status_file is not None:
            self.status_file.remove()

    def submit(self, job_id: str) -> None:
        with self._lock:
            process = self._process
            pipe: IO[bytes] | None = process.stdin if process is not None else None
            if pipe is None or pipe.closed:
                return
            try:
                pipe.write(f"{job_id}\n".encode())
                pipe.flush()
            except (BlockingIOError, BrokenPipeError, OSError, ValueError):
                # the worker is dying or busy reading nothing: it finds the job when it polls
                log.debug("could not wake the job worker for job %s", job_id)

    # --- what /readyz reports ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Whether the worker runs, its pid, how often it was restarted and how the last one
        ended (an exit code; negative: the signal that killed it)."""
        with self._lock:
            process = self._process
        alive = process is not None and process.poll() is None
        return {
            "alive": alive,
            "pid": process.pid if process is not None and alive else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }

    def _report(self) -> None:
        if self.status_file is None:
            return
        try:
            self.status_file.write(self.status())
        except OSError:
            log.warning("could not write the job worker's state to %s", self.status_file.path)

    # --- supervision ------------------------------------------------------------------------

    def _spawn(self, *, restart: bool = False) -> None:
        """Start a worker; a restart is counted before anyone can see the new pid, so no
        reader sees the new worker with the old count."""
        with self._lock:
            if self._stopping.is_set():
                return
            process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                env=worker_environment(self.settings),
                close_fds=True,
            )
            assert process.stdin is not None
            # a wake-up line never blocks the request that queued the job
            os.set_blocking(process.stdin.fileno(), False)
            self._process = process
            self._started_at = time.monotonic()
            if restart:
                self.restarts += 1
        log.info("job worker started (pid %d)", process.pid)
        self._report()

    def _supervise(self) -> None:
        pause = self.settings.job_worker_restart_seconds
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - self._started_at
            self.last_exit = code
            self._report()
            if lived >= HEALTHY_SECONDS:
                pause = self.settings.job_worker_restart_seconds
            how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            log.warning(
                "job worker (pid %d) %s after %.1f s; starting a new one in %g s",
                process.pid,
                how,
                lived,
                pause,
            )
            if self._stopping.wait(pause):
                return
            try:
                self._spawn(restart=True)
            except OSError:
                log.exception("could not start the job worker; trying again")
            pause = min(pause * 2, MAX_RESTART_PAUSE)

    def _end(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM, then SIGKILL once the stop timeout has passed."""
        if process.poll() is not None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        process.send_signal(signal.SIGTERM)
        timeout = self.settings.job_worker_stop_seconds
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "job worker (pid %d) did not stop within %g s (WEFT_JOB_WORKER_STOP_SECONDS); "
                "killed",
                process.pid,
                timeout,
            )
            process.kill()
            process.wait()
        log.info("job worker stopped (pid %d)", process.pid)
