"""The `embed` job: fill the embedding cache for a project, place the new narratives into the
latest analysis, and queue a full analysis when one is wanted."""

from __future__ import annotations

from typing import Any

from app.jobs.context import JobContext
from app.services import analyses as analysis_service
from app.services import embeddings as embedding_service
from app.services import incremental as incremental_service
from models import Project


def run(ctx: JobContext) -> dict[str, Any]:
    """Embed every narrative of the project the cache lacks, then place the new narratives
    into the latest analysis's themes. With auto-analysis on, a full analysis is queued when
    there is none yet or when the re-analysis rule says one is due."""
    assert ctx.project_id is not None
    embedder, settings = ctx.deps.embedder, ctx.deps.settings
    with ctx.session() as session:
        todo = embedding_service.missing_texts(session, ctx.project_id, embedder.name)
    ctx.progress(0, len(todo))
    done = embedding_service.embed_and_store(
        ctx.session, embedder, todo, settings.embedding_chunk_size, ctx.progress
    )
    ctx.check_time()
    result: dict[str, Any] = {"embedded": done, "model": embedder.name}
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
