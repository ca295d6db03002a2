"""Pieces shared by several schemas: base models, the bounded ids and dates the API takes,
the job and page shapes, and the problem every error answers with."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationInfo
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticCustomError

from pipelines.ingest.guards import OUT_OF_RANGE, datetime_problem

T = TypeVar("T")

#: Largest integer a database column holds (a signed 64-bit integer); a larger one is a
#: mistake, refused with 422 before it reaches the database.
DB_INT_MAX = 2**63 - 1

#: Bounds of a row id (ids start at 1) and of a page offset.
ID_RANGE = Interval(ge=1, le=DB_INT_MAX)
OFFSET_RANGE = Interval(ge=0, le=DB_INT_MAX)

#: A row id in a path or query (a plain integer there is text, so it is read as one).
RowId = Annotated[int, ID_RANGE]

#: A row id in a JSON body: a JSON integer (not "12", not true), within the id range.
BodyId = Annotated[StrictInt, ID_RANGE]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    # a misspelt field is an error, not silently dropped; NaN and Infinity are no numbers
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _written_moment(value: Any) -> Any:
    # pydantic reads numbers (and strings of digits) as Unix times: 0 or "2026" would
    # silently become a moment of 1970; a date is written in ISO 8601
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise PydanticCustomError(
            "datetime_written",
            "write the date or time in ISO 8601, e.g. 2026-03-02 or 2026-03-02T09:30:00Z, "
            "not as a number",
        )
    return value


def _kept_moment(value: datetime, info: ValidationInfo) -> datetime:
    if datetime_problem(value):
        name = info.field_name or "the date"
        raise PydanticCustomError(
            "datetime_range",
            "{field} {reason}",
            {
                "field": name,
                "reason": OUT_OF_RANGE,
            },
        )
    return value


#: A date or time the API takes: ISO 8601 text (no Unix numbers), within the years Weft keeps.
Moment = Annotated[datetime, BeforeValidator(_written_moment), AfterValidator(_kept_moment)]


class Page(Schema, Generic[T]):
    total: int
    limit: int
    offset: int
    items: list[T]


class JobRead(Schema):
    id: str
    kind: str
    status: str
    progress_done: int
    progress_total: int | None
    error: str | None
    result: dict[str, object] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ProblemError(BaseModel):
    """One thing wrong with the request, where it is."""

    index: int | None = Field(None, description="The item of a batch, counted from 0.")
    field: str = Field(description="Dotted path of the field ('' for the body itself).")
    message: str


class Problem(BaseModel):
    """Every error answer (RFC 9457, `application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="Always about:blank; `title` names the error.")
    title: str = Field(description="The kind of error, e.g. 'Invalid input'.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong and what to change.")
    errors: list[ProblemError] | None = Field(
        None, description="Invalid input: each problem found, with its location."
    )
