"""Curation: the edits a convenor makes to themes, and the curated view of themes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints, model_validator

from app.schemas.common import InputSchema, Schema
from app.schemas.themes import ThemeDetail, ThemeHistory, ThemesPage, ThemeSummary

View = Literal["curated", "machine"]

ThemeKey = Annotated[str, StringConstraints(min_length=1, max_length=32)]
CuratedLabel = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
]


class ThemePatch(InputSchema):
    label: CuratedLabel | None = Field(
        None,
        description="The theme's name in the curated view; null gives back the machine's label.",
    )
    hidden: StrictBool | None = Field(
        None, description="true hides the theme from reports and the dashboard; false shows it."
    )
    pinned: StrictBool | None = Field(
        None, description="true keeps the theme a theme of its own in every re-analysis."
    )

    @model_validator(mode="after")
    def _sends_a_field(self) -> ThemePatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of label, hidden or pinned")
        return self


class ThemeMerge(InputSchema):
    keys: list[ThemeKey] = Field(
        min_length=2, max_length=20, description="Keys of two or more top-level themes."
    )
    label: CuratedLabel | None = Field(
        None, description="Name of the merged theme; empty keeps the larger theme's name."
    )

    @model_validator(mode="after")
    def _distinct(self) -> ThemeMerge:
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("name each theme once")
        return self


class EditRead(Schema):
    id: int
    kind: str = Field(description="label, hidden, pinned, merge or split.")
    keys: list[str] = Field(description="The themes it names; a merge keeps the first key.")
    value: str | bool | None = Field(description="The label or flag it sets.")
    analysis_id: int | None = Field(description="The analysis it was made or last confirmed on.")
    key_name: str = Field(description="Name of the API key that made it.")
    created_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    undone_at: datetime | None
    undone_by: str | None
    status: Literal["applied", "needs_decision", "superseded", "undone"] = Field(
        description="needs_decision: a key it names ended or split; confirm or undo it."
    )
    reason: str | None = Field(description="Why it needs a decision, or was superseded.")


class EditList(Schema):
    analysis_id: int | None
    needs_decision: int
    edits: list[EditRead]


class EditsMade(Schema):
    edits: list[EditRead]


class CuratedFields(Schema):
    machine_label: str | None = Field(
        None, description="The analysis's own label (beside a curated one)."
    )
    hidden: bool = False
    pinned: bool = False
    merged_from: list[str] = Field(
        default_factory=list, description="The themes a curation merge put together here."
    )
    split_from: str | None = Field(
        None, description="The theme a curation split, this being one of its sub-themes."
    )
    edits: list[int] = Field(default_factory=list, description="Ids of the edits naming it.")


class CuratedThemeSummary(ThemeSummary, CuratedFields):
    pass


class CuratedThemesPage(ThemesPage):
    view: View
    hidden: int = Field(0, description="Hidden themes: left out of the list, not of the shares.")
    needs_decision: list[EditRead] = Field(
        default_factory=list, description="Edits whose themes ended or split since."
    )
    themes: list[CuratedThemeSummary]  # type: ignore[assignment]


class CuratedThemeDetail(ThemeDetail, CuratedFields):
    view: View = "curated"
    curation_notes: list[str] = Field(default_factory=list)


class CuratedThemeHistory(ThemeHistory):
    edits: list[EditRead] = Field(
        default_factory=list, description="Every curation edit naming the key, undone ones too."
    )
