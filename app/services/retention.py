"""What stays of an uploaded file once it is parsed, and for how long.

- A session export (Zoom chat, Teams messages, transcript) is deleted as soon as its parse
  ends, unless its project keeps chat files (`keep_chat_files`): then a copy without private
  messages replaces it (pipelines/ingest/redact.py), kept until the source is deleted.
- Any other upload (batch CSV/TSV/JSONL/JSON/XLSX, SenseMaker, Polis) is kept
  `WEFT_RAW_RETENTION_DAYS` after it is stored, then deleted.
- A file whose parse failed is deleted at once: posting it again brings it back.

`Source.files` keeps each file's name, size and sha256; a deleted file's `path` becomes None
and `removed` says why, so re-posting the same bytes still finds its source. `purge` is the
catch-up sweep: at start-up and after each ingest job, over the stored and failed uploads.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, load_only

from models import Project, Source, SourceStatus
from models.base import utcnow
from pipelines.ingest.redact import redact_session_file

log = logging.getLogger(__name__)

#: the kinds of source that have files (JSON batches have none)
_FILE_KINDS = ("file", "session")


def _kept(source: Source) -> list[dict[str, object]]:
    return [entry for entry in source.files if entry.get("path")]


def discard(source: Source, data_dir: Path, reason: str) -> None:
    """Delete the source's files, keeping their description with why they went."""
    entries = []
    for entry in source.files:
        path = entry.get("path")
        if path:
            (data_dir / str(path)).unlink(missing_ok=True)
            entry = {**entry, "path": None, "removed": reason}
        entries.append(entry)
    source.files = entries


def _replace(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def redact(source: Source, data_dir: Path) -> None:
    """Replace the session's file by its copy without private messages."""
    entries = []
    for entry in source.files:
        path = entry.get("path")
        if path and not entry.get("redacted"):
            target = data_dir / str(path)
            if not target.exists():
                entry = {**entry, "path": None, "removed": "missing"}
            else:
                copy = redact_session_file(
                    target.read_bytes(),
                    str(source.options.get("format") or "auto"),
                    str(entry["filename"]) if entry.get("filename") else None,
                )
                _replace(target, copy.data)
                entry = {**entry, "redacted": True, "kept_size": len(copy.data)}
        entries.append(entry)
    source.files = entries


def settle(session: Session, source: Source, data_dir: Path, retention_days: int) -> None:
    """The raw files of a source whose parse has ended: keep, redact or delete them."""
    if source.status not in (SourceStatus.stored, SourceStatus.failed) or not _kept(source):
        return  # queued again meanwhile (the same bytes re-posted): its new job needs them
    if source.status == SourceStatus.failed:
        discard(source, data_dir, "failed")
    elif source.kind == "session":
        project = session.get_one(Project, source.project_id)
        if project.keep_chat_files:
            redact(source, data_dir)
        else:
            discard(source, data_dir, "parsed")
    elif source.status == SourceStatus.stored and _expired(source, retention_days, utcnow()):
        discard(source, data_dir, "retention")
    session.flush()


def _expired(source: Source, retention_days: int, now: datetime) -> bool:
    finished = source.finished_at or source.created_at
    return finished <= now - timedelta(days=retention_days)


def purge(session: Session, data_dir: Path, retention_days: int) -> int:
    """Settle every finished upload that still keeps a file it should not; how many."""
    cutoff = utcnow() - timedelta(days=retention_days)
    candidates = session.scalars(
        select(Source)
        # the files' list and what decides their fate, not the (possibly long) reports
        .options(
            load_only(
                Source.project_id,
                Source.kind,
                Source.status,
                Source.files,
                Source.options,
                Source.created_at,
                Source.finished_at,
            )
        )
        .where(
            Source.kind.in_(_FILE_KINDS),
            Source.status.in_((SourceStatus.stored, SourceStatus.failed)),
            or_(
                Source.kind == "session",
                Source.status == SourceStatus.failed,
                Source.finished_at <= cutoff,
                Source.finished_at.is_(None),
            ),
        )
    )
    settled = 0
    for source in candidates:
        before = source.files
        settle(session, source, data_dir, retention_days)
        settled += source.files != before
    if settled:
        log.info("raw files: %d uploads deleted or redacted under the retention rules", settled)
    return settled
