"""The `analyze` job: embed what the cache lacks, cluster, store the themes, place narratives
added meanwhile, and compute the tension signals; each step in its own short transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.jobs.context import JobContext, JobTimeLimitExceeded
from app.services import analyses as analysis_service
from app.services import embeddings as embedding_service
from app.services import incremental as incremental_service
from app.services import segments as segment_service
from app.services import tensions as tension_service

DELETED_MEANWHILE = (
    "narratives were deleted while this analysis ran, so its themes were not stored; "
    "request a new analysis"
)


def run(ctx: JobContext) -> dict[str, Any]:
    """Run the analysis the payload names; on any error it ends `failed` with the error."""
    analysis_id = int(ctx.payload["analysis_id"])
    with ctx.session() as session:
        if analysis_service.stored_earlier(session, analysis_id):
            # an earlier attempt stored its themes, then its worker died before the job ended
            return {"analysis_id": analysis_id, "stored_by_an_earlier_attempt": True}
    try:
        return _run(ctx, analysis_id)
    except BaseException as exc:
        if isinstance(exc, JobTimeLimitExceeded):
            message = exc.detail
        elif isinstance(exc, IntegrityError):
            # the narratives it read are no longer all there: a deletion committed meanwhile
            message = DELETED_MEANWHILE
        else:
            message = f"{type(exc).__name__}: {exc}"[:2000]
        with ctx.session() as session:
            analysis_service.mark_failed(session, analysis_id, message)
        raise


def abandon(session: Session, payload: Mapping[str, Any], message: str) -> None:
    """The job was given up at start-up: its analysis must not stay `running`."""
    analysis_service.mark_failed(session, int(payload["analysis_id"]), message)


def _run(ctx: JobContext, analysis_id: int) -> dict[str, Any]:
    embedder, settings = ctx.deps.embedder, ctx.deps.settings
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with ctx.session() as session:
        prepared = analysis_service.begin(session, analysis_id, embedder.name)
    ctx.progress(0, len(prepared.missing) + 2)
    done = embedding_service.embed_and_store(
        ctx.session, embedder, prepared.missing, settings.embedding_chunk_size, ctx.progress
    )
    timings["embed_seconds"] = time.perf_counter() - started
    ctx.check_time()
    with ctx.session() as session:
        X = analysis_service.load_matrix(session, prepared, embedder)

    clustered_at = time.perf_counter()
    result = analysis_service.cluster(prepared, X, embedder)
    with ctx.session() as session:
        # long narratives belong to the themes their segments fall in
        result = segment_service.with_segment_memberships(
            session, prepared.hashes, result, embedder.name
        )
    timings["cluster_seconds"] = time.perf_counter() - clustered_at
    timings.update({f"pipeline_{k}_seconds": v for k, v in result.timings.items()})
    # the last check point: once its themes are stored, the analysis is current, and the
    # steps after it (placement, signals) finish it
    ctx.progress(done + 1)

    stored_at = time.perf_counter()
    with ctx.session() as session:
        summary = analysis_service.store(session, prepared, result, embedder.name)
    timings["store_seconds"] = time.perf_counter() - stored_at
    # Narratives added while this analysis ran join its themes now, as a session would.
    placement = incremental_service.place_new(ctx.session, prepared.project_id, embedder.name)
    if placement is not None and placement.placed:
        summary["incremental"] = placement.as_json()
    signalled_at = time.perf_counter()
    tension_service.run_step(
        ctx.session,
        settings,
        embedder,
        analysis_id,
        prepared.project_id,
        prepared.ids,
        prepared.texts,
        X,
        result.labels,
    )
    timings["signals_seconds"] = time.perf_counter() - signalled_at
    timings["total_seconds"] = time.perf_counter() - started
    with ctx.session() as session:
        analysis_service.record_timings(session, analysis_id, timings)
    return {"analysis_id": analysis_id, **summary}
