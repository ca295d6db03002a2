"""Taking data out: deletion summaries, finding a participant's stories, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from app.schemas.common import InputSchema, Schema


class DeletionSummary(Schema):
    """What one deletion removed; the same counts are kept in the project's audit trail."""

    action: str = Field(description="narrative, upload, session, withdrawal or project")
    target: str | None = Field(
        None, description="The id deleted, or what a withdrawal searched by (never its value)."
    )
    narratives: int = Field(description="Narratives deleted, with their values and placements.")
    sources: int = Field(description="Uploads (sources) deleted.")
    sessions: int = Field(description="Sessions (meetings) deleted.")
    files: int = Field(description="Raw files removed from the data directory.")
    reactions: int = Field(description="Reactions deleted (a withdrawal's own, a chat's).")
    embeddings: int = Field(
        description="Cached embeddings dropped (no other narrative had the text)."
    )
    analyses_revised: int = Field(description="Analyses whose themes and signals were revised.")
    themes_redescribed: int = Field(
        description="Themes and sub-themes described again from their remaining members."
    )
    audit_id: int = Field(description="The audit record of this deletion.")


class WithdrawalQuery(InputSchema):
    """Exactly one of `author` (the name as the participant knows it) or `external_id`."""

    author: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The author's name as given in the uploads; pseudonymised on the server, "
        "never stored or logged.",
    )
    external_id: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.author is None) == (self.external_id is None):
            raise ValueError("give exactly one of 'author' or 'external_id'")
        return self


class WithdrawalMatch(Schema):
    id: int
    external_id: str | None
    title: str | None
    occurred_at: datetime | None
    created_at: datetime
    source_id: int | None
    source_filename: str | None = Field(None, description="The upload's file name, if any.")
    session_id: int | None


class WithdrawalMatches(Schema):
    total: int = Field(description="Every matching narrative (the list shows up to 1,000).")
    reactions: int = Field(description="Reactions the author gave (by author only).")
    narratives: list[WithdrawalMatch]


class AuditRead(Schema):
    id: int
    action: str
    target: str | None
    narratives: int
    sources: int
    sessions: int
    files: int
    reactions: int
    key_id: str | None
    key_name: str | None
    created_at: datetime
