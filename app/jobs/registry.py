"""The table the executor reads: each job kind's handler, and its abandon hook.

A handler takes a `JobContext` and returns a JSON result. A kind may also name what to do
when its job is abandoned (failed at start-up after a stopped process left it running too
many times): the handler's own failure path never ran, so the hook marks whatever the job
was working on (an upload, an analysis) as failed too, in the recovery transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.jobs.context import JobContext
from app.jobs.handlers import analyze, embed, ingest
from app.jobs.kinds import JobKind

JobHandler = Callable[[JobContext], dict[str, Any] | None]
#: (session, the job's payload, the job's error) -> None; runs in the recovery transaction
AbandonHook = Callable[[Session, Mapping[str, Any], str], None]


@dataclass(frozen=True)
class Handler:
    run: JobHandler
    on_abandon: AbandonHook | None = None


HANDLERS: dict[str, Handler] = {
    JobKind.ingest: Handler(ingest.run, on_abandon=ingest.abandon),
    JobKind.embed: Handler(embed.run),
    JobKind.analyze: Handler(analyze.run, on_abandon=analyze.abandon),
}


def register(kind: str, run: JobHandler, on_abandon: AbandonHook | None = None) -> None:
    """Add a kind to the table (tests and extensions); a kind is registered once."""
    if kind in HANDLERS and HANDLERS[kind].run is not run:
        raise RuntimeError(f"job kind {kind!r} registered twice")
    HANDLERS[kind] = Handler(run, on_abandon)


def handler_for(kind: str) -> JobHandler:
    try:
        return HANDLERS[kind].run
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None


def abandon_hook(kind: str) -> AbandonHook | None:
    """The hook of jobs of `kind`, if it has one."""
    handler = HANDLERS.get(kind)
    return handler.on_abandon if handler is not None else None
