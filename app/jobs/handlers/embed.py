"""The `embed` job: fill the embedding cache for a project, place the new narratives into the
latest analysis, and queue a full analysis when one is wanted. Above
`embedding_fanout_threshold` texts, the embedding is split into `embed_chunk` jobs that any
worker may take (app/jobs/fanout.py); the job runs again once they have all succeeded and does
the rest then."""

from __future__ import annotations

import logging
from typing import Any

from app.jobs import fanout
from app.jobs.context import JobContext
from app.jobs.kinds import JobKind
from app.services import analyses as analysis_service
from app.services import embeddings as embedding_service
from app.services import incremental as incremental_service
from models import Project

log = logging.getLogger(__name__)


def run(ctx: JobContext) -> dict[str, Any]:
    """Embed every narrative of the project the cache lacks, then place the new narratives
    into the latest analysis's themes. With auto-analysis on, a full analysis is queued when
    there is none yet or when the re-analysis rule says one is due."""
    assert ctx.project_id is not None
    embedder, settings = ctx.deps.embedder, ctx.deps.settings
    with ctx.session() as session:
        # set when this is the run after its chunks: what they embedded
        chunked = fanout.chunks_done(session, ctx.job_id)
        todo = embedding_service.missing_texts(session, ctx.project_id, embedder.name)
    if chunked is None and len(todo) > settings.embedding_fanout_threshold:
        chunks = fanout.plan(todo, fanout.chunk_size(settings))
        raise fanout.SplitIntoChunks(JobKind.embed_chunk, chunks, len(todo))
    base = chunked or 0
    # texts stored while the chunks ran (or a failed store) are embedded here
    ctx.progress(base, base + len(todo))
    done = base + embedding_service.embed_and_store(
        ctx.session,
        embedder,
        todo,
        settings.embedding_chunk_size,
        lambda n: ctx.progress(base + n),
    )
    ctx.check_time()
    result: dict[str, Any] = {"embedded": done, "model": embedder.name}
    if chunked is not None:
        with ctx.session() as session:
            result["chunks"] = fanout.chunk_count(session, ctx.job_id)
    placement = incremental_service.place_new(ctx.session, ctx.project_id, embedder.name)
    if placement is not None:
        result["incremental"] = placement.as_json()
    wanted = settings.auto_analyze and not ctx.payload.get("no_analysis")
    if wanted and (placement is None or placement.advice.due):
        with ctx.session() as session:
            project = session.get_one(Project, ctx.project_id)
            analysis, _job = analysis_service.request_analysis(
                session, project, analysis_service.AnalysisParams(), embedder.name, debounce=True
            )
            result["analysis_id"] = analysis.id
    return result


def run_chunk(ctx: JobContext) -> dict[str, Any]:
    """Embed one chunk's share of an embedding job's texts: those of its hashes that the
    cache still lacks (a retried chunk finds what its earlier attempt stored), adding its
    progress to its parent's."""
    assert ctx.project_id is not None
    embedder, settings = ctx.deps.embedder, ctx.deps.settings
    payload = ctx.payload
    parent_id = str(payload["parent_id"])
    hashes = [str(h) for h in payload["hashes"]]
    with ctx.session() as session:
        todo = embedding_service.missing_texts(session, ctx.project_id, embedder.name, hashes)
    # what an earlier attempt stored counts as done
    already, total = len(hashes) - len(todo), len(hashes)
    log.info(
        "job %s: chunk %s of %s of embedding job %s: %d texts to embed",
        ctx.job_id,
        payload["index"],
        payload["of"],
        parent_id,
        len(todo),
    )

    def report(done: int) -> None:
        ctx.progress(already + done, total)
        with ctx.session() as session:
            fanout.add_up(session, parent_id)

    report(0)
    done = embedding_service.embed_and_store(
        ctx.session, embedder, todo, settings.embedding_chunk_size, report
    )
    return {
        "embedded": done,
        "chunk": payload["index"],
        "of": payload["of"],
        "parent_id": parent_id,
    }
