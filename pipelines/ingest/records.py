"""The shapes every parser returns: narrative records, signifier declarations and a report.

These are plain dataclasses so that the service (or a notebook) can consume them without
importing anything from the web layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: The signifier kinds the service knows.
SignifierKind = Literal["triad", "dyad", "stones", "mcq", "free_text"]

#: A stored signifier value. Shapes by kind:
#: triad -> list of 3 floats summing to 1 (order of the declared anchors);
#: dyad -> float in [0, 1] (0 = left pole); stones -> {stone_key: {"x": float, "y": float}};
#: mcq -> option key (str) or list of option keys; free_text -> str; not applicable -> None.
SignifierValue = list[float] | float | dict[str, dict[str, float]] | str | list[str] | None


class UnreadableFile(Exception):
    """The file cannot be read at all; the message is meant for the person who uploaded it."""


@dataclass(slots=True)
class Reaction:
    """One reaction to a chat message.

    `emoji` holds the emoji itself, or the reaction's name when the exporter wrote one
    instead (Teams writes "like", "heart", ...).
    """

    author: str | None
    emoji: str
    occurred_at: datetime | None = None


@dataclass(slots=True)
class NarrativeRecord:
    """One unit of text: a story, a chat message or a transcript turn.

    `replies_to` is the index, within the same parse result, of the record this one
    answers. Replies stay narratives of their own (they carry content worth clustering);
    the link only adds the conversational structure. Reactions carry no text of their
    own, so they are attached to their target instead of becoming records.
    """

    text: str
    title: str | None = None
    external_id: str | None = None
    author: str | None = None
    occurred_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    signifiers: dict[str, object] = field(default_factory=dict)
    location: str = ""
    reactions: list[Reaction] = field(default_factory=list)
    replies_to: int | None = None
    low_content: bool = False
    #: Why the record is low content or no answer (pipelines.nonresponse reasons), if known;
    #: a reason makes the record low content.
    low_content_reason: str | None = None
    #: Seconds from the start of the recording (transcripts) or None.
    offset_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.low_content_reason is not None:
            self.low_content = True


@dataclass(slots=True)
class SignifierSpec:
    """The declaration of one signifier (question) of an instrument.

    Only the fields of the signifier's kind are filled: `anchors` for a triad (3, in the
    order the values are given), `poles` for a dyad (left, right), `options` and
    `multiple` for an mcq, `stones` and `axes` for a stones canvas
    (`{"x": [left, right], "y": [bottom, top]}`).
    """

    key: str
    kind: SignifierKind
    label: str
    anchors: list[str] = field(default_factory=list)
    poles: list[str] = field(default_factory=list)
    options: list[dict[str, str]] = field(default_factory=list)
    multiple: bool = False
    stones: list[dict[str, str]] = field(default_factory=list)
    axes: dict[str, list[str]] = field(default_factory=dict)
    source_id: str | None = None

    def to_json(self) -> dict[str, object]:
        """The JSON body the service's `POST /signifiers` accepts for this signifier."""
        body: dict[str, object] = {"key": self.key, "kind": self.kind, "label": self.label}
        if self.kind == "triad":
            body["anchors"] = list(self.anchors)
        elif self.kind == "dyad":
            body["poles"] = list(self.poles)
        elif self.kind == "mcq":
            body["options"] = [dict(o) for o in self.options]
            body["multiple"] = self.multiple
        elif self.kind == "stones":
            body["stones"] = [dict(s) for s in self.stones]
            body["axes"] = {k: list(v) for k, v in self.axes.items()}
        body["source_id"] = self.source_id
        return body


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """A problem with one part of a file (a row, a line, a cue); the rest is still parsed."""

    location: str
    reason: str


#: How many issues a report keeps by default; the rest are only counted.
DEFAULT_MAX_ISSUES = 200


@dataclass(slots=True)
class ParseReport:
    """What a parse saw: counts by category and the issues met on the way.

    `records` were returned; `skipped` parts should have been records but could not be
    (empty text, over the length limit, unreadable), each with an issue. Private, system
    and deleted messages are left out on purpose and only counted. `reactions` were
    attached to their target; `unmatched_reactions` found none. Only the first
    `max_issues` issues are stored so that a broken 100,000-row file cannot fill memory;
    `issues_not_stored` counts the others.
    """

    format: str = ""
    encoding: str | None = None
    records: int = 0
    skipped: int = 0
    private_messages: int = 0
    system_messages: int = 0
    deleted_messages: int = 0
    reactions: int = 0
    unmatched_reactions: int = 0
    replies: int = 0
    low_content: int = 0
    #: True when the parse stopped at the row limit before the end of the file.
    truncated: bool = False
    issues: list[ParseIssue] = field(default_factory=list)
    issues_not_stored: int = 0
    max_issues: int = DEFAULT_MAX_ISSUES

    def add_issue(self, location: str, reason: str) -> None:
        """Record a problem, keeping at most `max_issues` of them."""
        if len(self.issues) < self.max_issues:
            self.issues.append(ParseIssue(location, reason))
        else:
            self.issues_not_stored += 1

    def skip(self, location: str, reason: str) -> None:
        """Count a part of the file that yields no record, and say why."""
        self.skipped += 1
        self.add_issue(location, reason)

    def count_record(self, record: NarrativeRecord) -> None:
        """Count a record that is handed to the caller."""
        self.records += 1
        if record.low_content:
            self.low_content += 1

    @property
    def issue_count(self) -> int:
        """All issues met, stored or not."""
        return len(self.issues) + self.issues_not_stored


@dataclass(slots=True)
class ParseResult:
    """Records and the report of a parse that needs the whole file (chats, transcripts)."""

    records: list[NarrativeRecord]
    report: ParseReport

    def __iter__(self) -> Iterator[NarrativeRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
