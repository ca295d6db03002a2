"""Query parameters shared by every route that narrows narratives to a group, session or time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from app.errors import UnprocessableEntity
from app.services.narratives import NarrativeFilter


def attribute_pairs(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, wanted = value.partition(":")
        if not sep or not key:
            raise UnprocessableEntity(
                f"attribute filter {value!r} must look like 'key:value', e.g. 'role:nurse'"
            )
        pairs.append((key, wanted))
    return pairs


def narrative_filter(
    attribute: Annotated[
        list[str], Query(description="key:value, repeatable; all must match (e.g. role:nurse)")
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    source_id: Annotated[int | None, Query(description="narratives of one upload")] = None,
    session_id: Annotated[int | None, Query(description="narratives of one session")] = None,
    since: Annotated[datetime | None, Query(description="occurred at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="occurred before (ISO 8601)")] = None,
) -> NarrativeFilter:
    return NarrativeFilter(
        attributes=attribute_pairs(attribute),
        source_id=source_id,
        session_id=session_id,
        since=since,
        until=until,
    )


FilterDep = Annotated[NarrativeFilter, Depends(narrative_filter)]
