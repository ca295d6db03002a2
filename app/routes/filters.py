"""Query parameters shared by every route that narrows narratives to a group, session or time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from app.errors import UnprocessableEntity
from app.schemas.common import ID_RANGE, OFFSET_RANGE, Moment
from app.services.narratives import NarrativeFilter

#: A row id in a path (a narrative, upload, session or analysis): 1 to 2^63-1, else 422.
IdPath = Annotated[int, ID_RANGE, Path(description="The id, as the API gave it.")]
#: A page offset: 0 to 2^63-1.
OffsetQuery = Annotated[int, OFFSET_RANGE, Query(description="Items to skip.")]


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


async def narrative_filter(
    attribute: Annotated[
        list[str],
        Query(
            description="key:value, repeatable; all must match (e.g. role:nurse)",
            json_schema_extra={"items": {"type": "string", "pattern": "^[^:]+:"}},
        ),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    source_id: Annotated[
        int | None, ID_RANGE, Query(description="narratives of one upload")
    ] = None,
    session_id: Annotated[
        int | None, ID_RANGE, Query(description="narratives of one session")
    ] = None,
    since: Annotated[Moment | None, Query(description="occurred at or after (ISO 8601)")] = None,
    until: Annotated[Moment | None, Query(description="occurred before (ISO 8601)")] = None,
) -> NarrativeFilter:
    # async: a pure parse, run on the event loop instead of a worker thread
    return NarrativeFilter(
        attributes=attribute_pairs(attribute),
        source_id=source_id,
        session_id=session_id,
        since=since,
        until=until,
    )


FilterDep = Annotated[NarrativeFilter, Depends(narrative_filter)]
