"""Pieces shared by several schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    # a misspelt field is an error, not silently dropped
    model_config = ConfigDict(extra="forbid")


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
