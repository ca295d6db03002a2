"""Form fields of uploads and sessions, and what the API answers about them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, Json, field_validator
from pydantic_core import PydanticCustomError

from app.schemas.common import InputSchema, JobRead, Moment, Schema
from app.schemas.narratives import AttributeValue
from pipelines.ingest.guards import NON_FINITE, non_finite_at


def _zone(value: str | None) -> str | None:
    if value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use a name such as 'Europe/London'"
            ) from None
    return value


class ColumnMappingIn(InputSchema):
    """Which column feeds which narrative field; unnamed fields are inferred from headers."""

    text: str | None = Field(None, description="Column of the narrative text.")
    title: str | None = None
    id: str | None = Field(None, description="Column of your ids (re-posting does not duplicate).")
    time: str | None = Field(None, description="Column of the date or time.")
    author: str | None = None
    attributes: list[str] | None = Field(
        None, description="Group columns to keep; default: every column not used otherwise."
    )
    signifiers: dict[str, str] = Field(
        default_factory=dict, description="Column -> declared signifier key."
    )
    question: str | None = Field(
        None,
        description="Column of the question each answer replies to (e.g. 'FFT question'); "
        "an answer that only repeats it is left out of the themes. Inferred from a header "
        "such as 'question'; it stays a group field.",
    )


UploadFormat = Literal["auto", "csv", "tsv", "jsonl", "json", "xlsx", "sensemaker", "polis"]
SessionFormat = Literal["auto", "zoom_chat", "teams_json", "transcript"]


class UploadFields(InputSchema):
    """The form fields beside the file(s) of an upload."""

    format: UploadFormat = "auto"
    mapping: Json[ColumnMappingIn] | None = Field(
        None, description="JSON column mapping; inferred from the header when absent."
    )
    dayfirst: bool = Field(True, description="Read 03/04/2026 as 3 April.")
    timezone: str | None = Field(None, description="Zone of times written without one.")
    sheet: str | None = Field(None, max_length=200, description="XLSX: the sheet to read.")

    _check_zone = field_validator("timezone")(_zone)

    def options(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class SessionFields(InputSchema):
    """The form fields beside a session's chat export or transcript."""

    name: str = Field(min_length=1, max_length=300, description="The meeting's name.")
    held_on: date | None = Field(None, description="The meeting's date (Zoom chats hold clocks).")
    started_at: Moment | None = Field(
        None, description="When the recording started; anchors transcript times."
    )
    timezone: str = Field("UTC", description="Zone of the chat's clock times.")
    attributes: Json[dict[str, AttributeValue]] = Field(
        default_factory=dict,
        description='JSON object of group fields given to every line, e.g. {"group": "North"}.',
    )
    format: SessionFormat = "auto"

    _check_zone = field_validator("timezone")(_zone)

    @field_validator("attributes", mode="after")
    @classmethod
    def _finite(cls, value: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
        where = non_finite_at(value)
        if where is not None:
            raise PydanticCustomError(
                "non_finite", "attribute {key} {reason}", {"key": repr(where), "reason": NON_FINITE}
            )
        return value


StageName = Literal["parse", "store", "embed", "place"]
StageStatus = Literal["waiting", "running", "done", "skipped", "failed", "untracked"]
UploadStage = Literal["parse", "store", "embed", "place", "done", "failed"]


class StageProgress(Schema):
    """One step of the work an upload needs, whichever job or jobs do it."""

    name: StageName = Field(
        description="parse: records read from the file (rows or lines with text; the "
        "report counts those skipped); store: rows that reached the store "
        "(new and already stored), all in one transaction; embed: texts embedded by the "
        "project's embedding job; place: narratives placed into the latest analysis's themes."
    )
    status: StageStatus = Field(
        description="waiting, running, done, failed; skipped when there is nothing to do "
        "(nothing new to embed, or no analysis yet to place into: see `note`); untracked "
        "for a JSON batch, which its request stored (its answer names its embedding job)."
    )
    done: int | None = Field(description="Units done so far; null when not tracked.")
    total: int | None = Field(
        description="Units this stage has to do; null until known (parse: once the file has "
        "been read; store: once its one transaction has committed; embed: once the job starts; "
        "place: once the placing has run)."
    )
    job_ids: list[str] = Field(
        default_factory=list, description="The job(s) doing this stage (poll /v1/jobs/{id})."
    )
    note: str | None = Field(None, description="Why a stage was skipped or failed.")


class UploadProgress(Schema):
    """Where an upload is, from its source and the jobs doing its work.

    The embedding job is debounced: an upload stored while the project's embedding job is
    still queued joins that job instead of queueing another. That job embeds every text of
    the project the cache lacks when it starts and then places every new narrative, so the
    `embed` and `place` counts are that job's and cover each upload it serves (texts already
    embedded once, for this or another upload, are not counted again). They are done when
    that job has done them.
    """

    stage: UploadStage = Field(
        description="The first stage not yet done: parse, store, embed, place; done when all "
        "are done or skipped; failed when one failed (see `error`)."
    )
    error: str | None = Field(description="What went wrong, when `stage` is failed.")
    stages: list[StageProgress] = Field(description="parse, store, embed, place, in order.")
    placed_into_analysis_id: int | None = Field(
        None, description="The analysis whose themes the new narratives were placed into."
    )
    queued_analysis_id: int | None = Field(
        None,
        description="A full analysis the embedding job queued (the first one, or one now due).",
    )


class SourceRead(Schema):
    id: int
    kind: str
    filename: str | None
    sha256: str
    size_bytes: int
    status: str
    job_id: str | None
    error: str | None
    report: dict[str, Any] = Field(
        description="What the parse saw: counts, and each row or line not stored with why."
    )
    created_at: datetime
    finished_at: datetime | None
    progress: UploadProgress = Field(
        description="The stages of the work: parse, store, embed, place (see UploadProgress)."
    )


class MeetingRead(Schema):
    id: int
    name: str
    held_on: date | None
    attributes: dict[str, Any]
    source_id: int | None
    created_at: datetime


class UploadAccepted(Schema):
    source: SourceRead
    job: JobRead | None = Field(description="The parse job to poll at /v1/jobs/{id}.")
    duplicate: bool = Field(description="True when these bytes were posted before.")
    session: MeetingRead | None = None


def multipart_body(
    files: dict[str, str], fields: dict[str, str], required: list[str]
) -> dict[str, Any]:
    """OpenAPI for a multipart body read by hand (streamed to disk, not through FastAPI)."""
    properties: dict[str, Any] = {
        name: {"type": "string", "format": "binary", "description": text}
        for name, text in files.items()
    }
    properties.update(
        {name: {"type": "string", "description": text} for name, text in fields.items()}
    )
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        }
    }
