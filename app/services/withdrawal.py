"""Taking data out: deleting a narrative, an upload, a session, a participant's stories or a
whole project, each in the request's one transaction, with an audit record of what went.

What goes with a narrative: its attributes, signifier values, reactions, vote tallies,
assignments, memberships and scores (by the tables' cascades), its place in every analysis
that held it (`withdrawal_analyses`: counts, sizes, theme descriptions, signals), and its
cached embedding when no other narrative has the same text. Raw files and cached maps are let
go after the commit (`withdrawal_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Conflict
from app.schemas.withdrawal import (
    AuditRead,
    DeletionSummary,
    WithdrawalMatch,
    WithdrawalMatches,
    WithdrawalQuery,
)
from app.services import meetings, narratives, uploads
from app.services import segments as segment_service
from app.services import withdrawal_analyses as revision
from app.services import withdrawal_files as files
from app.services.authors import pseudonym
from models import (
    ApiKey,
    AuditRecord,
    Embedding,
    Job,
    JobStatus,
    MeetingSession,
    Narrative,
    Project,
    Reaction,
    Source,
    SourceStatus,
)
from pipelines.embed import Embedder

#: Matches listed by a withdrawal search (the withdrawal itself deletes every match).
MAX_LISTED = 1000
_BUSY = (SourceStatus.queued, SourceStatus.running)


@dataclass
class Removed:
    narratives: int = 0
    sources: int = 0
    sessions: int = 0
    files: int = 0
    reactions: int = 0
    embeddings: int = 0
    analyses_revised: int = 0
    themes_redescribed: int = 0


# --- the steps every deletion shares ----------------------------------------------------------


def remove_narratives(
    session: Session, ids: Sequence[int], removed: Removed, embedder: Embedder | None = None
) -> None:
    """Delete the narratives `ids` with everything that hangs on them, and revise analyses
    (their new theme names ranked by `embedder` when the analysis ranked them by that model)."""
    ids = sorted(set(ids))
    if not ids:
        return
    touches = revision.touched(session, ids)
    texts: list[str] = []
    hashes: set[str] = set()
    for chunk in revision.chunks(ids):
        for text, text_hash in session.execute(
            select(Narrative.text, Narrative.text_hash).where(Narrative.id.in_(chunk))
        ):
            texts.append(text)
            hashes.add(text_hash)
        removed.reactions += _count(session, Reaction.narrative_id.in_(chunk))
        # attributes, values, reactions, tallies, assignments, memberships and scores
        # go with the rows (ON DELETE CASCADE); replies keep their text, losing the link
        session.execute(
            delete(Narrative)
            .where(Narrative.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    removed.narratives += len(texts)
    done = revision.revise(session, touches, set(ids), texts, embedder)
    removed.analyses_revised += done.analyses
    removed.themes_redescribed += done.themes
    removed.embeddings += drop_unshared_embeddings(session, hashes)


def _count(session: Session, condition: ColumnElement[bool]) -> int:
    """Reactions matching `condition`."""
    found = session.scalar(select(func.count()).select_from(Reaction).where(condition))
    return int(found or 0)


def drop_unshared_embeddings(session: Session, hashes: set[str]) -> int:
    """Drop the cached vectors of `hashes` that no remaining narrative of any project uses,
    with their segments."""
    dropped = 0
    ordered = sorted(hashes)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        shared = set(
            session.scalars(select(Narrative.text_hash).where(Narrative.text_hash.in_(chunk)))
        )
        unused = [h for h in chunk if h not in shared]
        segment_service.drop_unshared(session, unused)
        if unused:
            result = session.execute(
                delete(Embedding)
                .where(Embedding.text_hash.in_(unused))
                .execution_options(synchronize_session=False)
            )
            dropped += int(getattr(result, "rowcount", 0) or 0)
    return dropped


def _remove_sources(
    session: Session,
    project: Project,
    sources: list[Source],
    removed: Removed,
    embedder: Embedder | None = None,
) -> list[str]:
    """Delete the sources with their narratives, their own reactions and parse jobs; the
    relative paths of their files no remaining source keeps are returned."""
    ids = [s.id for s in sources]
    busy = [s for s in sources if s.status in _BUSY]
    if busy:
        raise Conflict(
            f"upload {busy[0].id} is still being read (status {busy[0].status.value}); "
            "delete it once its job has finished"
        )
    narrative_ids = list(
        session.scalars(select(Narrative.id).where(Narrative.source_id.in_(ids or [-1])))
    )
    remove_narratives(session, narrative_ids, removed, embedder)
    # reactions a chat export recorded on narratives of other uploads
    removed.reactions += _count(session, Reaction.source_id.in_(ids or [-1]))
    session.execute(delete(Reaction).where(Reaction.source_id.in_(ids or [-1])))
    paths = files.source_paths(sources)
    job_ids = [s.job_id for s in sources if s.job_id]
    for source in sources:
        session.delete(source)
    if job_ids:
        session.execute(delete(Job).where(Job.id.in_(job_ids)))
    session.flush()
    removed.sources += len(sources)
    kept = files.source_paths(
        session.scalars(select(Source).where(Source.project_id == project.id))
    )
    return sorted(paths - kept)


def _record(
    session: Session,
    project_id: str,
    key: ApiKey,
    action: str,
    target: str | None,
    removed: Removed,
) -> DeletionSummary:
    """The audit record of a deletion (counts only), and the answer that reports it."""
    record = AuditRecord(
        project_id=project_id,
        action=action,
        target=target,
        narratives=removed.narratives,
        sources=removed.sources,
        sessions=removed.sessions,
        files=removed.files,
        reactions=removed.reactions,
        key_id=key.id,
        key_name=key.name,
    )
    session.add(record)
    session.flush()
    return DeletionSummary(action=action, target=target, audit_id=record.id, **asdict(removed))


def _release(
    session: Session, project: Project, settings: Settings, relative: list[str], removed: Removed
) -> None:
    """The files of `relative` still on disk are removed once the deletion commits."""
    found = files.existing(Path(settings.data_dir), relative)
    removed.files += len(found)
    files.after_commit(session, project.id, found, None)


# --- the use cases ----------------------------------------------------------------------------


def delete_narrative(
    session: Session,
    project: Project,
    key: ApiKey,
    narrative_id: int,
    settings: Settings,
    embedder: Embedder | None = None,
) -> DeletionSummary:
    """`DELETE /narratives/{id}`: one narrative, from every analysis that held it."""
    narratives.get(session, project, narrative_id)
    removed = Removed()
    remove_narratives(session, [narrative_id], removed, embedder)
    _release(session, project, settings, [], removed)
    return _record(session, project.id, key, "narrative", str(narrative_id), removed)


def delete_upload(
    session: Session,
    project: Project,
    key: ApiKey,
    source_id: int,
    settings: Settings,
    embedder: Embedder | None = None,
) -> DeletionSummary:
    """`DELETE /uploads/{id}`: an upload with its narratives and raw files."""
    source = uploads.get_source(session, project, source_id)
    removed = Removed()
    relative = _remove_sources(session, project, [source], removed, embedder)
    _release(session, project, settings, relative, removed)
    return _record(session, project.id, key, "upload", str(source_id), removed)


def delete_session(
    session: Session,
    project: Project,
    key: ApiKey,
    session_id: int,
    settings: Settings,
    embedder: Embedder | None = None,
) -> DeletionSummary:
    """`DELETE /sessions/{id}`: a meeting, every upload of it (chat, transcript) and every
    narrative in it, with their raw files."""
    meeting = meetings.get_meeting(session, project, session_id)
    removed = Removed()
    sources = [
        s
        for s in session.scalars(select(Source).where(Source.project_id == project.id))
        if s.id == meeting.source_id or (s.options or {}).get("session_id") == meeting.id
    ]
    relative = _remove_sources(session, project, sources, removed, embedder)
    in_meeting = session.scalars(
        select(Narrative.id).where(
            Narrative.project_id == project.id, Narrative.session_id == meeting.id
        )
    )
    remove_narratives(session, list(in_meeting), removed, embedder)
    session.delete(meeting)
    session.flush()
    removed.sessions += 1
    _release(session, project, settings, relative, removed)
    return _record(session, project.id, key, "session", str(session_id), removed)


def delete_project(
    session: Session, project: Project, key: ApiKey, settings: Settings
) -> DeletionSummary:
    """`DELETE /projects/{id}`: everything the project holds, its keys and files included."""
    data_dir = Path(settings.data_dir)
    running = session.scalars(
        select(Job).where(Job.project_id == project.id, Job.status == JobStatus.running)
    ).first()
    if running is not None:
        raise Conflict(
            f"a {running.kind} job of this project is running ({running.id}); "
            "delete the project once it has finished"
        )
    removed = Removed()
    counted = session.execute(
        select(func.count(Narrative.id)).where(Narrative.project_id == project.id)
    ).scalar_one()
    removed.narratives = int(counted)
    removed.sources = _count_rows(session, Source, project.id)
    removed.sessions = _count_rows(session, MeetingSession, project.id)
    removed.reactions = _count(session, Reaction.project_id == project.id)
    hashes = set(
        session.scalars(
            select(Narrative.text_hash).where(Narrative.project_id == project.id).distinct()
        )
    )
    sources = list(session.scalars(select(Source).where(Source.project_id == project.id)))
    listed = files.existing(data_dir, files.source_paths(sources))
    folder, in_folder = files.project_files(data_dir, project.id)
    found = sorted(set(listed) | set(in_folder))
    removed.files = len(found)
    # every table of the project goes by cascade: keys, sign-ins, narratives, analyses, jobs
    session.execute(
        delete(Project).where(Project.id == project.id).execution_options(synchronize_session=False)
    )
    removed.embeddings = drop_unshared_embeddings(session, hashes)
    session.expunge(project)
    files.after_commit(session, project.id, found, folder)
    return _record(session, project.id, key, "project", project.id, removed)


def _count_rows(
    session: Session, table: type[Source] | type[MeetingSession], project_id: str
) -> int:
    found = session.scalar(
        select(func.count()).select_from(table).where(table.project_id == project_id)
    )
    return int(found or 0)


def _matching(project: Project, query: WithdrawalQuery) -> tuple[str, object]:
    """The column searched and the value it must have (the author's pseudonym, not the name)."""
    if query.author is not None:
        return "author", pseudonym(project, query.author)
    return "external_id", query.external_id


def search(session: Session, project: Project, query: WithdrawalQuery) -> WithdrawalMatches:
    """The narratives (and reactions) a participant's withdrawal would delete."""
    field, value = _matching(project, query)
    if value is None:
        return WithdrawalMatches(total=0, reactions=0, narratives=[])
    column = Narrative.author if field == "author" else Narrative.external_id
    where = (Narrative.project_id == project.id, column == value)
    total = session.scalar(select(func.count()).select_from(Narrative).where(*where)) or 0
    rows = session.execute(
        select(Narrative, Source.filename)
        .outerjoin(Source, Source.id == Narrative.source_id)
        .where(*where)
        .order_by(Narrative.occurred_at, Narrative.id)
        .limit(MAX_LISTED)
    ).all()
    reactions = (
        _count(session, (Reaction.project_id == project.id) & (Reaction.author == value))
        if field == "author"
        else 0
    )
    return WithdrawalMatches(
        total=int(total),
        reactions=reactions,
        narratives=[
            WithdrawalMatch.model_validate(n).model_copy(update={"source_filename": filename})
            for n, filename in rows
        ],
    )


def withdraw(
    session: Session,
    project: Project,
    key: ApiKey,
    query: WithdrawalQuery,
    embedder: Embedder | None = None,
) -> DeletionSummary:
    """`POST /withdrawals`: delete every narrative the search finds, and the author's
    reactions; the audit record says what was searched by, never the name or id."""
    field, value = _matching(project, query)
    removed = Removed()
    if value is not None:
        column = Narrative.author if field == "author" else Narrative.external_id
        ids = session.scalars(
            select(Narrative.id).where(Narrative.project_id == project.id, column == value)
        )
        remove_narratives(session, list(ids), removed, embedder)
        if field == "author":
            mine = (Reaction.project_id == project.id) & (Reaction.author == value)
            removed.reactions += _count(session, mine)
            session.execute(delete(Reaction).where(mine))
    files.after_commit(session, project.id, [], None)
    return _record(session, project.id, key, "withdrawal", field, removed)


def audit_trail(session: Session, project: Project) -> list[AuditRead]:
    """`GET /audit`: the project's deletions, newest first."""
    records = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.project_id == project.id)
        .order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc())
    )
    return [AuditRead.model_validate(r) for r in records]
