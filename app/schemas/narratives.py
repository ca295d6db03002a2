from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import InputSchema, JobRead, Schema

AttributeValue = str | int | float | bool | None


class NarrativeCreate(InputSchema):
    text: str = Field(min_length=1, description="The story, message or turn.")
    title: str | None = Field(None, max_length=500)
    external_id: str | None = Field(
        None, max_length=200, description="Your id; posting it again does not duplicate."
    )
    author: str | None = Field(
        None, max_length=200, description="Pseudonymised unless the project keeps names."
    )
    occurred_at: datetime | None = Field(None, description="ISO 8601; no offset means UTC.")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Group fields: organisation, role, site, ..."
    )
    signifiers: dict[str, Any] = Field(
        default_factory=dict,
        description="Values by signifier key; null means 'not applicable'.",
    )
    session_id: int | None = None


class NarrativeBatch(InputSchema):
    narratives: list[NarrativeCreate] = Field(min_length=1)


class BatchStored(Schema):
    source_id: int
    received: int
    created: int
    duplicates: int
    narrative_ids: list[int] = Field(description="One id per item, in order; duplicates too.")
    job: JobRead | None = Field(None, description="The embedding job queued for the new ones.")


class NarrativeRead(Schema):
    id: int
    external_id: str | None
    title: str | None
    text: str
    author: str | None
    occurred_at: datetime | None
    attributes: dict[str, Any]
    signifiers: dict[str, Any] = Field(default_factory=dict)
    source_id: int | None
    session_id: int | None
    replies_to_id: int | None = Field(None, description="The chat message this one answers.")
    low_content: bool
    created_at: datetime
