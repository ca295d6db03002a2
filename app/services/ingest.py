"""The ingest use cases: reading an uploaded source into checked rows, and storing them.

The `ingest` job (app/jobs/handlers/ingest.py) runs them in two passes so that memory stays
flat and nothing is half stored:

1. `read`: parse and check every record, writing the good ones to a spool file on disk and
   each refused row or line to the report (no transaction is open; progress is reported);
2. `store`: the spool into the store chunk by chunk with Core inserts inside ONE
   transaction, together with the signifiers a SenseMaker definition declares, reactions,
   reply links and vote tallies.

A file that cannot be read at all fails before the second pass, and an error during it rolls
the whole transaction back: a file is stored whole or not at all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import UnreadableUpload
from app.jobs.kinds import JobKind
from app.services import jobs as jobs_service
from app.services import meetings as meeting_service
from app.services import narratives as narrative_service
from app.services import signifiers as signifier_service
from app.services.authors import pseudonym
from app.services.uploads import declaration
from models import (
    Job,
    MeetingSession,
    Narrative,
    Project,
    Reaction,
    Signifier,
    SignifierKind,
    Source,
    SourceStatus,
    VoteTally,
)
from models.base import utcnow
from pipelines.ingest import NarrativeRecord, ParseReport, SignifierSpec, UnreadableFile
from pipelines.ingest.guards import INVISIBLE_TEXT, OUT_OF_RANGE, datetime_problem, is_invisible
from pipelines.ingest.mentions import mentions_of
from pipelines.ingest.plan import IngestPlan, Limits, plan_session, plan_upload
from pipelines.nonresponse import PLEASANTRY, nonresponse_reason, normalize


class Progress(Protocol):
    """Reports the records read so far, and the total once known."""

    def __call__(self, done: int, total: int | None = None) -> None: ...


#: Longest reaction emoji name the column holds.
_EMOJI_MAX = 200


def spool_path(data_dir: Path, job_id: str) -> Path:
    """Where a job's first pass writes the rows its second pass stores."""
    spool_dir = data_dir / "tmp"
    spool_dir.mkdir(parents=True, exist_ok=True)
    return spool_dir / f"ingest-{job_id}.jsonl"


def _listed(definition: Mapping[str, object], name: str) -> list[Any]:
    value = definition.get(name)
    return list(value) if isinstance(value, list | tuple) else []


def _spec_of(signifier: Signifier) -> SignifierSpec:
    """A declared signifier as the parsers take it."""
    definition = signifier.definition
    axes = definition.get("axes")
    return SignifierSpec(
        key=signifier.key,
        kind=signifier.kind.value,
        label=signifier.label,
        anchors=_listed(definition, "anchors"),
        poles=_listed(definition, "poles"),
        options=_listed(definition, "options"),
        multiple=bool(definition.get("multiple")),
        stones=_listed(definition, "stones"),
        axes=dict(axes) if isinstance(axes, Mapping) else {},
    )


def _transient_signifier(spec: SignifierSpec) -> Signifier:
    declared = declaration(spec)
    definition = {k: v for k, v in declared.items() if k not in ("key", "kind", "label")}
    return Signifier(
        key=spec.key, kind=SignifierKind(spec.kind), label=spec.label, definition=definition
    )


@dataclass
class IngestInput:
    """Everything the job reads from the store before parsing (plain values, no session)."""

    source_id: int
    project: Project
    kind: str
    files: dict[str, Path]
    filenames: dict[str, str | None]
    options: dict[str, Any]
    signifiers: dict[str, Signifier]
    session_attributes: dict[str, Any]


def stored_earlier(session: Session, source_id: int) -> dict[str, Any] | None:
    """What a retried ingest job returns when an earlier attempt of it already stored the
    upload (its worker died before ending the job); None when it has still to be stored."""
    source = session.get(Source, source_id)
    if source is None or source.status != SourceStatus.stored:
        return None
    return {"source_id": source.id, "stored_by_an_earlier_attempt": True}


def load(session: Session, source_id: int, data_dir: Path) -> IngestInput:
    """Mark the source running and read what parsing it needs."""
    source = session.get(Source, source_id)
    if source is None:
        raise UnreadableUpload(f"upload {source_id} no longer exists")
    project = session.get_one(Project, source.project_id)
    source.status = SourceStatus.running
    signifiers = {s.key: s for s in signifier_service.list_signifiers(session, project)}
    attributes: dict[str, Any] = {}
    meeting_id = source.options.get("session_id")
    if isinstance(meeting_id, int):
        meeting = session.get(MeetingSession, meeting_id)
        attributes = dict(meeting.attributes) if meeting else {}
    files = {str(f["role"]): data_dir / str(f["path"]) for f in source.files}
    filenames = {
        str(f["role"]): (str(f["filename"]) if f.get("filename") else None) for f in source.files
    }
    return IngestInput(
        source_id=source.id,
        project=project,
        kind=source.kind,
        files=files,
        filenames=filenames,
        options=dict(source.options),
        signifiers=signifiers,
        session_attributes=attributes,
    )


def mark_failed(session: Session, source_id: int, message: str) -> None:
    """The upload ends `failed` with `message`; nothing of it was stored. A session export
    takes with it the meeting it was posted for, unless something else holds that meeting."""
    session.execute(
        update(Source)
        .where(Source.id == source_id)
        .values(status=SourceStatus.failed, error=message[:2000], finished_at=utcnow(), report={})
    )
    source = session.get(Source, source_id)
    meeting_id = source.options.get("session_id") if source is not None else None
    if source is not None and source.kind == "session" and isinstance(meeting_id, int):
        meeting_service.drop_if_empty(session, meeting_id, source_id)


class _Checker:
    """Turns parsed records into rows ready to insert, reporting what it leaves out."""

    def __init__(
        self,
        job: IngestInput,
        plan: IngestPlan,
        settings: Settings,
        signifiers: Mapping[str, Signifier],
    ) -> None:
        self.job = job
        self.plan = plan
        self.report = plan.report
        self.max_text = settings.max_text_length
        self.signifiers = signifiers
        meeting_id = job.options.get("session_id")
        self.meeting_id = meeting_id if isinstance(meeting_id, int) else None
        self.occurrences: dict[str, int] = {}
        self.placeholders = tuple(job.project.placeholders or ())

    def low_content(self, record: NarrativeRecord) -> str | None:
        """Why the record is left out of the themes, or None: the parser's judgement (a
        pleasantry, or a placeholder with its question), else a placeholder of the project's
        or of any form."""
        reason: str | None
        if record.low_content:
            reason = record.low_content_reason or PLEASANTRY
        else:
            reason = nonresponse_reason(record.text, None, self.placeholders)
            if reason is not None:
                self.report.low_content += 1
        return reason

    def row(self, index: int, record: NarrativeRecord) -> dict[str, Any] | None:
        report, location = self.report, record.location
        text = record.text
        if self.job.kind == "session":
            named = [record.author, *(r.author for r in record.reactions)]
            self.plan.participants.update(name for name in named if name)
        # every parser checks these; this is the one place no format can get past
        if not text[:1].isalnum() and text.strip() and is_invisible(text):
            report.skip(location, f"the text {INVISIBLE_TEXT}")
            return None
        if record.occurred_at is not None and datetime_problem(record.occurred_at):
            report.skip(location, f"the date {OUT_OF_RANGE}")
            return None
        checked = narrative_service.check(
            narrative_service.NarrativeInput(
                text=text,
                title=record.title,
                external_id=record.external_id,
                author=record.author,
                attributes={**self.job.session_attributes, **record.attributes},
                signifiers=record.signifiers,
            ),
            self.signifiers,
            self.max_text,
        )
        refusal = next((p for p in checked.problems if p.refuses), None)
        if refusal is not None:
            report.skip(location, refusal.message)
            return None
        for problem in checked.problems:
            consequence = f"; {problem.consequence}" if problem.consequence else ""
            report.add_issue(location, problem.message + consequence)
        title = checked.title
        project = self.job.project
        author = pseudonym(project, record.author)
        author = author[: narrative_service.AUTHOR_MAX] if author else author
        values = {key: [na, value] for key, (na, value) in checked.values.items()}
        attributes = checked.attributes
        external_id = record.external_id
        if self.plan.tallies or self.plan.groups:
            # Polis comment ids are only unique within one conversation
            if external_id:
                attributes["polis_comment_id"] = external_id
            group = self.plan.groups.get(record.author or "")
            if group:
                attributes["polis_group"] = group
            external_id = None
        at = record.occurred_at
        context = ""
        if self.meeting_id is not None:
            # A line is identified by its session, speaker, time and words; the same words
            # by the same person at the same time, said twice, are the 1st and 2nd line.
            position = str(attributes.get("time") or attributes.get("offset_seconds") or "")
            base = "\x1f".join([text, author or "", at.isoformat() if at else "", position])
            seen = self.occurrences.get(base, 0)
            self.occurrences[base] = seen + 1
            context = f"session:{self.meeting_id}:{position}:{seen}"
        key = narrative_service.dedupe_key(external_id, text, author, at, context=context)
        reason = self.low_content(record)
        return {
            "i": index,
            "loc": location,
            "text": text,
            "title": title,
            "external_id": external_id,
            "author": author,
            "at": at.isoformat() if at else None,
            "attributes": attributes,
            "values": values,
            "low": reason,
            "key": key,
            "reply": record.replies_to,
            "reactions": [
                [
                    pseudonym(project, r.author),
                    r.emoji[:_EMOJI_MAX],
                    self._reaction_time(location, r.occurred_at),
                ]
                for r in record.reactions
            ],
        }

    def _reaction_time(self, location: str, at: datetime | None) -> str | None:
        if at is None:
            return None
        if datetime_problem(at):
            self.report.add_issue(location, f"a reaction's time {OUT_OF_RANGE}; time not stored")
            return None
        return at.isoformat()


def _spool_chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            chunk.append(json.loads(line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def left_out_json(left_out: Counter[tuple[str, str]], shown: int = 20) -> dict[str, Any]:
    """How many stored rows are no answer or low content, by reason, and the commonest of
    their texts (the report's ``left_out``)."""
    reasons: Counter[str] = Counter()
    for (_, reason), n in left_out.items():
        reasons[reason] += n
    return {
        "count": sum(reasons.values()),
        "reasons": dict(reasons.most_common()),
        "strings": [
            {"text": text, "reason": reason, "count": n}
            for (text, reason), n in left_out.most_common(shown)
        ],
    }


def _report_json(
    report: ParseReport, stored: int, duplicates: int, left_out: Counter[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "format": report.format,
        "encoding": report.encoding,
        "records": report.records,
        "stored": stored,
        "duplicates": duplicates,
        "skipped": report.skipped,
        "private_messages": report.private_messages,
        "system_messages": report.system_messages,
        "deleted_messages": report.deleted_messages,
        "reactions": report.reactions,
        "unmatched_reactions": report.unmatched_reactions,
        "replies": report.replies,
        "low_content": report.low_content,
        "left_out": left_out_json(left_out),
        "issues": [{"location": i.location, "reason": i.reason} for i in report.issues],
        "issues_not_stored": report.issues_not_stored,
    }


def _mentions(project: Project, plan: IngestPlan) -> Callable[[str], str]:
    """How a text is stored: in a session whose authors are pseudonymised, with every
    participant's name in it replaced by their pseudonym (see `pipelines.ingest.mentions`)."""
    if project.keep_author_names or not plan.participants:
        return str
    return mentions_of(sorted(plan.participants), lambda name: pseudonym(project, name))


def spooled_texts(project: Project, plan: IngestPlan, spool: Path) -> Iterator[str]:
    """The texts `store` will store from `spool`, as it will store them."""
    unnamed = _mentions(project, plan)
    with open(spool, encoding="utf-8") as handle:
        for line in handle:
            yield unnamed(json.loads(line)["text"])


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def store(
    session: Session,
    job: IngestInput,
    plan: IngestPlan,
    spool: Path,
    chunk_size: int,
) -> dict[str, Any]:
    """Second pass: the spool into the store, in the caller's one transaction, so a file is
    stored whole or not at all; queues the embedding of what is new."""
    report = plan.report
    stored = duplicates = 0
    ids_by_index: dict[int, int] = {}
    replies: list[tuple[int, int]] = []
    left_out: Counter[tuple[str, str]] = Counter()
    comment_ids: dict[str, int] = {}
    embed_job: Job | None = None
    project = session.get_one(Project, job.project.id)
    if plan.definition is not None:
        signifier_service.declare(session, project, [declaration(s) for s in plan.definition])
    signifier_ids = {s.key: s.id for s in signifier_service.list_signifiers(session, project)}
    unnamed = _mentions(project, plan)
    for chunk in _spool_chunks(spool, chunk_size):
        for row in chunk:
            row["text"] = unnamed(row["text"])
        prepared = [
            narrative_service.PreparedNarrative(
                text=row["text"],
                dedupe_key=row["key"],
                title=row["title"],
                external_id=row["external_id"],
                author=row["author"],
                occurred_at=_parse_time(row["at"]),
                attributes=row["attributes"],
                values={signifier_ids[k]: (v[0], v[1]) for k, v in row["values"].items()},
                session_id=job.options.get("session_id"),
                low_content=bool(row["low"]),
                low_content_reason=row["low"] or None,
            )
            for row in chunk
        ]
        results = narrative_service.insert_chunk(session, project, job.source_id, prepared)
        reaction_rows: list[dict[str, Any]] = []
        for row, (narrative_id, created) in zip(chunk, results, strict=True):
            if plan.links:
                ids_by_index[row["i"]] = narrative_id
            comment = row["attributes"].get("polis_comment_id")
            if plan.tallies and comment:
                comment_ids[str(comment)] = narrative_id
            if not created:
                duplicates += 1
                report.add_issue(row["loc"], f"already stored as narrative {narrative_id}")
                continue
            stored += 1
            if row["low"]:
                left_out[(normalize(row["text"])[:80], row["low"])] += 1
            if row["reply"] is not None:
                replies.append((narrative_id, row["reply"]))
            reaction_rows.extend(
                {
                    "project_id": job.project.id,
                    "narrative_id": narrative_id,
                    "source_id": job.source_id,
                    "author": author,
                    "emoji": emoji,
                    "occurred_at": _parse_time(at),
                }
                for author, emoji, at in row["reactions"]
            )
        if reaction_rows:
            session.execute(insert(Reaction), reaction_rows)
    links = [
        {"id": nid, "replies_to_id": ids_by_index[target]}
        for nid, target in replies
        if target in ids_by_index and ids_by_index[target] != nid
    ]
    if links:
        # bulk UPDATE by primary key
        session.execute(update(Narrative), links)
    if plan.tallies and comment_ids:
        _store_tallies(session, plan.tallies, comment_ids)
    if stored:
        embed_job = jobs_service.enqueue(
            session, JobKind.embed, project_id=job.project.id, debounce=True
        )
    result = _report_json(report, stored, duplicates, left_out)
    session.execute(
        update(Source)
        .where(Source.id == job.source_id)
        .values(
            status=SourceStatus.stored,
            report=result,
            error=None,
            finished_at=utcnow(),
        )
    )
    return {
        "source_id": job.source_id,
        "session_id": job.options.get("session_id"),
        "embed_job_id": embed_job.id if embed_job else None,
        "report": result,
    }


def _store_tallies(
    session: Session, tallies: Mapping[str, Mapping[str, Any]], comment_ids: Mapping[str, int]
) -> None:
    """Vote tallies replace those stored for the same comments (a newer export counts)."""
    targets = {comment_ids[c] for c in tallies if c in comment_ids}
    ids = sorted(targets)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(VoteTally).where(VoteTally.narrative_id.in_(ids[start : start + 500]))
        )
    rows = [
        {"narrative_id": comment_ids[comment], "group_key": str(group)[:100], **counts}
        for comment, by_group in tallies.items()
        if comment in comment_ids
        for group, counts in by_group.items()
    ]
    if rows:
        session.execute(insert(VoteTally), rows)


def read(job: IngestInput, settings: Settings, spool: Path, progress: Progress) -> IngestPlan:
    """First pass, with no transaction open: parse and check every record, writing the rows
    to store into `spool` and each one refused to the plan's report."""
    missing = [role for role, path in job.files.items() if not path.is_file()]
    if missing:
        raise UnreadableFile(
            f"The uploaded file(s) {', '.join(missing)} are no longer on disk; post them again."
        )
    with _open_all(job.files) as opened:
        limits = Limits(
            settings.max_upload_bytes, settings.max_upload_rows, settings.max_text_length
        )
        plan = (
            plan_session(opened["file"], job.filenames["file"], job.options, limits)
            if job.kind == "session"
            else plan_upload(
                opened,
                job.filenames,
                job.options,
                [_spec_of(s) for s in job.signifiers.values()],
                limits,
            )
        )
        signifiers = dict(job.signifiers)
        if plan.definition is not None:
            signifiers.update({s.key: _transient_signifier(s) for s in plan.definition})
        checker = _Checker(job, plan, settings, signifiers)
        progress(0, plan.total)
        step = settings.ingest_chunk_size
        with open(spool, "w", encoding="utf-8") as out:
            read = 0
            for index, record in enumerate(plan.records):
                row = checker.row(index, record)
                if row is not None:
                    out.write(json.dumps(row, ensure_ascii=False, default=str))
                    out.write("\n")
                read += 1
                if read % step == 0:
                    progress(read)
        if plan.report.truncated:
            raise UnreadableFile(
                f"The file has more than {settings.max_upload_rows} rows, the limit per file "
                "(WEFT_MAX_UPLOAD_ROWS); nothing was stored. Split it into smaller files."
            )
        report = plan.report
        if read == 0 and not report.skipped:
            raise UnreadableFile(_nothing_to_read(report))
        progress(read, read)
    return plan


def _nothing_to_read(report: ParseReport) -> str:
    """Why a file with no record and no refused row fails, naming what it held instead."""
    left_out = [
        f"{count} {what}"
        for count, what in (
            (report.private_messages, "private message(s)"),
            (report.system_messages, "system message(s)"),
            (report.deleted_messages, "deleted message(s)"),
        )
        if count
    ]
    if not left_out:
        return "The file holds no narratives: no row or message with text."
    return (
        f"The file holds no narratives: only {', '.join(left_out)}, which are never stored; "
        "nothing was stored."
    )


@contextmanager
def _open_all(files: Mapping[str, Path]) -> Iterator[dict[str, BinaryIO]]:
    """Every file of a source opened for reading, closed together."""
    with ExitStack() as stack:
        yield {role: stack.enter_context(open(path, "rb")) for role, path in files.items()}
