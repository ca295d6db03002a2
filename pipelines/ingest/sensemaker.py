"""SenseMaker® exports: the framework definition (JSON) and the data file (CSV).

The data CSV names its columns by signifier UUIDs; the definition says what each UUID
is. Column conventions seen in exports:

- triad `T`: `T_<anchorId>` (one per anchor: a proportion summing to 1, or a percentage
  summing to 100), `T_percentX` / `T_percentY` (canvas position, not needed), `T_NA`;
- dyad `D`: `D_percentX` (or `DX` / `D_X`) = position from the left pole (0) to the right
  pole (1), possibly 0-100; `D_<poleId>` per pole; `D_NA`;
- stones `S`: `S_<stoneId>_percentX` / `_percentY`, or `S_<stoneId>XRight` / `YTop`:
  x grows to the right and y grows upwards, as the names say, so they are kept as given
  against axes declared `[left, right]` and `[bottom, top]`;
- single-choice list `L`: one column `L` holding the chosen item id;
  multi-select list `M`: `M_<itemId>` = 1 for each chosen item;
- free text `F`: column `F`; `*_NA` = 1 means "not applicable" (stored as None).

An empty cell means "not answered": the signifier is left out of the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.ingest._rows import Bounds, TabularSource, open_tabular
from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    Source,
    decode_bytes,
    html_to_text,
    low_content_kind,
    normalize_newlines,
    one_line,
    open_binary,
    read_source,
    unique_keys,
)
from pipelines.ingest.guards import INVISIBLE_TEXT, TOO_DEEP, is_invisible
from pipelines.ingest.records import (
    DEFAULT_MAX_ISSUES,
    NarrativeRecord,
    ParseReport,
    ParseResult,
    SignifierKind,
    SignifierSpec,
    UnreadableFile,
)
from pipelines.ingest.values import (
    OutOfRange,
    ValueProblem,
    parse_datetime,
    triad_proportions,
    unit_interval,
)

# SenseMaker element types that carry no answer (layout, buttons, media).
_KIND_BY_TYPE: dict[str, SignifierKind] = {
    "triad": "triad",
    "dyad": "dyad",
    "slider": "dyad",
    "stones": "stones",
    "list": "mcq",
    "freetext": "free_text",
}
_TITLE_QUESTION = re.compile(
    r"headline|\btitle\b|name (?:your|this|the) (?:story|experience)", re.I
)
_TRUE = frozenset({"1", "true", "yes", "y", "1.0"})


@dataclass(slots=True)
class SenseMakerDefinition:
    """A decoded framework definition: the signifier specs and the ids needed to read data.

    `signifiers` is what the service's `POST /signifiers` takes. The story and title
    questions are not in it: they become a record's `text` and `title`.
    """

    signifiers: list[SignifierSpec]
    name: str | None = None
    source_id: str | None = None
    story_id: str | None = None
    title_id: str | None = None
    #: signifier UUID -> its spec.
    by_id: dict[str, SignifierSpec] = field(default_factory=dict)
    #: signifier UUID -> ordered item ids (triad anchors, dyad poles, list items, stones).
    item_ids: dict[str, list[str]] = field(default_factory=dict)
    #: signifier UUID -> {item id: option or stone key}.
    item_keys: dict[str, dict[str, str]] = field(default_factory=dict)


def _unwrap(value: Any) -> Any:
    """Scalars exported through R arrive as one-element lists (`"name": ["ADemo"]`)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _label(value: Any) -> str:
    """The readable label of an HTML title ("quality<br>demands" -> "quality demands")."""
    text = _unwrap(value)
    return one_line(html_to_text(str(text))) if text is not None else ""


def _items(content: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = content.get(name)
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def parse_sensemaker_definition(
    data: Source, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> SenseMakerDefinition:
    """Decode a framework definition JSON into signifier specs.

    Keys are slugs of the question titles (unique within the framework), option and
    stone keys slugs of their labels; each spec keeps the SenseMaker UUID in `source_id`.

    Raises UnreadableFile when the JSON is not a framework definition.
    """
    text, _ = decode_bytes(read_source(data, max_bytes=max_bytes))
    try:
        document = json.loads(text)
    except RecursionError as exc:
        raise UnreadableFile(f"The framework definition {TOO_DEEP}.") from exc
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"The framework definition is not valid JSON (line {exc.lineno}: {exc.msg})."
        ) from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("signifiers"), list):
        raise UnreadableFile(
            "This is not a SenseMaker framework definition: it has no 'signifiers' list."
        )
    story_id = _unwrap(document.get("fragment_signifier_id"))
    elements = [e for e in document["signifiers"] if isinstance(e, Mapping)]
    if not story_id:
        story_id = next(
            (
                str(e.get("id"))
                for e in elements
                if e.get("type") == "freetext" and e.get("fragment")
            ),
            None,
        )
    title_id = next(
        (
            str(e.get("id"))
            for e in elements
            if e.get("type") == "freetext"
            and e.get("id") != story_id
            and _TITLE_QUESTION.search(_label(e.get("title")))
        ),
        None,
    )

    answered = [
        e
        for e in elements
        if str(e.get("type")) in _KIND_BY_TYPE and e.get("id") not in (story_id, title_id)
    ]
    keys = unique_keys((_label(e.get("title")) for e in answered), fallback="signifier")
    definition = SenseMakerDefinition(
        signifiers=[],
        name=_unwrap(document.get("name")),
        source_id=_unwrap(document.get("id")),
        story_id=str(story_id) if story_id else None,
        title_id=title_id,
    )
    for key, element in zip(keys, answered, strict=True):
        spec = _spec(key, element, definition)
        definition.signifiers.append(spec)
        definition.by_id[str(element.get("id"))] = spec
    return definition


def _spec(key: str, element: Mapping[str, Any], definition: SenseMakerDefinition) -> SignifierSpec:
    signifier_id = str(element.get("id"))
    kind = _KIND_BY_TYPE[str(element.get("type"))]
    content = element.get("content") if isinstance(element.get("content"), Mapping) else {}
    assert isinstance(content, Mapping)
    spec = SignifierSpec(
        key=key,
        kind=kind,
        label=_label(element.get("title")),
        source_id=signifier_id,
    )
    if kind in ("triad", "dyad"):
        anchor_items = _items(content, "labels")
        names = [_label(item.get("text")) for item in anchor_items]
        definition.item_ids[signifier_id] = [str(item.get("id")) for item in anchor_items]
        if kind == "triad":
            spec.anchors = names
        else:
            spec.poles = names
    elif kind == "mcq":
        items = _items(content, "items")
        labels = [_label(i.get("title")) for i in items]
        option_keys = unique_keys(labels, fallback="option")
        spec.options = [
            {"key": k, "label": lbl} for k, lbl in zip(option_keys, labels, strict=True)
        ]
        spec.multiple = int(_unwrap(content.get("max_responses")) or 1) > 1
        ids = [str(i.get("id")) for i in items]
        definition.item_ids[signifier_id] = ids
        definition.item_keys[signifier_id] = dict(zip(ids, option_keys, strict=True))
    elif kind == "stones":
        stones = _items(content, "stones")
        labels = [_label(s.get("title")) for s in stones]
        stone_keys = unique_keys(labels, fallback="stone")
        spec.stones = [{"key": k, "label": lbl} for k, lbl in zip(stone_keys, labels, strict=True)]
        axis = content.get("axis") if isinstance(content.get("axis"), Mapping) else {}
        assert isinstance(axis, Mapping)
        spec.axes = {
            name: [
                _label((axis.get(name) or {}).get("start_label", "")),
                _label((axis.get(name) or {}).get("end_label", "")),
            ]
            for name in ("x", "y")
        }
        ids = [str(s.get("id")) for s in stones]
        definition.item_ids[signifier_id] = ids
        definition.item_keys[signifier_id] = dict(zip(ids, stone_keys, strict=True))
    return spec


class SenseMakerReader:
    """An iterator of records over a SenseMaker data CSV, with the `report` of what it saw."""

    def __init__(
        self,
        source: Source,
        definition: SenseMakerDefinition,
        *,
        max_rows: int = 500_000,
        max_issues: int = DEFAULT_MAX_ISSUES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.definition = definition
        self.report = ParseReport(format="sensemaker_data", max_issues=max_issues)
        self._table: TabularSource = open_tabular(
            open_binary(source),
            "csv",
            self.report,
            bounds=Bounds(max_rows=max_rows, max_bytes=max_bytes),
        )
        self.report.encoding = self._table.encoding
        self._columns = set(self._table.header)
        self._max_rows = max_rows
        if definition.story_id is None or definition.story_id not in self._columns:
            raise UnreadableFile(
                "This data file does not match the framework definition: the story column "
                f"{definition.story_id!r} is missing."
            )
        unknown = [spec.key for sid, spec in definition.by_id.items() if not self._has_columns(sid)]
        for key in unknown:
            self.report.add_issue("header", f"no column for signifier {key!r}")

    def _has_columns(self, signifier_id: str) -> bool:
        prefix = f"{signifier_id}_"
        return any(
            c in (signifier_id, f"{signifier_id}X") or c.startswith(prefix) for c in self._columns
        )

    def __iter__(self) -> Iterator[NarrativeRecord]:
        for seen, (location, row) in enumerate(self._table.rows, start=1):
            if seen > self._max_rows:
                self.report.truncated = True
                self.report.add_issue(location, f"row limit of {self._max_rows} reached")
                break
            record = self._record(location, row)
            if record is not None:
                self.report.count_record(record)
                yield record

    def _record(self, location: str, row: Mapping[str, str]) -> NarrativeRecord | None:
        definition = self.definition
        text = normalize_newlines(str(row.get(definition.story_id or "", ""))).strip()
        if not text:
            self.report.skip(location, "no story text")
            return None
        if not text[:1].isalnum() and is_invisible(text):
            self.report.skip(location, f"the story {INVISIBLE_TEXT}")
            return None
        try:
            occurred_at = self._when(location, row)
        except OutOfRange as exc:
            self.report.skip(location, str(exc))
            return None
        title = row.get(definition.title_id or "", "").strip() or None
        signifiers: dict[str, object] = {}
        for signifier_id, spec in definition.by_id.items():
            try:
                answered, value = self._value(signifier_id, spec, row)
            except ValueProblem as exc:
                self.report.add_issue(location, f"{spec.key}: {exc}")
                continue
            if answered:
                signifiers[spec.key] = value
        attributes = {}
        if row.get("language", "").strip():
            attributes["language"] = row["language"].strip()
        return NarrativeRecord(
            text=text,
            title=title,
            external_id=(row.get("id") or row.get("FragmentID") or "").strip() or None,
            occurred_at=occurred_at,
            attributes=attributes,
            signifiers=signifiers,
            location=location,
            low_content_reason=low_content_kind(text),
        )

    def _when(self, location: str, row: Mapping[str, str]) -> datetime | None:
        for column in ("server_upload_time", "EntryDate", "entry_date", "meta_completed"):
            raw = row.get(column, "").strip()
            if raw:
                try:
                    return parse_datetime(raw)
                except OutOfRange as exc:
                    raise OutOfRange(f"{column} {exc}") from exc
                except ValueProblem as exc:
                    self.report.add_issue(location, f"{column}: {exc}")
        return None

    def _cell(self, row: Mapping[str, str], *names: str) -> str:
        for name in names:
            value = row.get(name)
            if value is not None and value.strip():
                return value.strip()
        return ""

    def _value(self, sid: str, spec: SignifierSpec, row: Mapping[str, str]) -> tuple[bool, object]:
        """(answered, value) of one signifier in one row."""
        if self._cell(row, f"{sid}_NA").lower() in _TRUE:
            return True, None
        ids = self.definition.item_ids.get(sid, [])
        if spec.kind == "triad":
            cells = [self._cell(row, f"{sid}_{anchor}") for anchor in ids]
            if not any(cells):
                return False, None
            if not all(cells):
                raise ValueProblem("some triad anchors have no value")
            return True, triad_proportions(cells)
        if spec.kind == "dyad":
            cell = self._cell(row, f"{sid}_percentX", f"{sid}X", f"{sid}_X")
            if not cell and len(ids) == 2:
                cell = self._cell(row, f"{sid}_{ids[1]}")
            if not cell:
                return False, None
            return True, unit_interval(cell, "dyad position")
        if spec.kind == "stones":
            keys = self.definition.item_keys.get(sid, {})
            placed: dict[str, dict[str, float]] = {}
            for stone_id in ids:
                x = self._cell(row, f"{sid}_{stone_id}_percentX", f"{sid}_{stone_id}XRight")
                y = self._cell(row, f"{sid}_{stone_id}_percentY", f"{sid}_{stone_id}YTop")
                if not x and not y:
                    continue  # this stone was not placed
                if not (x and y):
                    raise ValueProblem(f"stone {keys[stone_id]!r} has only one coordinate")
                placed[keys[stone_id]] = {
                    "x": unit_interval(x, "stone x"),
                    "y": unit_interval(y, "stone y"),
                }
            return (True, placed) if placed else (False, None)
        if spec.kind == "mcq":
            return self._choice(sid, spec, row, ids)
        cell = self._cell(row, sid)
        return (True, cell) if cell else (False, None)

    def _choice(
        self, sid: str, spec: SignifierSpec, row: Mapping[str, str], ids: Sequence[str]
    ) -> tuple[bool, object]:
        keys = self.definition.item_keys.get(sid, {})
        chosen: list[str] = []
        if any(f"{sid}_{item}" in self._columns for item in ids):
            # Multi-select layout: one 0/1 column per item, kept in the definition's order.
            chosen = [item for item in ids if self._cell(row, f"{sid}_{item}").lower() in _TRUE]
        else:
            cell = self._cell(row, sid)
            chosen = [part.strip() for part in re.split(r"[;,|]", cell) if part.strip()]
        if not chosen:
            return False, None
        unknown = [c for c in chosen if c not in keys]
        if unknown:
            raise ValueProblem(f"unknown choice(s) {', '.join(unknown)}")
        option_keys = [keys[c] for c in chosen]
        if spec.multiple:
            return True, option_keys
        if len(option_keys) > 1:
            raise ValueProblem(f"{len(option_keys)} choices for a single-choice question")
        return True, option_keys[0]


def open_sensemaker_data(
    source: Source,
    definition: SenseMakerDefinition | Source,
    *,
    max_rows: int = 500_000,
    max_issues: int = DEFAULT_MAX_ISSUES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SenseMakerReader:
    """Open a SenseMaker data CSV for streaming, decoded with its framework definition
    (a parsed `SenseMakerDefinition`, or the definition JSON itself)."""
    if not isinstance(definition, SenseMakerDefinition):
        definition = parse_sensemaker_definition(definition)
    return SenseMakerReader(
        source, definition, max_rows=max_rows, max_issues=max_issues, max_bytes=max_bytes
    )


def parse_sensemaker_data(
    source: Source, definition: SenseMakerDefinition | Source, **options: Any
) -> ParseResult:
    """Read a whole SenseMaker data CSV into a list; see `open_sensemaker_data`."""
    reader = open_sensemaker_data(source, definition, **options)
    records = list(reader)
    return ParseResult(records, reader.report)
