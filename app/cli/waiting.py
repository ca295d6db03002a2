"""Watching long work until it ends: a job, or an upload's stages (parse, store, embed, place).

Progress is drawn on stderr when it is a terminal; elsewhere the watch is silent. Ctrl-C
stops the watching only: the job goes on in the server, and the message says how to watch
it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from app.cli.connection import Api
from app.cli.console import INTERRUPTED, Failed, Output

POLL_SECONDS = 0.5
FINISHED = ("succeeded", "failed")


def resume_hint(job_id: str | None) -> str:
    return f"weft jobs {job_id} --wait" if job_id else "weft jobs"


@contextmanager
def interruptible(out: Output, job_id: Callable[[], str | None]) -> Iterator[None]:
    """Turn Ctrl-C into a message saying how to resume watching, and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        out.warn(
            "stopped waiting; the work goes on in the server. "
            f"Watch it again with: {resume_hint(job_id())}"
        )
        raise typer.Exit(INTERRUPTED) from None


def _progress(out: Output, *columns: Any) -> Progress:
    return Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        *columns,
        TimeElapsedColumn(),
        console=out.err,
        disable=not out.shows_progress,
    )


def byte_progress(out: Output, label: str, total: int) -> tuple[Progress, Callable[[int], None]]:
    """A bar of the bytes sent, and the callback that advances it."""
    bar = _progress(out, DownloadColumn(), TransferSpeedColumn())
    task = bar.add_task(label, total=total)
    return bar, lambda n: bar.advance(task, n)


def wait_for_job(api: Api, job_id: str) -> dict[str, Any]:
    """Poll a job until it ends, with a bar of its progress; its last state."""
    with (
        interruptible(api.out, lambda: job_id),
        _progress(api.out, MofNCompleteColumn(), TextColumn("{task.fields[status]}")) as bar,
    ):
        job = api.get(f"/v1/jobs/{job_id}")
        task = bar.add_task(job["kind"], total=job["progress_total"], status=job["status"])
        while job["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            job = api.get(f"/v1/jobs/{job_id}")
            bar.update(
                task,
                completed=job["progress_done"],
                total=job["progress_total"],
                status=job["status"],
            )
        if job["status"] == "succeeded" and job["progress_total"]:
            bar.update(task, completed=job["progress_total"])
    return dict(job)


def _current_job(source: dict[str, Any]) -> str | None:
    for stage in source["progress"]["stages"]:
        if stage["status"] not in ("done", "skipped") and stage["job_ids"]:
            return str(stage["job_ids"][-1])
    return source.get("job_id")


class _StageBars:
    """One bar per stage of an upload, updated from `GET /uploads/{id}`."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}

    def update(self, source: dict[str, Any]) -> None:
        for stage in source["progress"]["stages"]:
            name, status = stage["name"], stage["status"]
            if name not in self.tasks:
                if status == "waiting":
                    continue
                self.tasks[name] = self.bar.add_task(name, total=stage["total"], status=status)
            total = stage["total"] if stage["total"] is not None else None
            done = stage["done"] or 0
            if status in ("done", "skipped") and total is None:
                total = done
            self.bar.update(self.tasks[name], completed=done, total=total, status=status)


def wait_for_upload(api: Api, source_id: int) -> dict[str, Any]:
    """Poll an upload until every stage is done (or one failed); its last state."""
    path = api.in_project(f"/uploads/{source_id}")
    source = api.get(path)
    with (
        interruptible(api.out, lambda: _current_job(source)),
        _progress(api.out, MofNCompleteColumn(), TextColumn("{task.fields[status]}")) as bar,
    ):
        stages = _StageBars(bar)
        stages.update(source)
        while source["progress"]["stage"] not in ("done", "failed"):
            time.sleep(POLL_SECONDS)
            source = api.get(path)
            stages.update(source)
    return dict(source)


def job_failed(job: dict[str, Any]) -> Failed:
    return Failed(
        f"job {job['id']} ({job['kind']}) failed: {job.get('error') or 'no reason given'}"
    )
