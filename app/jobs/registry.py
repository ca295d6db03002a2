"""Job kinds and their handlers; a handler takes a `JobContext` and returns a JSON result.

A kind may also name what to do when its job is abandoned (failed at start-up after a
stopped process left it running too many times): the handler's own failure path never ran,
so the hook marks whatever the job was working on (an upload, an analysis) as failed too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.jobs.context import JobContext

JobHandler = Callable[[JobContext], dict[str, Any] | None]
#: (session, the job's payload, the job's error) -> None; runs in the recovery transaction
AbandonHook = Callable[[Session, Mapping[str, Any], str], None]

_HANDLERS: dict[str, JobHandler] = {}
_ABANDON_HOOKS: dict[str, AbandonHook] = {}


def job_handler(
    kind: str, on_abandon: AbandonHook | None = None
) -> Callable[[JobHandler], JobHandler]:
    """Register `fn` as the handler of jobs of `kind`, and `on_abandon` as its abandon hook."""

    def register(fn: JobHandler) -> JobHandler:
        if kind in _HANDLERS and _HANDLERS[kind] is not fn:
            raise RuntimeError(f"job kind {kind!r} registered twice")
        _HANDLERS[kind] = fn
        if on_abandon is not None:
            _ABANDON_HOOKS[kind] = on_abandon
        return fn

    return register


def _import_handlers() -> None:
    # Importing the handler modules registers them; done here so the registry has no cycle.
    import app.services.analyses
    import app.services.embeddings
    import app.services.uploads  # noqa: F401


def handler_for(kind: str) -> JobHandler:
    _import_handlers()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None


def abandon_hook(kind: str) -> AbandonHook | None:
    """The hook of jobs of `kind`, if it has one."""
    _import_handlers()
    return _ABANDON_HOOKS.get(kind)
