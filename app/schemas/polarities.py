"""Declared polarity axes: two pole descriptions each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.schemas.common import InputSchema, Schema
from app.schemas.signifiers import KEY_PATTERN

Pole = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PolarityDeclare(InputSchema):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = Field("", max_length=300)
    poles: list[Pole] = Field(
        min_length=2,
        max_length=2,
        description="[left pole, right pole], each a short description, e.g. "
        "['follow the plan', 'work with emergence']",
    )

    @model_validator(mode="after")
    def _distinct(self) -> PolarityDeclare:
        if self.poles[0].casefold() == self.poles[1].casefold():
            raise ValueError("the two poles must differ")
        return self


class PolaritiesDeclare(InputSchema):
    axes: list[PolarityDeclare] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _unique_keys(self) -> PolaritiesDeclare:
        keys = [a.key for a in self.axes]
        if len(set(keys)) != len(keys):
            raise ValueError("each axis key may appear once")
        return self


class PolarityRead(Schema):
    key: str
    label: str
    poles: list[str]
    created_at: datetime


class PolarityList(Schema):
    axes: list[PolarityRead]
    note: str = Field(
        "positions and polarised themes are computed by the next analysis",
        description="When declared axes take effect.",
    )
