"""`python -m app`: serve Weft with uvicorn on the configured host and port.

Bound beyond loopback (the Docker image binds 0.0.0.0), it refuses to start until creating a
project needs WEFT_BOOTSTRAP_TOKEN; on 127.0.0.1 the embedded default stays open.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys

import uvicorn
from fastapi import FastAPI

from app.config import Settings, configure_logging
from app.embedder import export_missing
from app.jobs.process_runner import ProcessJobRunner, settings_environment
from app.jobs.relay import StatusFile, WakeRelay, relay_path, status_path
from app.main import create_app
from app.services.projects import ExposedWithoutToken, check_exposure

#: prctl's option that asks for a signal when the parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def main(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    if settings.job_runner == "auto":
        # served on its own, jobs run in a supervised worker process, not the web loop's
        settings = settings.model_copy(update={"job_runner": "process"})
    try:
        check_exposure(settings.host, settings.bootstrap_token)
    except ExposedWithoutToken as exc:
        sys.exit(f"weft: not starting: {exc}")
    if settings.web_workers > 1 and settings.job_runner == "thread":
        # each would run jobs, and take the others' running jobs for interrupted ones
        sys.exit(
            f"weft: not starting: WEFT_WEB_WORKERS={settings.web_workers} needs the job worker "
            "process (WEFT_JOB_RUNNER=process, the default) or Celery; with "
            "WEFT_JOB_RUNNER=thread every web process would run jobs of its own"
        )
    configure_logging(settings)
    logging.getLogger("weft").info(
        "dashboard at http://%s:%d/ui/ (API documentation at /docs)", settings.host, settings.port
    )
    _export_once(settings)
    if settings.web_workers > 1:
        _serve_several(settings)
        return
    uvicorn.run(
        create_app(settings, settle_heap=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


def _export_once(settings: Settings) -> None:
    """On a first start with an ONNX backend, export the model once, in a process of its own,
    before the web processes and the job worker start: each would otherwise export it at the
    same time (all ending whole, on cores they share). A failed export is logged, and each
    process then falls back to torch as it would alone."""
    if not export_missing(settings):
        return
    log = logging.getLogger("weft")
    log.info("exporting the embedding model for %s (first start only)", settings.embedding_backend)
    done = subprocess.run(
        [sys.executable, "-m", "app.embedder", "--if-configured"],
        env=settings_environment(settings),
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        log.warning("could not export the embedding model (exit %d)", done.returncode)


def _serve_several(settings: Settings) -> None:
    """`web_workers` uvicorn processes on one socket; with the process runner this process
    supervises the job worker and relays the web processes' wake-ups (app/jobs/relay.py)."""
    relay = relay_path()
    runner: ProcessJobRunner | None = None
    wakes: WakeRelay | None = None
    if settings.job_runner == "process":
        runner = ProcessJobRunner(settings, status_file=StatusFile(status_path(relay)))
        wakes = WakeRelay(relay, runner)
        wakes.start()
        runner.start()
    # the web processes are new interpreters: they read their settings from the environment
    os.environ.update(settings_environment(settings))
    if wakes is not None:
        os.environ["WEFT_JOB_RELAY"] = str(relay)
    try:
        uvicorn.run(
            "app.__main__:web_process_app",
            factory=True,
            workers=settings.web_workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
        )
    finally:
        if runner is not None:
            runner.stop()
        if wakes is not None:
            wakes.stop()


def web_process_app() -> FastAPI:
    """The app of one web process among several (uvicorn's factory, called in that process):
    it reads its settings from the environment `_serve_several` set, and ends with the `weft
    serve` process that started it, however that one ends."""
    _end_with_parent()
    settings = Settings()
    configure_logging(settings)
    return create_app(settings, settle_heap=True)


def _end_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent process ends (no such call elsewhere: there a web
    process outlives a server killed outright)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        logging.getLogger("weft").warning("this web process will not end with its server")
        return
    if os.getppid() != parent:
        # the parent ended before the request took hold
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    main()
