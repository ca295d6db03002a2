"""Several web processes, one job worker: how `weft serve` with ``WEFT_WEB_WORKERS`` above 1
wakes and reports the job worker it supervises.

With one web process, that process starts the job worker and writes each queued job's id on
its standard input (app/jobs/process_runner.py). With several (uvicorn's worker processes, so
reads use every core), no web process owns the worker: the `weft serve` process itself starts
and supervises it, before the web processes, and listens on a Unix datagram socket
(`WakeRelay`). A web process's runner (`RelayedJobRunner`, chosen by ``WEFT_JOB_RELAY``, which
`weft serve` sets for them) sends each queued job's id there, and the relay writes it on the
worker's standard input as the single-process server would. A datagram never blocks a request:
when the relay is gone or its queue is full the line is dropped, and the worker finds the job
when it next polls the store (``job_poll_seconds``).

What `/readyz` says of the worker (alive, pid, restarts, last exit) comes from a small JSON
file the supervisor rewrites whenever it starts a worker or sees one end (`StatusFile`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: Longest wake-up line read (a job id is 36 characters).
MAX_LINE = 256


def relay_path(pid: int | None = None) -> Path:
    """Where the `weft serve` process `pid` (this one by default) listens: a short path in the
    temporary directory, since a Unix socket's path is limited to about 100 bytes."""
    return Path(tempfile.gettempdir()) / f"weft-jobs-{pid or os.getpid()}.sock"


def status_path(relay: Path) -> Path:
    """The worker's status file beside the relay's socket."""
    return relay.with_suffix(".json")


class Waker(Protocol):
    """What the relay hands each line to: the process runner's `submit`."""

    def submit(self, job_id: str) -> None: ...


class StatusFile:
    """The supervised worker's state, written whole (a rename) so a reader never sees half."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, status: dict[str, Any]) -> None:
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(json.dumps(status))
        os.replace(partial, self.path)

    def read(self) -> dict[str, Any]:
        """The last state written, the worker's aliveness checked now; a worker nobody has
        reported yet is not alive."""
        try:
            found: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"alive": False, "pid": None, "restarts": 0, "last_exit": None}
        pid = found.get("pid")
        if found.get("alive") and isinstance(pid, int) and not _running(pid):
            found |= {"alive": False, "pid": None}
        return found

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WakeRelay:
    """In the `weft serve` process: reads the web processes' wake-ups from the socket at `path`
    and hands each to `waker` (the process runner), on a daemon thread."""

    def __init__(self, path: Path, waker: Waker) -> None:
        self.path = path
        self.waker = waker
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._socket.bind(str(path))
        os.chmod(path, 0o600)
        self._thread = threading.Thread(target=self._forward, name="weft-job-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _forward(self) -> None:
        while True:
            try:
                line = self._socket.recv(MAX_LINE)
            except OSError:
                return
            if not line:
                # the empty datagram `stop` sends to itself
                return
            job_id = line.decode("ascii", "replace").strip()
            if job_id:
                self.waker.submit(job_id)

    def stop(self) -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"", str(self.path))
        self._thread.join(5)
        self._socket.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class RelayedJobRunner:
    """The job runner of one web process among several: it runs no job; `submit` wakes the
    job worker through the relay at `path`, and `status` reads the supervisor's status file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.status_file = StatusFile(status_path(path))
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        self._socket = sock

    def stop(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def submit(self, job_id: str) -> None:
        with self._lock:
            sock = self._socket
            if sock is None:
                return
            try:
                sock.sendto(job_id.encode("ascii", "replace")[:MAX_LINE], str(self.path))
            except OSError:
                # the relay is gone or busy: the worker finds the job when it polls
                log.debug("could not wake the job worker for job %s", job_id)

    def status(self) -> dict[str, Any]:
        """As `ProcessJobRunner.status`, from the supervisor's last report."""
        return self.status_file.read()
