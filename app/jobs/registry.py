"""Job kinds and their handlers; a handler takes a `JobContext` and returns a JSON result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.jobs.context import JobContext

JobHandler = Callable[[JobContext], dict[str, Any] | None]

_HANDLERS: dict[str, JobHandler] = {}


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register `fn` as the handler of jobs of `kind`."""

    def register(fn: JobHandler) -> JobHandler:
        if kind in _HANDLERS and _HANDLERS[kind] is not fn:
            raise RuntimeError(f"job kind {kind!r} registered twice")
        _HANDLERS[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> JobHandler:
    # Importing the handler modules registers them; done here so the registry has no cycle.
    import app.services.analyses
    import app.services.embeddings
    import app.services.uploads  # noqa: F401

    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None
