"""A job worker's background compile of the analysis code (``pipelines.themes.warm_up``)."""

from __future__ import annotations

import logging
import threading

from app.config import Settings

log = logging.getLogger("weft.worker")


def _compile() -> None:
    from pipelines.themes import warm_up

    try:
        seconds = warm_up()
    except Exception:  # the first analysis compiles it instead
        log.exception("could not compile the analysis code ahead of the first analysis")
        return
    log.info("analysis code compiled in %.1f s, ahead of the first analysis", seconds)


def start_warm_up(settings: Settings) -> threading.Thread | None:
    """Start compiling on a daemon thread when ``settings.analysis_warm_up``; the thread."""
    if not settings.analysis_warm_up:
        return None
    thread = threading.Thread(target=_compile, name="weft-warm-up", daemon=True)
    thread.start()
    return thread
