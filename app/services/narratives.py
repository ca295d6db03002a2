"""Storing batches of narratives (all or nothing, never twice) and listing them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import NotFound, UnprocessableEntity
from app.jobs.kinds import JobKind
from app.schemas.common import DB_INT_MAX, JobRead, Page
from app.schemas.narratives import BatchStored, NarrativeBatch, NarrativeRead
from app.services import jobs as jobs_service
from app.services.authors import pseudonym
from app.services.signifiers import InvalidValue, check_value, list_signifiers
from models import (
    Base,
    Job,
    MeetingSession,
    Narrative,
    NarrativeAttribute,
    Project,
    Signifier,
    SignifierValue,
    Source,
)
from pipelines.embed import normalize_text, text_hash
from pipelines.ingest.guards import (
    INVISIBLE_TEXT,
    NON_FINITE,
    datetime_problem,
    is_invisible,
    non_finite_at,
)
from pipelines.nonresponse import nonresponse_reason

_IN_CHUNK = 500


@dataclass
class NarrativeInput:
    """One narrative as received, before checks."""

    text: str
    title: str | None = None
    external_id: str | None = None
    author: str | None = None
    occurred_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    signifiers: dict[str, Any] = field(default_factory=dict)
    session_id: int | None = None
    low_content: bool = False


@dataclass
class StoreResult:
    source: Source
    narrative_ids: list[int]
    created: int
    duplicates: int
    job: Job | None


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dedupe_key(
    external_id: str | None,
    text: str,
    author: str | None,
    at: datetime | None,
    context: str = "",
) -> str:
    """The external id when given, else a hash of text, author and time (and `context`,
    which tells apart lines that carry no time, such as the chat lines of one session)."""
    if external_id:
        return "id:" + hashlib.sha256(external_id.encode("utf-8")).hexdigest()
    moment = at.isoformat() if at else ""
    parts = [normalize_text(text), author or "", moment]
    if context:
        parts.append(context)
    material = "\x1f".join(parts)
    return "h:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def attribute_text(value: Any) -> str:
    """An attribute value as the group-filter index holds it."""
    return value if isinstance(value, str) else json.dumps(value)


def get_or_create_source(
    session: Session, project: Project, *, kind: str, sha256: str, **fields: Any
) -> Source:
    """The project's source with this content hash, created if new: re-posting is idempotent."""
    source = session.scalars(
        select(Source).where(Source.project_id == project.id, Source.sha256 == sha256)
    ).first()
    if source is None:
        source = Source(project_id=project.id, kind=kind, sha256=sha256, **fields)
        session.add(source)
        session.flush()
    return source


#: Longest values the columns hold (narratives.title, .external_id, .author; the
#: narrative_attributes key and value that group filters and statistics read).
TITLE_MAX, EXTERNAL_ID_MAX, AUTHOR_MAX = 500, 200, 200
ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX = 100, 500


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a narrative: `field` names it (``text``, ``attributes.role``)."""

    field: str
    message: str
    #: True: the narrative cannot be stored at all; False: only this field is left out
    refuses: bool
    #: what a file's report adds to the message when the row is stored without the field
    consequence: str = "not stored"


@dataclass
class Checked:
    """A narrative after the checks: what can be stored of it, and every problem found."""

    title: str | None
    attributes: dict[str, Any]
    #: signifier key -> (not applicable?, normalised value)
    values: dict[str, tuple[bool, Any]]
    problems: list[Problem]

    @property
    def refused(self) -> bool:
        return any(p.refuses for p in self.problems)


def check(item: NarrativeInput, signifiers: Mapping[str, Signifier], max_text: int) -> Checked:
    """The one set of rules every narrative passes, from a JSON batch or from a file: text
    present and within `max_text`, id, title and attributes within their columns, signifier
    values declared and valid. A JSON batch refuses any problem; a file row is skipped for
    the refusing ones and stored without the field for the others."""
    problems: list[Problem] = []
    if not item.text.strip():
        problems.append(Problem("text", "empty text", refuses=True))
    elif is_invisible(item.text):
        problems.append(Problem("text", f"text {INVISIBLE_TEXT}", refuses=True))
    elif len(item.text) > max_text:
        message = (
            f"text of {len(item.text)} characters is over the limit of {max_text} (the limit "
            f"is {max_text} characters, set by WEFT_MAX_TEXT_LENGTH); split it"
        )
        problems.append(Problem("text", message, refuses=True))
    if item.external_id and len(item.external_id) > EXTERNAL_ID_MAX:
        message = f"id longer than {EXTERNAL_ID_MAX} characters"
        problems.append(Problem("external_id", message, refuses=True))
    if item.author and len(normalize_text(item.author)) > AUTHOR_MAX:
        message = f"author name cut to {AUTHOR_MAX} characters"
        problems.append(Problem("author", message, refuses=False, consequence=""))
    if item.occurred_at is not None and (reason := datetime_problem(item.occurred_at)):
        problems.append(Problem("occurred_at", f"occurred_at {reason}", refuses=True))
    title = item.title
    if title and len(title) > TITLE_MAX:
        problems.append(Problem("title", f"title longer than {TITLE_MAX} characters", False))
        title = None
    attributes: dict[str, Any] = {}
    for key, value in item.attributes.items():
        if len(key) > ATTRIBUTE_KEY_MAX:
            message = f"attribute name longer than {ATTRIBUTE_KEY_MAX} characters"
            problems.append(Problem(f"attributes.{key[:40]}…", message, refuses=False))
        elif non_finite_at(value) is not None:
            message = f"attribute {key!r} {NON_FINITE}"
            problems.append(Problem(f"attributes.{key}", message, refuses=False))
        elif value is not None and len(attribute_text(value)) > ATTRIBUTE_VALUE_MAX:
            message = f"attribute {key!r} is longer than {ATTRIBUTE_VALUE_MAX} characters"
            problems.append(Problem(f"attributes.{key}", message, refuses=False))
        else:
            attributes[key] = value
    values: dict[str, tuple[bool, Any]] = {}
    for key, raw in item.signifiers.items():
        signifier = signifiers.get(key)
        if signifier is None:
            known = ", ".join(sorted(signifiers)) or "none declared"
            message = (
                f"signifier {key!r} is not declared (declared: {known}); declare it with "
                "POST /v1/projects/{project}/signifiers first"
            )
            problems.append(Problem(f"signifiers.{key}", message, refuses=False))
            continue
        where = non_finite_at(raw, key)
        if where is not None:
            message = f"signifier {where!r} {NON_FINITE}"
            problems.append(Problem(f"signifiers.{key}", message, refuses=False))
            continue
        try:
            values[key] = check_value(signifier, raw)
        except InvalidValue as exc:
            problems.append(Problem(f"signifiers.{key}", f"signifier {key!r}: {exc}", False))
    return Checked(title=title, attributes=attributes, values=values, problems=problems)


def existing_ids(session: Session, project: Project, keys: Iterable[str]) -> dict[str, int]:
    """Ids of the project's narratives with these dedupe keys, by key."""
    found: dict[str, int] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        rows = session.execute(
            select(Narrative.dedupe_key, Narrative.id).where(
                Narrative.project_id == project.id, Narrative.dedupe_key.in_(chunk)
            )
        )
        found.update((key, narrative_id) for key, narrative_id in rows)
    return found


def post_batch(
    session: Session, project: Project, body: NarrativeBatch, settings: Settings
) -> BatchStored:
    """A posted JSON batch: its source (hashed over the validated batch, so re-posting it
    returns the same source) and its narratives, stored all or nothing."""
    canonical = body.model_dump_json().encode("utf-8")
    source = get_or_create_source(
        session,
        project,
        kind="json",
        sha256=hashlib.sha256(canonical).hexdigest(),
        size_bytes=len(canonical),
    )
    items = [NarrativeInput(**n.model_dump()) for n in body.narratives]
    result = store_batch(session, project, items, settings, source=source)
    return BatchStored(
        source_id=result.source.id,
        received=len(items),
        created=result.created,
        duplicates=result.duplicates,
        narrative_ids=result.narrative_ids,
        job=JobRead.model_validate(result.job) if result.job else None,
    )


def store_batch(
    session: Session,
    project: Project,
    items: Sequence[NarrativeInput],
    settings: Settings,
    *,
    source: Source,
) -> StoreResult:
    """Check every item, then store the new ones with their attributes and signifier values.

    Any problem with any item rejects the whole batch with all problems listed (index and
    field); items already stored (same external id, or same text + author + time) are
    returned, not stored again.
    """
    if len(items) > settings.max_batch_items:
        raise UnprocessableEntity(
            f"a batch holds at most {settings.max_batch_items} narratives; this one has "
            f"{len(items)}. Split it, or upload a file to /uploads."
        )
    signifiers = {s.key: s for s in list_signifiers(session, project)}
    checked = [check(item, signifiers, settings.max_text_length) for item in items]
    errors: list[dict[str, Any]] = [
        {"index": index, "field": problem.field, "message": problem.message}
        for index, result in enumerate(checked)
        for problem in result.problems
    ]
    errors.extend(_unknown_sessions(session, project, items))
    errors.sort(key=lambda e: e["index"])
    if errors:
        first = errors[0]
        raise UnprocessableEntity(
            f"{len({e['index'] for e in errors})} of {len(items)} narratives are invalid; "
            f"nothing was stored (first: item {first['index']}, {first['message']})",
            errors=errors,
        )
    prepared = [
        prepare(project, item, result, {k: s.id for k, s in signifiers.items()})
        for item, result in zip(items, checked, strict=True)
    ]
    results = insert_chunk(session, project, source.id, prepared)
    created = sum(1 for _, new in results if new)
    job = None
    if created:
        job = jobs_service.enqueue(session, JobKind.embed, project_id=project.id, debounce=True)
    session.flush()
    return StoreResult(
        source=source,
        narrative_ids=[narrative_id for narrative_id, _ in results],
        created=created,
        duplicates=len(items) - created,
        job=job,
    )


def _unknown_sessions(
    session: Session, project: Project, items: Sequence[NarrativeInput]
) -> list[dict[str, Any]]:
    """An error for each item naming a session that is not one of the project's; a session
    of another project reads as missing, so its ids cannot be probed."""
    wanted = {item.session_id for item in items if item.session_id is not None}
    if not wanted:
        return []
    known: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), _IN_CHUNK):
        known.update(
            session.scalars(
                select(MeetingSession.id).where(
                    MeetingSession.project_id == project.id,
                    MeetingSession.id.in_(ordered[start : start + _IN_CHUNK]),
                )
            )
        )
    return [
        {
            "index": index,
            "field": "session_id",
            "message": f"session {item.session_id} is not a session of this project "
            "(GET /v1/projects/{project}/sessions lists them)",
        }
        for index, item in enumerate(items)
        if item.session_id is not None and item.session_id not in known
    ]


@dataclass
class PreparedNarrative:
    """A checked narrative, ready for insertion: author pseudonymised, time in UTC,
    signifier values as (not applicable?, value) by signifier id."""

    text: str
    dedupe_key: str
    title: str | None = None
    external_id: str | None = None
    author: str | None = None
    occurred_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    values: dict[int, tuple[bool, Any]] = field(default_factory=dict)
    session_id: int | None = None
    low_content: bool = False
    #: why it is left out of the themes (pipelines.nonresponse), when it is
    low_content_reason: str | None = None


def prepare(
    project: Project,
    item: NarrativeInput,
    checked: Checked,
    signifier_ids: Mapping[str, int],
    context: str = "",
) -> PreparedNarrative:
    """A checked narrative ready to insert: author pseudonymised, its dedupe key computed.
    `context` tells apart lines that carry no time (see `dedupe_key`)."""
    author = pseudonym(project, item.author)
    author = author[:AUTHOR_MAX] if author else author
    at = _as_utc(item.occurred_at)
    reason = nonresponse_reason(item.text, None, project.placeholders or ())
    return PreparedNarrative(
        text=item.text,
        dedupe_key=dedupe_key(item.external_id, item.text, author, at, context=context),
        title=checked.title,
        external_id=item.external_id,
        author=author,
        occurred_at=at,
        attributes=checked.attributes,
        values={signifier_ids[k]: v for k, v in checked.values.items()},
        session_id=item.session_id,
        low_content=item.low_content or reason is not None,
        low_content_reason=reason,
    )


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_chunk(
    session: Session, project: Project, source_id: int, items: Sequence[PreparedNarrative]
) -> list[tuple[int, bool]]:
    """Insert the new narratives of a chunk with Core inserts; (id, created) per item. The one
    insert path of JSON batches and files; items have passed `check` and `prepare`.

    Items whose dedupe key is already stored, earlier in this transaction included, get
    the stored id and are not inserted. The caller owns the transaction, so a file stored
    chunk by chunk is still stored all or nothing.
    """
    ids_by_key = existing_ids(session, project, (item.dedupe_key for item in items))
    new_rows: list[dict[str, Any]] = []
    new_items: list[PreparedNarrative] = []
    for item in items:
        if item.dedupe_key in ids_by_key:
            continue
        ids_by_key[item.dedupe_key] = -1  # claimed here; the real id comes from the insert
        new_items.append(item)
        new_rows.append(
            {
                "project_id": project.id,
                "source_id": source_id,
                "session_id": item.session_id,
                "external_id": item.external_id,
                "title": item.title,
                "text": item.text,
                "author": item.author,
                "occurred_at": _as_utc(item.occurred_at),
                "attributes": item.attributes,
                "text_hash": text_hash(item.text),
                "dedupe_key": item.dedupe_key,
                "low_content": item.low_content,
                "low_content_reason": item.low_content_reason,
            }
        )
    created: set[str] = set()
    if new_rows:
        # Core insert, RETURNING in batches: rows come back in any order, so they are matched
        # by their (unique) dedupe key rather than by position
        returned = session.execute(
            insert(_table(Narrative)).returning(
                _table(Narrative).c.dedupe_key, _table(Narrative).c.id
            ),
            new_rows,
        )
        new_id_by_key = {key: narrative_id for key, narrative_id in returned}
        new_ids = [new_id_by_key[item.dedupe_key] for item in new_items]
        attribute_rows: list[dict[str, Any]] = []
        value_rows: list[dict[str, Any]] = []
        for item, narrative_id in zip(new_items, new_ids, strict=True):
            ids_by_key[item.dedupe_key] = narrative_id
            created.add(item.dedupe_key)
            attribute_rows.extend(
                {
                    "narrative_id": narrative_id,
                    "project_id": project.id,
                    "key": key,
                    "value": attribute_text(value),
                }
                for key, value in item.attributes.items()
                if value is not None
            )
            for signifier_id, (not_applicable, value) in item.values.items():
                value_rows.append(
                    {
                        "narrative_id": narrative_id,
                        "signifier_id": signifier_id,
                        "not_applicable": not_applicable,
                        "value": value,
                    }
                )
        if attribute_rows:
            session.execute(insert(_table(NarrativeAttribute)), attribute_rows)
        if value_rows:
            session.execute(insert(_table(SignifierValue)), value_rows)
    result: list[tuple[int, bool]] = []
    for item in items:
        first = item.dedupe_key in created
        # a key repeated inside the chunk is created once, then a duplicate
        result.append((ids_by_key[item.dedupe_key], first))
        created.discard(item.dedupe_key)
    return result


@dataclass
class NarrativeFilter:
    attributes: list[tuple[str, str]] = field(default_factory=list)
    source_id: int | None = None
    session_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        # the routes bound these already; a filter built from other input (a dashboard form)
        # must not reach the database with an id no column holds or a date out of range
        for name in ("source_id", "session_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= DB_INT_MAX:
                raise UnprocessableEntity(f"{name} {value} is not an id Weft gives out")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and (reason := datetime_problem(moment)):
                raise UnprocessableEntity(f"{name} {reason}")

    @property
    def active(self) -> bool:
        """Whether any filter narrows the narratives."""
        return bool(
            self.attributes or self.source_id or self.session_id or self.since or self.until
        )


def filtered(project: Project, flt: NarrativeFilter) -> Select[Narrative]:
    """Narratives of the project that pass every filter."""
    query = select(Narrative).where(Narrative.project_id == project.id)
    for key, value in flt.attributes:
        query = query.where(
            select(NarrativeAttribute.narrative_id)
            .where(
                NarrativeAttribute.project_id == project.id,
                NarrativeAttribute.key == key,
                NarrativeAttribute.value == value,
                NarrativeAttribute.narrative_id == Narrative.id,
            )
            .exists()
        )
    if flt.source_id is not None:
        query = query.where(Narrative.source_id == flt.source_id)
    if flt.session_id is not None:
        query = query.where(Narrative.session_id == flt.session_id)
    if flt.since is not None:
        query = query.where(Narrative.occurred_at >= _as_utc(flt.since))
    if flt.until is not None:
        query = query.where(Narrative.occurred_at < _as_utc(flt.until))
    return query


def attribute_keys(session: Session, project: Project) -> list[str]:
    """The attribute keys the project's narratives carry, in alphabetical order."""
    return list(
        session.scalars(
            select(NarrativeAttribute.key)
            .where(NarrativeAttribute.project_id == project.id)
            .distinct()
            .order_by(NarrativeAttribute.key)
        )
    )


def list_page(
    session: Session, project: Project, flt: NarrativeFilter, limit: int, offset: int
) -> Page[NarrativeRead]:
    """A page of the narratives that pass the filters, oldest first, with their total."""
    query = filtered(project, flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Narrative.id).limit(limit).offset(offset)).all()
    return Page[NarrativeRead](
        total=total, limit=limit, offset=offset, items=_with_signifiers(session, list(rows))
    )


def read(session: Session, project: Project, narrative_id: int) -> NarrativeRead:
    """One narrative with its signifier values."""
    return _with_signifiers(session, [get(session, project, narrative_id)])[0]


def _with_signifiers(session: Session, rows: list[Narrative]) -> list[NarrativeRead]:
    values = signifier_values(session, [n.id for n in rows])
    return [
        NarrativeRead.model_validate(n).model_copy(update={"signifiers": values[n.id]})
        for n in rows
    ]


def signifier_values(session: Session, narrative_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Signifier values of the given narratives, by narrative id then signifier key."""
    values: dict[int, dict[str, Any]] = {i: {} for i in narrative_ids}
    for start in range(0, len(narrative_ids), _IN_CHUNK):
        chunk = narrative_ids[start : start + _IN_CHUNK]
        rows = session.execute(
            select(SignifierValue.narrative_id, Signifier.key, SignifierValue.value)
            .join(Signifier, Signifier.id == SignifierValue.signifier_id)
            .where(SignifierValue.narrative_id.in_(chunk))
        )
        for narrative_id, key, value in rows:
            values[narrative_id][key] = value
    return values


def get(session: Session, project: Project, narrative_id: int) -> Narrative:
    narrative = session.get(Narrative, narrative_id)
    if narrative is None or narrative.project_id != project.id:
        raise NotFound(f"narrative {narrative_id} not found")
    return narrative
