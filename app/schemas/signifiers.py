from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, model_validator

from app.schemas.common import InputSchema, Schema
from models import SignifierKind

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class Choice(InputSchema):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = ""


class Axes(InputSchema):
    x: list[str] = Field(min_length=2, max_length=2, description="[left, right] labels")
    y: list[str] = Field(min_length=2, max_length=2, description="[bottom, top] labels")


class SignifierDeclare(InputSchema):
    key: str = Field(pattern=KEY_PATTERN)
    kind: SignifierKind
    label: str = Field("", max_length=1000)
    anchors: list[str] | None = Field(None, description="triad: the 3 anchors, in order")
    poles: list[str] | None = Field(None, description="dyad: [left pole, right pole]")
    options: list[Choice] | None = Field(None, description="mcq: the choices")
    multiple: StrictBool = Field(False, description="mcq: several choices allowed")
    stones: list[Choice] | None = Field(None, description="stones: the stones placed")
    axes: Axes | None = Field(None, description="stones: axis labels")

    @model_validator(mode="after")
    def _fits_kind(self) -> SignifierDeclare:
        needs: dict[SignifierKind, tuple[str, int]] = {
            SignifierKind.triad: ("anchors", 3),
            SignifierKind.dyad: ("poles", 2),
        }
        if self.kind in needs:
            name, count = needs[self.kind]
            got = getattr(self, name)
            if got is None or len(got) != count:
                raise ValueError(f"a {self.kind.value} needs exactly {count} {name}")
        if self.kind is SignifierKind.mcq and not self.options:
            raise ValueError("an mcq needs at least one option")
        if self.kind is SignifierKind.stones and not self.stones:
            raise ValueError("a stones signifier needs at least one stone")
        for name in ("options", "stones"):
            choices = getattr(self, name) or []
            if len({c.key for c in choices}) != len(choices):
                raise ValueError(f"{name} keys must be unique")
        return self

    def definition(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=False, mode="json")


class SignifiersDeclare(InputSchema):
    signifiers: list[SignifierDeclare] = Field(min_length=1, max_length=500)


class SignifierRead(Schema):
    key: str
    kind: SignifierKind
    label: str
    definition: dict[str, Any]


class SignifierList(Schema):
    signifiers: list[SignifierRead]


Kind = Literal["triad", "dyad", "stones", "mcq", "free_text"]
