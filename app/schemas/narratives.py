from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from app.schemas.common import BodyId, InputSchema, JobRead, Moment, Schema
from pipelines.ingest.guards import NON_FINITE, TOO_DEEP, nesting_depth_over, non_finite_at

#: A group field's value. NaN and Infinity pass this type so that the field's own check
#: refuses them in one message (the union would give one complaint per type).
AttributeValue = str | int | Annotated[float, Field(allow_inf_nan=True)] | bool | None


class NarrativeCreate(InputSchema):
    text: str = Field(min_length=1, description="The story, message or turn.")
    title: str | None = Field(None, max_length=500)
    external_id: str | None = Field(
        None, max_length=200, description="Your id; posting it again does not duplicate."
    )
    author: str | None = Field(
        None, max_length=200, description="Pseudonymised unless the project keeps names."
    )
    occurred_at: Moment | None = Field(
        None, description="ISO 8601 text, 1900 to 2100; no offset means UTC."
    )
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="Group fields: organisation, role, site, ..."
    )
    signifiers: dict[str, Any] = Field(
        default_factory=dict,
        description="Values by signifier key; null means 'not applicable'.",
    )
    session_id: BodyId | None = Field(
        None, description="A session of this project (GET /sessions) the narrative belongs to."
    )

    @field_validator("attributes", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        # before the union of value types, which would list one complaint per type
        if isinstance(value, dict):
            for key, item in value.items():
                if non_finite_at(item) is not None:
                    raise PydanticCustomError(
                        "non_finite",
                        "attribute {key} {reason}",
                        {"key": repr(key), "reason": NON_FINITE},
                    )
        return value

    @field_validator("signifiers", mode="after")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        # refused here, before anything walks the values recursively (hashing, storing)
        if nesting_depth_over(value):
            raise PydanticCustomError("too_deep", "signifiers {reason}", {"reason": TOO_DEEP})
        return value


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
    low_content_reason: str | None = Field(
        None,
        description="Why it is left out of the themes: 'pleasantry', 'placeholder', "
        "'repeats the question', 'project placeholder', 'no words', 'form default text'.",
    )
    created_at: datetime
