"""The `ingest` job: parse an uploaded source and store its narratives, all or nothing.

Once the parse has ended, either way, the raw file is settled (app/services/retention.py):
a chat export deleted or redacted, a failed upload's file deleted, expired files purged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import transactions
from app.errors import UnreadableUpload, WeftError
from app.jobs.context import JobContext
from app.services import ingest as ingest_service
from app.services import retention
from app.services.early_embed import EarlyEmbedding
from models import Job, Source
from pipelines.ingest import UnreadableFile
from pipelines.ingest.plan import IngestPlan

log = logging.getLogger(__name__)


def run(ctx: JobContext) -> dict[str, Any]:
    """Read the source the payload names (no transaction open), then store it in one."""
    source_id = int(ctx.payload["source_id"])
    settings = ctx.deps.settings
    spool = ingest_service.spool_path(Path(settings.data_dir), ctx.job_id)
    with ctx.session() as session:
        earlier = ingest_service.stored_earlier(session, source_id)
    if earlier is not None:
        # an earlier attempt stored it, then its worker died before the job ended
        return earlier
    try:
        with ctx.session() as session:
            job = ingest_service.load(session, source_id, Path(settings.data_dir))
        plan = ingest_service.read(job, settings, spool, ctx.progress)
        early = _embed_early(ctx, job, plan, spool)
        try:
            with ctx.session() as session:
                result = ingest_service.store(session, job, plan, spool, settings.ingest_chunk_size)
        except BaseException:
            if early is not None:
                early.abandon()
            raise
        if early is not None:
            early.stored()
            result["embedded_early"] = early.finish(ctx.check_time)
    except UnreadableFile as exc:
        _fail(ctx, source_id, str(exc))
        raise UnreadableUpload(str(exc)) from exc
    except WeftError as exc:
        _fail(ctx, source_id, exc.detail)
        raise
    except Exception as exc:
        _fail(ctx, source_id, f"internal error: {type(exc).__name__}")
        raise
    finally:
        with suppress(FileNotFoundError):
            spool.unlink()
    _settle(ctx, source_id)
    return result


def _embed_early(
    ctx: JobContext, job: ingest_service.IngestInput, plan: IngestPlan, spool: Path
) -> EarlyEmbedding | None:
    """Start embedding the spooled texts while they are stored (`WEFT_INGEST_EMBED_EARLY`)."""
    settings = ctx.deps.settings
    if not settings.ingest_embed_early:
        return None
    with ctx.session() as session:
        concurrent = session.get_bind().dialect.name == "postgresql"

    def report(session: Session, done: int, total: int) -> None:
        early = {"embedded_early": done, "to_embed_early": total}
        session.execute(update(Job).where(Job.id == ctx.job_id).values(result=early))

    early = EarlyEmbedding(
        ctx.session,
        ctx.deps.embedder,
        # small steps: the thread stops after the one it is on when the store commits
        4 * settings.embedding_batch_size,
        concurrent_writes=concurrent,
        report=report,
        # the lookup must not wait for the store's write lock, as a lease renewal would
        reads=transactions(ctx.deps.session_factory),
    )
    early.storing()
    early.start(ingest_service.spooled_texts(job.project, plan, spool))
    return early


def abandon(session: Session, payload: Mapping[str, Any], message: str) -> None:
    """The job was given up at start-up: its upload must not stay `running`."""
    ingest_service.mark_failed(session, int(payload["source_id"]), message)
    # the abandon hook has no settings: the next start-up's purge deletes the file


def _fail(ctx: JobContext, source_id: int, message: str) -> None:
    with ctx.session() as session:
        ingest_service.mark_failed(session, source_id, message)
    _settle(ctx, source_id)


def _settle(ctx: JobContext, source_id: int) -> None:
    """Keep, redact or delete the parsed file, then purge what has expired meanwhile."""
    settings = ctx.deps.settings
    data_dir = Path(settings.data_dir)
    try:
        with ctx.session() as session:
            source = session.get(Source, source_id)
            if source is not None:
                retention.settle(session, source, data_dir, settings.raw_retention_days)
        with ctx.session() as session:
            retention.purge(session, data_dir, settings.raw_retention_days)
    except Exception:
        # the upload's outcome stands; the next start-up or ingest settles the file again
        log.exception("could not settle the raw files of upload %d", source_id)
