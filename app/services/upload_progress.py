"""An upload's progress: its stages (parse, store, embed, place) read from its source and jobs.

The `ingest` job reads the file (progress per record: parse) and stores it in one transaction
(store: done when the source is `stored`); its result names the embedding job it queued or
joined (`embed_job_id`). That `embed` job reports progress per embedded chunk (embed) and then
places the new narratives into the latest analysis (place: `incremental` in its result). The
embedding job is debounced, one per project serving every upload stored while it waited, so
the embed and place counts are that job's (see `UploadProgress`). While the file is stored,
the ingest job embeds its texts too (`app/services/early_embed.py`), counting them in its
result (`embedded_early` of `to_embed_early`): the embed stage runs beside the store, and
its counts add those to the embedding job's. A large embedding job is split into chunk jobs
that workers take side by side (app/jobs/fanout.py); its progress is the sum of theirs, and
the embed stage's note says how many chunks have ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.schemas.uploads import StageName, StageProgress, StageStatus, UploadProgress
from models import Job, JobStatus, Source, SourceStatus

_ORDER: tuple[StageName, ...] = ("parse", "store", "embed", "place")
_EMBED_FAILED = "the narratives are stored; the next upload or analysis embeds them"


def _stage(
    name: StageName,
    status: StageStatus,
    done: int | None = 0,
    total: int | None = None,
    job: Job | None = None,
    note: str | None = None,
) -> StageProgress:
    return StageProgress(
        name=name,
        status=status,
        done=done,
        total=total,
        job_ids=[job.id] if job is not None else [],
        note=note,
    )


def _number(mapping: Mapping[str, Any] | None, key: str) -> int | None:
    value = (mapping or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _counted(job: Job) -> bool:
    """The job has done every unit it announced (reading read, embedding embedded)."""
    return job.progress_total is not None and job.progress_done >= job.progress_total


def _waiting(*names: StageName) -> list[StageProgress]:
    return [_stage(name, "waiting") for name in names]


def _overall(stages: list[StageProgress], error: str | None = None, **extra: Any) -> UploadProgress:
    failed = next((s for s in stages if s.status == "failed"), None)
    if failed is not None:
        return UploadProgress(stage="failed", error=error, stages=stages, **extra)
    current = next((s.name for s in stages if s.status not in ("done", "skipped")), "done")
    return UploadProgress(stage=current, error=None, stages=stages, **extra)


def progress(session: Session, source: Source) -> UploadProgress:
    """The stages of `source` as they stand now."""
    ingest = session.get(Job, source.job_id) if source.job_id else None
    if source.status is SourceStatus.failed:
        return _failed(source, ingest)
    if source.status is not SourceStatus.stored:
        reading = _reading(source, ingest)
        early = _early(ingest)
        if early is None:
            return _overall([*reading, *_waiting("embed", "place")])
        embedding = _stage("embed", "running", early[0], early[1], ingest)
        return _overall([*reading, embedding, *_waiting("place")])
    if ingest is None:
        # a JSON batch, stored by its own request
        note = "stored by its request; follow the embedding job its answer named"
        stages = [_stage(name, "untracked", None, None, note=note) for name in _ORDER]
        return UploadProgress(stage="done", error=None, stages=stages)
    return _stored(session, source, ingest)


def _early(ingest: Job | None) -> tuple[int, int] | None:
    """What the ingest job has embedded while storing, of how many: None before it started."""
    if ingest is None:
        return None
    done = _number(ingest.result, "embedded_early")
    total = _number(ingest.result, "to_embed_early")
    return None if done is None else (done, total if total is not None else done)


def _reading(source: Source, ingest: Job | None) -> list[StageProgress]:
    """parse and store while the ingest job has not stored the file yet."""
    if ingest is None or source.status is SourceStatus.queued:
        return _waiting("parse", "store")
    if ingest.status is not JobStatus.running:
        return [_stage("parse", "waiting", job=ingest), _stage("store", "waiting")]
    parse_total = ingest.progress_total
    if _counted(ingest):
        return [
            _stage("parse", "done", ingest.progress_done, parse_total, ingest),
            _stage("store", "running", 0, None, ingest),
        ]
    return [
        _stage("parse", "running", ingest.progress_done, parse_total, ingest),
        _stage("store", "waiting"),
    ]


def _failed(source: Source, ingest: Job | None) -> UploadProgress:
    """A refused file stored nothing: the stage that failed is parse, or store once read."""
    error = source.error or (ingest.error if ingest else None) or "the upload failed"
    read = ingest is not None and _counted(ingest)
    done, total = (ingest.progress_done, ingest.progress_total) if ingest else (0, None)
    if read:
        stages = [
            _stage("parse", "done", done, total, ingest),
            _stage("store", "failed", 0, None, ingest, note=error),
        ]
    else:
        stages = [_stage("parse", "failed", done, total, ingest, note=error), *_waiting("store")]
    return _overall([*stages, *_waiting("embed", "place")], error)


def _stored(session: Session, source: Source, ingest: Job) -> UploadProgress:
    report = source.report
    records = ingest.progress_done if _counted(ingest) else _number(report, "records")
    new, duplicates = _number(report, "stored") or 0, _number(report, "duplicates") or 0
    stages = [
        _stage("parse", "done", records, records, ingest),
        _stage("store", "done", new + duplicates, new + duplicates, ingest),
    ]
    if new == 0:
        note = "nothing new to embed: every row was already stored or left out"
        stages += [_stage(name, "skipped", 0, 0, note=note) for name in ("embed", "place")]
        return _overall(stages)
    embed_id = (ingest.result or {}).get("embed_job_id")
    embed = session.get(Job, embed_id) if isinstance(embed_id, str) else None
    early = _early(ingest)
    if embed is None:
        # the ingest job has stored the file: it may still be embedding, then records its result
        if early is None or ingest.status is not JobStatus.running:
            return _overall([*stages, *_waiting("embed", "place")])
        embedding = _stage("embed", "running", early[0], early[1], ingest)
        return _overall([*stages, embedding, *_waiting("place")])
    return _embedding(stages, embed, _chunks_note(session, embed), early[0] if early else 0)


def _chunks_note(session: Session, embed: Job) -> str | None:
    """How far the chunk jobs of a split embedding job are, if it was split."""
    states = dict(
        session.execute(
            select(Job.status, func.count()).where(Job.parent_id == embed.id).group_by(Job.status)
        ).all()
    )
    if not states:
        return None
    ended = states.get(JobStatus.succeeded, 0)
    running = states.get(JobStatus.running, 0)
    return (
        f"embedded by {sum(states.values())} chunk jobs across the workers: "
        f"{ended} done, {running} running"
    )


def _embedding(
    stages: list[StageProgress], embed: Job, chunks: str | None, early: int = 0
) -> UploadProgress:
    """embed and place, from the (possibly shared) embedding job and the `early` vectors the
    ingest job made while storing."""
    done, total = embed.progress_done + early, embed.progress_total
    total = total + early if total is not None else None
    if embed.status is JobStatus.queued:
        if chunks is not None and _counted(embed):
            # its chunks have all ended: it waits for a worker to place the narratives
            embedded = _stage("embed", "done", done, total, embed, note=chunks)
            return _overall([*stages, embedded, _stage("place", "waiting", job=embed)])
        return _overall([*stages, _stage("embed", "waiting", job=embed), *_waiting("place")])
    if embed.status is JobStatus.running:
        if _counted(embed):
            stages += [
                _stage("embed", "done", done, total, embed, note=chunks),
                _stage("place", "running", 0, None, embed),
            ]
        else:
            running = _stage("embed", "running", done, total, embed, note=chunks)
            stages += [running, *_waiting("place")]
        return _overall(stages)
    if embed.status is JobStatus.failed:
        error = f"embedding failed ({embed.error or 'no detail'}); {_EMBED_FAILED}"
        if _counted(embed):
            stages += [
                _stage("embed", "done", done, total, embed),
                _stage("place", "failed", 0, None, embed, note=error),
            ]
        else:
            failed = _stage("embed", "failed", done, total, embed, note=error)
            stages += [failed, *_waiting("place")]
        return _overall(stages, error)
    result: Mapping[str, Any] = embed.result or {}
    embedded = _stage(
        "embed", "done", done, total if total is not None else done, embed, note=chunks
    )
    stages.append(embedded)
    placement = result.get("incremental")
    queued = _number(result, "analysis_id")
    if isinstance(placement, Mapping):
        placed = _number(placement, "placed") or 0
        stages.append(_stage("place", "done", placed, placed, embed))
        into = _number(placement, "analysis_id")
        return _overall(stages, placed_into_analysis_id=into, queued_analysis_id=queued)
    note = (
        "no themes yet to place into: the analysis queued finds them"
        if queued is not None
        else "no themes yet to place into: run an analysis to find them"
    )
    stages.append(_stage("place", "skipped", 0, 0, embed, note=note))
    return _overall(stages, queued_analysis_id=queued)
