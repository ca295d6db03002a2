"""The table the executor reads: each job kind's handler, and its abandon hook.

A handler takes a `JobContext` and returns a JSON result. A kind may also name what to do
when its job is abandoned (failed at start-up after a stopped process left it running too
many times): the handler's own failure path never ran, so the hook marks whatever the job
was working on (an upload, an analysis) as failed too, in the recovery transaction.

A kind may also name the setting that holds its time limit, in seconds (see `time_limit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs import fanout
from app.jobs.context import JobContext, TimeLimit
from app.jobs.handlers import analyze, embed, ingest
from app.jobs.kinds import JobKind

JobHandler = Callable[[JobContext], dict[str, Any] | None]
#: (session, the job's payload, the job's error) -> None; runs in the recovery transaction
AbandonHook = Callable[[Session, Mapping[str, Any], str], None]


@dataclass(frozen=True)
class Handler:
    run: JobHandler
    on_abandon: AbandonHook | None = None
    #: the name of the `Settings` field holding this kind's time limit; None: no limit
    time_limit_setting: str | None = None


HANDLERS: dict[str, Handler] = {
    JobKind.ingest: Handler(
        ingest.run, on_abandon=ingest.abandon, time_limit_setting="job_time_limit_ingest"
    ),
    JobKind.embed: Handler(embed.run, time_limit_setting="job_time_limit_embed"),
    JobKind.embed_chunk: Handler(
        embed.run_chunk, on_abandon=fanout.abandon_chunk, time_limit_setting="job_time_limit_embed"
    ),
    JobKind.analyze: Handler(
        analyze.run, on_abandon=analyze.abandon, time_limit_setting="job_time_limit_analyze"
    ),
}


def register(
    kind: str,
    run: JobHandler,
    on_abandon: AbandonHook | None = None,
    time_limit_setting: str | None = None,
) -> None:
    """Add a kind to the table (tests and extensions); a kind is registered once."""
    if kind in HANDLERS and HANDLERS[kind].run is not run:
        raise RuntimeError(f"job kind {kind!r} registered twice")
    if time_limit_setting is not None and time_limit_setting not in Settings.model_fields:
        raise RuntimeError(f"job kind {kind!r}: no setting {time_limit_setting!r}")
    HANDLERS[kind] = Handler(run, on_abandon, time_limit_setting)


def handler_for(kind: str) -> JobHandler:
    try:
        return HANDLERS[kind].run
    except KeyError:
        raise LookupError(f"no handler for job kind {kind!r}") from None


def abandon_hook(kind: str) -> AbandonHook | None:
    """The hook of jobs of `kind`, if it has one."""
    handler = HANDLERS.get(kind)
    return handler.on_abandon if handler is not None else None


def time_limit(settings: Settings, kind: str) -> TimeLimit | None:
    """The time limit of jobs of `kind` under `settings`; None when it has none (or it is 0)."""
    handler = HANDLERS.get(kind)
    if handler is None or handler.time_limit_setting is None:
        return None
    seconds = float(getattr(settings, handler.time_limit_setting))
    return TimeLimit(seconds, handler.time_limit_setting) if seconds > 0 else None
