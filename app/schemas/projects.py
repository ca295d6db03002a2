from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from app.schemas.common import InputSchema, Schema
from models import Scope


class ProjectCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    keep_author_names: StrictBool = Field(
        False, description="Store authors' names as given instead of stable pseudonyms."
    )
    keep_chat_files: StrictBool = Field(
        False,
        description="Keep each session's chat export or transcript after it is parsed, as a "
        "copy with every private message removed; by default it is deleted once parsed.",
    )
    placeholders: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=200,
        description="The project's own 'no answer' strings (a form's default text, "
        "'keine Angabe'): answers equal to one, ignoring case and end punctuation, are stored "
        "but left out of the themes, like 'Did not answer' or 'N/A'.",
    )


class ProjectRead(Schema):
    id: str
    name: str
    description: str
    keep_author_names: bool
    keep_chat_files: bool
    placeholders: list[str] = Field(default_factory=list)
    created_at: datetime


class KeyCreate(InputSchema):
    scope: Scope = Field(description="read (dashboards), write (uploads) or admin.")
    name: str = Field("", max_length=200)


class KeyRead(Schema):
    id: str
    scope: Scope
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(KeyRead):
    key: str = Field(description="The secret; shown once and never again.")


class ProjectCreated(ProjectRead):
    admin_key: KeyIssued
