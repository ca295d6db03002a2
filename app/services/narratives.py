"""Storing batches of narratives (all or nothing, never twice) and listing them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import NotFound, UnprocessableEntity
from app.services import jobs as jobs_service
from app.services.authors import pseudonym
from app.services.embeddings import EMBED_JOB
from app.services.signifiers import InvalidValue, check_value, list_signifiers
from models import (
    Base,
    Job,
    Narrative,
    NarrativeAttribute,
    Project,
    Signifier,
    SignifierValue,
    Source,
)
from pipelines.embed import normalize_text, text_hash

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


def _attribute_text(value: Any) -> str:
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


def _check_items(
    items: Sequence[NarrativeInput], signifiers: dict[str, Signifier], settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-item checked signifier values, and every error found (index, field, message)."""
    errors: list[dict[str, Any]] = []
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not item.text.strip():
            errors.append({"index": index, "field": "text", "message": "text is empty"})
        elif len(item.text) > settings.max_text_length:
            errors.append(
                {
                    "index": index,
                    "field": "text",
                    "message": f"text has {len(item.text)} characters; "
                    f"the limit is {settings.max_text_length}",
                }
            )
        values: dict[str, Any] = {}
        for key, raw in item.signifiers.items():
            signifier = signifiers.get(key)
            if signifier is None:
                known = ", ".join(sorted(signifiers)) or "none declared"
                errors.append(
                    {
                        "index": index,
                        "field": f"signifiers.{key}",
                        "message": f"unknown signifier {key!r} (declared: {known}); "
                        "declare it with POST /v1/projects/{project}/signifiers first",
                    }
                )
                continue
            try:
                values[key] = check_value(signifier, raw)
            except InvalidValue as exc:
                errors.append({"index": index, "field": f"signifiers.{key}", "message": str(exc)})
        checked.append(values)
    return checked, errors


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


def store_batch(
    session: Session,
    project: Project,
    items: Sequence[NarrativeInput],
    settings: Settings,
    *,
    source: Source,
) -> StoreResult:
    """Check every item, then store the new ones with their attributes and signifier values.

    Any invalid item rejects the whole batch with all errors listed; items already stored
    (same external id, or same text + author + time) are returned, not stored again.
    """
    if len(items) > settings.max_batch_items:
        raise UnprocessableEntity(
            f"a batch holds at most {settings.max_batch_items} narratives; this one has "
            f"{len(items)}. Split it, or upload a file to /uploads."
        )
    signifiers = {s.key: s for s in list_signifiers(session, project)}
    checked, errors = _check_items(items, signifiers, settings)
    if errors:
        raise UnprocessableEntity(
            f"{len({e['index'] for e in errors})} of {len(items)} narratives are invalid; "
            "nothing was stored",
            errors=errors,
        )

    authors = [pseudonym(project, item.author) for item in items]
    moments = [_as_utc(item.occurred_at) for item in items]
    keys = [
        dedupe_key(item.external_id, item.text, author, at)
        for item, author, at in zip(items, authors, moments, strict=True)
    ]
    ids_by_key = existing_ids(session, project, keys)

    new_rows: list[dict[str, Any]] = []
    new_indexes: list[int] = []
    for index, (item, author, at, key) in enumerate(
        zip(items, authors, moments, keys, strict=True)
    ):
        if key in ids_by_key:
            continue
        ids_by_key[key] = -1  # claimed by this batch; the real id comes from the insert
        new_indexes.append(index)
        new_rows.append(
            {
                "project_id": project.id,
                "source_id": source.id,
                "session_id": item.session_id,
                "external_id": item.external_id,
                "title": item.title,
                "text": item.text,
                "author": author,
                "occurred_at": at,
                "attributes": item.attributes,
                "text_hash": text_hash(item.text),
                "dedupe_key": key,
                "low_content": item.low_content,
            }
        )

    if new_rows:
        new_ids = session.scalars(
            insert(Narrative).returning(Narrative.id, sort_by_parameter_order=True), new_rows
        ).all()
        attribute_rows: list[dict[str, Any]] = []
        value_rows: list[dict[str, Any]] = []
        for index, narrative_id, row in zip(new_indexes, new_ids, new_rows, strict=True):
            ids_by_key[row["dedupe_key"]] = narrative_id
            for attr_key, attr_value in items[index].attributes.items():
                if attr_value is not None:
                    attribute_rows.append(
                        {
                            "narrative_id": narrative_id,
                            "project_id": project.id,
                            "key": attr_key,
                            "value": _attribute_text(attr_value),
                        }
                    )
            for sig_key, (not_applicable, value) in checked[index].items():
                value_rows.append(
                    {
                        "narrative_id": narrative_id,
                        "signifier_id": signifiers[sig_key].id,
                        "not_applicable": not_applicable,
                        "value": value,
                    }
                )
        if attribute_rows:
            session.execute(insert(NarrativeAttribute), attribute_rows)
        if value_rows:
            session.execute(insert(SignifierValue), value_rows)

    job = None
    if new_rows:
        job = jobs_service.enqueue(session, EMBED_JOB, project_id=project.id, debounce=True)
    session.flush()
    return StoreResult(
        source=source,
        narrative_ids=[ids_by_key[k] for k in keys],
        created=len(new_rows),
        duplicates=len(items) - len(new_rows),
        job=job,
    )


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


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


#: Longest attribute key and value the group-filter index holds; longer ones stay in the
#: narrative's attributes JSON only.
_ATTRIBUTE_KEY_MAX, _ATTRIBUTE_VALUE_MAX = 100, 500


def insert_chunk(
    session: Session, project: Project, source_id: int, items: Sequence[PreparedNarrative]
) -> list[tuple[int, bool]]:
    """Insert the new narratives of a chunk with Core inserts; (id, created) per item.

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
            for key, value in item.attributes.items():
                text = _attribute_text(value)
                if value is None or len(key) > _ATTRIBUTE_KEY_MAX:
                    continue
                if len(text) <= _ATTRIBUTE_VALUE_MAX:
                    attribute_rows.append(
                        {
                            "narrative_id": narrative_id,
                            "project_id": project.id,
                            "key": key,
                            "value": text,
                        }
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


def list_page(
    session: Session, project: Project, flt: NarrativeFilter, limit: int, offset: int
) -> tuple[int, list[Narrative]]:
    query = filtered(project, flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Narrative.id).limit(limit).offset(offset)).all()
    return total, list(page)


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
