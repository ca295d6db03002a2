"""Fan-out: an embedding job with more texts than one worker should take alone is split into
chunk jobs that any worker may run, side by side.

The `embed` handler counts the distinct texts the cache lacks; above
`embedding_fanout_threshold` it raises `SplitIntoChunks` instead of embedding them. The
executor then, in one transaction, gives up the run's own lease, sets the job's progress total,
and queues one `embed_chunk` job per share of the texts (`parent_id` names the embedding job).
A chunk names the hashes of its texts (a run of texts of about one length, so batches pad
little) and looks them up when it runs, so a retried chunk embeds only what its earlier attempt
left.

While its chunks run, the parent stays `running` without a worker of its own: its lease is
`CHUNKS_HOLD`, which no sweeper takes for expired (each chunk holds a lease of its own). Every
chunk adds its progress to the parent's, so the parent's progress is the sum of its chunks'.
The transaction that ends a chunk also settles the parent, under the parent's row lock:
- the last chunk to succeed puts the parent back in the queue; it runs again, embeds what was
  added meanwhile, and does the follow-up work once (placement, the analysis it queues);
- a chunk that failed is retried alone while it has attempts left (`job_max_attempts`); one that
  failed for good fails the parent with the chunk's error, and the chunks still queued with it.

The turn rule of `app.jobs.execute` lets a chunk run whenever its parent is running: a project's
chunks run in parallel, while its other jobs still wait for the parent to end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, case, func, select, update
from sqlalchemy.orm import Session, aliased

from app.config import Settings
from app.services import jobs as job_service
from models import Job, JobStatus
from models.base import utcnow

log = logging.getLogger(__name__)

#: the lease of a parent whose chunks are running: never expires (its chunks hold leases)
CHUNKS_HOLD = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Chunk:
    """One share of the texts, by hash."""

    hashes: list[str]


class SplitIntoChunks(Exception):
    """Raised by a handler whose work is to be done by chunk jobs of `kind` instead."""

    def __init__(self, kind: str, chunks: list[Chunk], total: int) -> None:
        super().__init__(f"split into {len(chunks)} chunks")
        self.kind, self.chunks, self.total = kind, chunks, total


def chunk_size(settings: Settings) -> int:
    """Texts per chunk: a quarter of the threshold, so an upload just above it gets 4-5 chunks."""
    return max(1, settings.embedding_fanout_threshold // 4)


def plan(items: list[tuple[str, str]], size: int) -> list[Chunk]:
    """Cut the distinct (hash, text) `items` into chunks of `size` texts (the last one may be
    shorter), shortest texts first: each chunk holds texts of about one length, so its batches
    pad as little as one job's would (it sorts its texts by length too)."""
    ordered = sorted(dict(items).items(), key=lambda item: (len(item[1]), item[0]))
    return [
        Chunk([h for h, _ in ordered[start : start + size]])
        for start in range(0, len(ordered), size)
    ]


def waiting_for_chunks() -> ColumnElement[bool]:
    """`Job` is a parent whose chunks are running (it has no worker of its own)."""
    return and_(Job.status == JobStatus.running, Job.lease_expires_at == CHUNKS_HOLD)


def split(session: Session, job_id: str, project_id: str | None, order: SplitIntoChunks) -> int:
    """Queue the chunk jobs of `order` for parent `job_id` (whose run ended in this transaction:
    its lease is now `CHUNKS_HOLD`); they reach the runner once it commits."""
    count = len(order.chunks)
    for index, chunk in enumerate(order.chunks, start=1):
        child = job_service.enqueue(
            session,
            order.kind,
            project_id=project_id,
            payload={
                "parent_id": job_id,
                "index": index,
                "of": count,
                "hashes": chunk.hashes,
            },
        )
        child.parent_id = job_id
        child.progress_total = len(chunk.hashes)
    session.flush()
    log.info("job %s: %d texts split into %d chunk jobs", job_id, order.total, count)
    return count


def _children_sum(parent_id: str) -> ColumnElement[int]:
    child = aliased(Job)
    return (
        select(func.coalesce(func.sum(child.progress_done), 0))
        .where(child.parent_id == parent_id)
        .scalar_subquery()
    )


def add_up(session: Session, parent_id: str) -> None:
    """Make the parent's progress the sum of its chunks' (never lower than it was)."""
    total = _children_sum(parent_id)
    session.execute(
        update(Job)
        .where(Job.id == parent_id, waiting_for_chunks())
        .values(progress_done=case((total > Job.progress_done, total), else_=Job.progress_done))
    )


def chunks_done(session: Session, parent_id: str) -> int | None:
    """How many texts the chunks of `parent_id` embedded; None when it has no chunks."""
    child = aliased(Job)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(child.progress_done), 0)).where(
            child.parent_id == parent_id
        )
    ).one()
    return int(row[1]) if row[0] else None


def chunk_count(session: Session, parent_id: str) -> int:
    """How many chunk jobs `parent_id` was split into."""
    return int(session.scalar(select(func.count()).where(Job.parent_id == parent_id)) or 0)


def chunk_ended(session: Session, parent_id: str, error: str | None = None) -> None:
    """A chunk of `parent_id` ended (with `error`: failed for good) in this transaction:
    fail the parent, or queue it again once every chunk has succeeded."""
    # the update takes the parent's row lock: chunks ending at once settle it one at a time,
    # and the count below (a statement of its own) reads every one committed before it
    held = session.execute(
        update(Job)
        .where(Job.id == parent_id, waiting_for_chunks())
        .values(progress_done=Job.progress_done)
    )
    assert isinstance(held, CursorResult)
    if held.rowcount != 1:
        return  # the parent has ended already (an earlier chunk failed for good)
    child = aliased(Job)
    states = dict(
        session.execute(
            select(child.status, func.count())
            .where(child.parent_id == parent_id)
            .group_by(child.status)
        ).all()
    )
    if error is not None:
        _fail_parent(session, parent_id, error)
        return
    if states.get(JobStatus.queued, 0) or states.get(JobStatus.running, 0):
        add_up(session, parent_id)
        return
    # every chunk succeeded: the parent's next run does the follow-up work, once
    session.execute(
        update(Job)
        .where(Job.id == parent_id, waiting_for_chunks())
        .values(
            status=JobStatus.queued,
            progress_done=_children_sum(parent_id),
            attempts=0,
            started_at=None,
            run_token=None,
            lease_expires_at=None,
        )
    )
    job_service.hand_on(session, parent_id)


def _fail_parent(session: Session, parent_id: str, error: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == parent_id, waiting_for_chunks())
        .values(
            status=JobStatus.failed,
            finished_at=utcnow(),
            error=error[:2000],
            run_token=None,
            lease_expires_at=None,
        )
    )
    cancel_chunks(session, parent_id, "not run: another chunk of its embedding job failed")


def cancel_chunks(session: Session, parent_id: str, error: str) -> None:
    """Fail the still-queued chunks of `parent_id` (it has ended): they would never run."""
    session.execute(
        update(Job)
        .where(Job.parent_id == parent_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.failed, finished_at=utcnow(), error=error)
    )


def chunk_failure(payload: Mapping[str, Any], error: str, attempts: int | None = None) -> str:
    """The parent's error when chunk `payload` failed for good."""
    tries = f" on each of {attempts} attempts (setting WEFT_JOB_MAX_ATTEMPTS)" if attempts else ""
    return f"chunk {payload.get('index')} of {payload.get('of')} failed{tries}: {error}"


def abandon_chunk(session: Session, payload: Mapping[str, Any], error: str) -> None:
    """The abandon hook of `embed_chunk` jobs: a chunk given up fails its parent."""
    parent_id = payload.get("parent_id")
    if isinstance(parent_id, str):
        chunk_ended(session, parent_id, chunk_failure(payload, error))
