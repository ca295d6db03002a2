"""Batch files of narratives: CSV, TSV, JSON Lines, JSON arrays and XLSX.

`open_batch` sniffs the file and returns a `BatchReader`, an iterator of records whose
`report` fills in as rows go by; nothing holds more than one row at a time, so a file of
any length is parsed in flat memory. Columns are mapped to record fields by a
`ColumnMapping`, given by the caller or inferred from the header names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from pipelines.ingest._chat import resolve_tz
from pipelines.ingest._rows import (
    DEFAULT_MAX_RECORD_BYTES,
    HEAD_BYTES,
    Bounds,
    TabularFormat,
    TabularSource,
    open_tabular,
)
from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    Source,
    low_content_kind,
    normalize_newlines,
    open_binary,
    peek,
)
from pipelines.ingest.guards import INVISIBLE_TEXT, NON_FINITE, is_invisible, non_finite_at
from pipelines.ingest.records import (
    DEFAULT_MAX_ISSUES,
    NarrativeRecord,
    ParseReport,
    ParseResult,
    SignifierSpec,
    UnreadableFile,
)
from pipelines.ingest.values import (
    OutOfRange,
    ValueProblem,
    is_blank,
    parse_datetime,
    signifier_value,
)
from pipelines.nonresponse import nonresponse_reason

#: Default limits; callers pass their own.
DEFAULT_MAX_ROWS = 500_000
DEFAULT_MAX_TEXT_LENGTH = 50_000

_TEXT_NAMES = (
    "text",
    "story",
    "narrative",
    "comment",
    "comments",
    "message",
    "body",
    "content",
    "response",
    "answer",
    "description",
    "fragment",
    "feedback",
    "experience",
    "account",
    "argument",
    "statement",
    "opinion",
    "utterance",
    "review",
    "suggestion",
    "note",
    "notes",
)
_TITLE_NAMES = ("title", "headline", "subject", "heading", "summary")
_ID_NAMES = (
    "id",
    "external_id",
    "uuid",
    "guid",
    "story_id",
    "narrative_id",
    "comment_id",
    "message_id",
    "response_id",
    "fragment_id",
    "fragmentid",
    "record_id",
    "entry_id",
    "key",
    "ref",
    "reference",
)
_TIME_NAMES = (
    "date",
    "time",
    "datetime",
    "date_time",
    "timestamp",
    "created",
    "created_at",
    "createddatetime",
    "created_date",
    "submitted",
    "submitted_at",
    "submission_date",
    "occurred_at",
    "entry_date",
    "entrydate",
    "posted",
    "posted_at",
    "when",
)
#: The question a survey answer replies to ("FFT question"): an answer that repeats it is no
#: answer, and a question column makes the rows survey answers (see `BatchReader`).
_QUESTION_NAMES = ("question", "prompt", "question_text")
_AUTHOR_NAMES = (
    "author",
    "name",
    "speaker",
    "user",
    "username",
    "user_name",
    "participant",
    "respondent",
    "from",
    "sender",
    "author_name",
    "display_name",
    "full_name",
    "person",
)


def _normalize_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass(slots=True)
class ColumnMapping:
    """Which column feeds which record field.

    `attributes` None means "every column not used otherwise" (group fields such as
    organisation, role or site); an empty list means none. `signifiers` maps a column to
    the key of a declared signifier.
    """

    text: str | None = None
    title: str | None = None
    id: str | None = None
    time: str | None = None
    author: str | None = None
    attributes: list[str] | None = None
    signifiers: dict[str, str] = field(default_factory=dict)
    #: The column of the question each row answers; it stays an attribute too.
    question: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ColumnMapping:
        """A mapping given as JSON (an upload's `mapping` option); unknown keys are ignored."""
        return cls(
            text=raw.get("text"),
            title=raw.get("title"),
            id=raw.get("id"),
            time=raw.get("time"),
            author=raw.get("author"),
            attributes=raw.get("attributes"),
            signifiers=dict(raw.get("signifiers") or {}),
            question=raw.get("question"),
        )

    def used_columns(self) -> set[str]:
        """The columns mapped to a field other than attributes."""
        named = {self.text, self.title, self.id, self.time, self.author}
        return {c for c in named if c} | set(self.signifiers)


#: Words too common to claim a column by appearing inside its name ("label_name",
#: "from co-workers"); they only count as the whole column name.
_EXACT_ONLY = frozenset({"from", "name", "key", "ref", "when", "user", "body", "person"})


def _pick(columns: Sequence[str], names: Sequence[str], taken: set[str], level: int) -> str | None:
    """The first free column matching one of `names` (in `names` order) at `level`:
    0 = the whole normalised name, 1 = its last word ("fft_answer"), 2 = any word
    ("story_text"). The last word is the head noun in English headers, so
    "Comment sentiment" is a sentiment, not a comment."""
    normalized = {c: _normalize_header(c).split("_") for c in columns if c not in taken}
    for name in names:
        if level and name in _EXACT_ONLY:
            continue
        hits = [
            column
            for column, words in normalized.items()
            if (
                "_".join(words) == name
                if level == 0
                else words[-1] == name
                if level == 1
                else name in words
            )
        ]
        if hits:
            # "FFT answer" over "FFT categorical answer": fewer qualifiers, closer match.
            return min(hits, key=lambda c: len(normalized[c]))
    return None


def infer_mapping(header: Sequence[str]) -> ColumnMapping:
    """Guess the mapping from header names; the text column is None if none fits.

    Exact names win over names that merely contain a known word, and ids and dates are
    claimed before the text, so that "Story ID" is an id and not the story.
    """
    columns = [c for c in header if c]
    fields: tuple[tuple[str, Sequence[str]], ...] = (
        ("text", _TEXT_NAMES),
        ("id", _ID_NAMES),
        ("time", _TIME_NAMES),
        ("title", _TITLE_NAMES),
        ("author", _AUTHOR_NAMES),
        ("question", _QUESTION_NAMES),
    )
    chosen: dict[str, str] = {}
    for level in (0, 1, 2):
        for attr, names in fields:
            if attr not in chosen:
                column = _pick(columns, names, set(chosen.values()), level)
                if column is not None:
                    chosen[attr] = column
    if "text" not in chosen and len(columns) == 1:
        chosen["text"] = columns[0]
    return ColumnMapping.from_json(chosen)


_TABULAR_SUFFIXES: tuple[tuple[str, TabularFormat], ...] = (
    (".xlsx", "xlsx"),
    (".xlsm", "xlsx"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".json", "json"),
    (".tsv", "tsv"),
    (".tab", "tsv"),
)


def _detect_tabular(filename: str | None, head: bytes) -> TabularFormat:
    """The tabular format from the content, then the file name."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    name = (filename or "").lower()
    for suffix, fmt in _TABULAR_SUFFIXES:
        if name.endswith(suffix):
            return fmt
    # UTF-16 text has NULs between ASCII letters; strip them to look at the shape.
    sample = head[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe").replace(b"\x00", b"").lstrip()
    if sample.startswith(b"["):
        return "json"
    if sample.startswith(b"{"):
        # JSON Lines: the first line is a whole object and more follows.
        first, _, rest = sample.partition(b"\n")
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl" if rest.strip() else "json"
    return "csv"


def _cell_text(value: Any) -> str:
    """A cell as text: integral floats without ".0" (Excel stores ids as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


class BatchReader:
    """An iterator of records over one batch file, with the `report` of what it saw.

    Opening sniffs the format, encoding and header and raises UnreadableFile at once;
    iterating reads the rows. Iterate once.
    """

    def __init__(
        self,
        source: Source,
        *,
        filename: str | None = None,
        fmt: TabularFormat | None = None,
        mapping: ColumnMapping | None = None,
        specs: Sequence[SignifierSpec] = (),
        max_rows: int = DEFAULT_MAX_ROWS,
        max_text_length: int = DEFAULT_MAX_TEXT_LENGTH,
        dayfirst: bool = True,
        tz: tzinfo | str | None = None,
        sheet: str | None = None,
        max_issues: int = DEFAULT_MAX_ISSUES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        placeholders: Sequence[str] = (),
    ) -> None:
        stream = open_binary(source)
        if fmt is None:
            stream, head = peek(stream, HEAD_BYTES)
            if not head:
                raise UnreadableFile("The file is empty.")
            fmt = _detect_tabular(filename, head)
        self.format: TabularFormat = fmt
        self.report = ParseReport(format=fmt, max_issues=max_issues)
        bounds = Bounds(
            max_rows=max_rows,
            max_bytes=max_bytes,
            # a row holds its text and its other fields; a line longer than this is not one
            max_record_bytes=max(DEFAULT_MAX_RECORD_BYTES, 8 * max_text_length),
        )
        self._table: TabularSource = open_tabular(
            stream, fmt, self.report, sheet=sheet, bounds=bounds
        )
        self.report.encoding = self._table.encoding
        self.header = self._table.header
        self.mapping = self._resolve_mapping(mapping)
        self._specs = {s.key: s for s in specs}
        self._max_rows = max_rows
        self._max_text_length = max_text_length
        self._dayfirst = dayfirst
        self._tz = resolve_tz(tz)
        self._attribute_columns = self._attributes()
        self._placeholders = tuple(placeholders)

    def _resolve_mapping(self, mapping: ColumnMapping | None) -> ColumnMapping:
        inferred = infer_mapping(self.header)
        if mapping is None:
            mapping = inferred
        elif mapping.text is None:
            mapping = ColumnMapping(
                text=inferred.text,
                title=mapping.title,
                id=mapping.id,
                time=mapping.time,
                author=mapping.author,
                attributes=mapping.attributes,
                signifiers=dict(mapping.signifiers),
                question=mapping.question,
            )
        if mapping.question is None and inferred.question not in mapping.used_columns():
            mapping.question = inferred.question
        if mapping.text is None:
            shown = ", ".join(repr(c) for c in self.header[:20]) or "none"
            raise UnreadableFile(
                "No column holding the narrative text was found (looked for names such as "
                f"'text', 'story', 'narrative', 'comment' or 'message'); columns: {shown}. "
                "Name the text column in the column mapping."
            )
        # JSON records may lack a key in their first object; only tables have a fixed header.
        if self.format not in ("json", "jsonl"):
            known = set(self.header)
            wanted = mapping.used_columns() | set(mapping.attributes or [])
            wanted |= {mapping.question} if mapping.question else set()
            missing = sorted(repr(c) for c in wanted if c not in known)
            if missing:
                columns = ", ".join(repr(c) for c in self.header[:30])
                raise UnreadableFile(
                    f"Column(s) {', '.join(missing)} named in the mapping are not in the file; "
                    f"its columns are {columns}."
                )
        return mapping

    def _attributes(self) -> list[str] | None:
        if self.mapping.attributes is not None:
            # the question stays a group field: answers are compared by question
            question = self.mapping.question
            extra = [question] if question and question not in self.mapping.attributes else []
            return list(self.mapping.attributes) + extra
        if self.format in ("json", "jsonl"):
            return None  # every key not used otherwise, decided per object
        used = self.mapping.used_columns()
        return [c for c in self.header if c and c not in used]

    def __iter__(self) -> Iterator[NarrativeRecord]:
        for seen, (location, row) in enumerate(self._table.rows, start=1):
            if seen > self._max_rows:
                self.report.truncated = True
                self.report.add_issue(
                    location, f"row limit of {self._max_rows} reached; the rest was not read"
                )
                break
            record = self._record(location, row)
            if record is not None:
                self.report.count_record(record)
                yield record

    def _record(self, location: str, row: Mapping[str, Any]) -> NarrativeRecord | None:
        mapping, report = self.mapping, self.report
        for name, column in (
            ("text", mapping.text),
            ("id", mapping.id),
            ("title", mapping.title),
            ("author", mapping.author),
        ):
            value = row.get(column or "")
            if column and not isinstance(value, str) and non_finite_at(value) is not None:
                report.skip(location, f"the {name} column {column!r} {NON_FINITE}")
                return None
        raw_text = row.get(mapping.text or "")
        text = normalize_newlines(_cell_text(raw_text)).strip() if not is_blank(raw_text) else ""
        if not text:
            report.skip(location, "empty text")
            return None
        if not text[:1].isalnum() and is_invisible(text):
            report.skip(location, f"the text {INVISIBLE_TEXT}")
            return None
        if len(text) > self._max_text_length:
            report.skip(
                location,
                f"text of {len(text)} characters is over the limit of {self._max_text_length}",
            )
            return None
        if "\ufffd" in text:
            report.add_issue(location, "some characters could not be decoded and were replaced")

        occurred_at = None
        if mapping.time:
            try:
                occurred_at = parse_datetime(
                    row.get(mapping.time), dayfirst=self._dayfirst, tz=self._tz
                )
            except OutOfRange as exc:
                report.skip(location, f"column {mapping.time!r}: {exc}")
                return None
            except ValueProblem as exc:
                report.add_issue(location, f"column {mapping.time!r}: {exc}")

        columns = self._attribute_columns
        if columns is None:
            used = mapping.used_columns()
            columns = [k for k in row if k not in used]
        attributes: dict[str, str] = {}
        for column in columns:
            if column not in row or is_blank(row[column]):
                continue
            # cells of text files are strings; only JSON and XLSX values can be numbers
            where = (
                None
                if isinstance(row[column], str)
                else non_finite_at(row[column], f"attribute {column!r}")
            )
            if where is not None:
                report.add_issue(location, f"{where} {NON_FINITE}; not stored")
                continue
            attributes[column] = _cell_text(row[column])

        signifiers: dict[str, object] = {}
        for column, key in mapping.signifiers.items():
            cell = row.get(column)
            if is_blank(cell):
                continue  # not answered: absent, unlike "not applicable" (None)
            where = None if isinstance(cell, str) else non_finite_at(cell, f"signifier {key!r}")
            if where is not None:
                report.add_issue(location, f"column {column!r}: {where} {NON_FINITE}; not stored")
                continue
            try:
                signifiers[key] = signifier_value(cell, self._specs.get(key))
            except ValueProblem as exc:
                report.add_issue(location, f"column {column!r}: {exc}")

        question = _optional(row, mapping.question)
        reason = nonresponse_reason(text, question, self._placeholders)
        if reason is None and mapping.question is None:
            # Without a question the rows may be chat lines; with one they are answers, and
            # "No." or "Thank you." answers its question.
            reason = low_content_kind(text)
        return NarrativeRecord(
            text=text,
            title=_optional(row, mapping.title),
            external_id=_optional(row, mapping.id),
            author=_optional(row, mapping.author),
            occurred_at=occurred_at,
            attributes=attributes,
            signifiers=signifiers,
            location=location,
            low_content=reason is not None,
            low_content_reason=reason,
        )


def _optional(row: Mapping[str, Any], column: str | None) -> str | None:
    if not column or is_blank(row.get(column)):
        return None
    return _cell_text(row[column]) or None


def open_batch(
    source: Source,
    *,
    filename: str | None = None,
    fmt: TabularFormat | None = None,
    mapping: ColumnMapping | None = None,
    specs: Sequence[SignifierSpec] = (),
    max_rows: int = DEFAULT_MAX_ROWS,
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH,
    dayfirst: bool = True,
    tz: tzinfo | str | None = None,
    sheet: str | None = None,
    max_issues: int = DEFAULT_MAX_ISSUES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    placeholders: Sequence[str] = (),
) -> BatchReader:
    """Open a batch file for streaming; see `BatchReader`.

    `fmt` is sniffed from the content and `filename` when not given. `specs` (the
    project's declared signifiers) let signifier columns be decoded to their value
    shapes; `dayfirst` settles dates such as 03/04/2024; `tz` is attached to times that
    carry no zone (they stay naive otherwise). `placeholders` are the project's own
    placeholder strings (see pipelines.nonresponse).
    """
    return BatchReader(
        source,
        filename=filename,
        fmt=fmt,
        mapping=mapping,
        specs=specs,
        max_rows=max_rows,
        max_text_length=max_text_length,
        dayfirst=dayfirst,
        tz=tz,
        sheet=sheet,
        max_issues=max_issues,
        max_bytes=max_bytes,
        placeholders=placeholders,
    )


def parse_batch(source: Source, **options: Any) -> ParseResult:
    """Read a whole batch file into a list (for small files and tests); see `open_batch`."""
    reader = open_batch(source, **options)
    records = list(reader)
    return ParseResult(records, reader.report)
