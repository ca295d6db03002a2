"""Streaming row readers for tabular uploads: CSV/TSV, JSON Lines, JSON arrays and XLSX.

Every reader takes a binary file object and yields `(location, row)` pairs one at a time,
so memory stays flat however long the file is. Sniffing (encoding, delimiter) looks only
at the head of the file, which is then replayed in front of the rest.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Literal, cast

from pipelines.ingest._text import (
    FALLBACK_ERRORS,
    PrefixedStream,
    check_text,
    describe_binary,
    detect_encoding,
)
from pipelines.ingest.records import ParseReport, UnreadableFile

TabularFormat = Literal["csv", "tsv", "jsonl", "json", "xlsx"]
Row = dict[str, Any]

#: Bytes looked at to detect the encoding and the CSV dialect.
HEAD_BYTES = 64 * 1024
#: The csv module refuses fields over 128 KiB by default; long stories are legitimate, and
#: the caller's text-length limit turns a huge field into a row issue instead of a crash.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024
#: A JSON object wrapping the records cannot be streamed; beyond this size it is refused.
MAX_WRAPPED_JSON_CHARS = 64 * 1024 * 1024


@dataclass(slots=True)
class TabularSource:
    """An opened tabular file: its header and an iterator of rows (consumed once)."""

    header: list[str]
    rows: Iterator[tuple[str, Row]]
    encoding: str | None = None
    details: dict[str, str] = field(default_factory=dict)


def _read_head(stream: BinaryIO) -> bytes:
    head = stream.read(HEAD_BYTES)
    if not isinstance(head, bytes):
        raise TypeError("expected a binary file object (opened with 'rb')")
    return head


def _text_stream(stream: BinaryIO, head: bytes) -> tuple[IO[str], str]:
    """A text stream over the whole file (head replayed), with the detected encoding."""
    if not head.strip(b" \t\r\n\x00"):
        raise UnreadableFile("The file is empty.")
    encoding = detect_encoding(head)
    sample = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    check_text(sample)
    errors = FALLBACK_ERRORS if encoding == "utf-8" else "replace"
    raw = io.BufferedReader(PrefixedStream(head, stream), buffer_size=HEAD_BYTES)
    text = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="")
    return text, encoding


def _sniff_delimiter(sample: str, default: str) -> str:
    """The delimiter of a CSV sample.

    The header line decides when exactly one candidate occurs in it: headers rarely hold
    quoted text, while stories in the rows below are full of commas and semicolons.
    Otherwise the csv sniffer looks at whole lines, then the most frequent candidate wins.
    """
    candidates = ",;\t|"
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        return default
    counts = {d: lines[0].count(d) for d in candidates}
    present = [d for d, n in counts.items() if n]
    if len(present) == 1:
        return present[0]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        # The last line of the head may be cut; keep the sniffer to whole lines.
        lines = lines[:-1]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=candidates).delimiter
    except csv.Error:
        pass
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def _csv_rows(stream: BinaryIO, report: ParseReport, *, tsv: bool) -> TabularSource:
    head = _read_head(stream)
    text, encoding = _text_stream(stream, head)
    # Decode the head again for sniffing only; the reader itself streams.
    sample = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    delimiter = "\t" if tsv else _sniff_delimiter(sample, ",")
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)

    header: list[str] | None = None
    row_number = 0
    for cells in reader:
        row_number += 1
        if any(c.strip() for c in cells):
            header = [c.strip().removeprefix("\ufeff") for c in cells]
            break
    if header is None:
        raise UnreadableFile("The file has no header row.")

    def rows(first_row: int, columns: list[str]) -> Iterator[tuple[str, Row]]:
        number = first_row
        try:
            for cells in reader:
                number += 1
                location = f"row {number}"
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(columns):
                    extra = cells[len(columns) :]
                    if any(c.strip() for c in extra):
                        report.add_issue(
                            location, f"{len(extra)} value(s) beyond the header ignored"
                        )
                yield location, dict(zip(columns, cells, strict=False))
        except csv.Error as exc:
            report.add_issue(f"row {number + 1}", f"unreadable CSV from here on: {exc}")
            report.truncated = True
        finally:
            text.close()

    return TabularSource(
        header,
        rows(row_number, header),
        encoding,
        {"delimiter": "\\t" if delimiter == "\t" else delimiter},
    )


def _jsonl_rows(stream: BinaryIO, report: ParseReport) -> TabularSource:
    head = _read_head(stream)
    text, encoding = _text_stream(stream, head)
    first_line = head.decode(encoding, errors="replace").removeprefix("\ufeff").lstrip()
    first_line = first_line.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
        header = [str(k) for k in first] if isinstance(first, dict) else []
    except ValueError:
        header = []

    def rows() -> Iterator[tuple[str, Row]]:
        try:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                location = f"line {number}"
                try:
                    item = json.loads(line)
                except ValueError as exc:
                    report.skip(location, f"not valid JSON: {exc}")
                    continue
                if not isinstance(item, dict):
                    report.skip(location, "not a JSON object")
                    continue
                yield location, item
        finally:
            text.close()

    return TabularSource(header, rows(), encoding)


_ARRAY_KEYS = ("narratives", "records", "items", "data", "rows", "value", "stories")


def _json_rows(stream: BinaryIO, report: ParseReport) -> TabularSource:
    """Objects of a top-level JSON array, decoded one at a time from a rolling buffer."""
    head = _read_head(stream)
    text, encoding = _text_stream(stream, head)
    buffer = text.read(HEAD_BYTES).removeprefix("\ufeff").lstrip()
    if buffer.startswith("{"):
        # An object wrapping the array ({"narratives": [...]}): small enough in practice
        # to load whole, and there is no streaming way to find the right key.
        rest = text.read(MAX_WRAPPED_JSON_CHARS)
        too_big = bool(text.read(1))
        text.close()
        if too_big:
            raise UnreadableFile(
                "This JSON object is too large to read whole; upload the records as a "
                "JSON array or as JSON Lines (one object per line) instead."
            )
        try:
            document = json.loads(buffer + rest)
        except ValueError as exc:
            raise UnreadableFile(f"This is not valid JSON: {exc}.") from exc
        items = next(
            (document[k] for k in _ARRAY_KEYS if isinstance(document.get(k), list)),
            next((v for v in document.values() if isinstance(v, list)), None),
        )
        if items is None:
            raise UnreadableFile("This JSON object holds no list of records.")
        header = [str(k) for k in items[0]] if items and isinstance(items[0], dict) else []
        return TabularSource(header, _listed(items, report), encoding)
    if not buffer.startswith("["):
        text.close()
        raise UnreadableFile("This is not a JSON array of records.")

    array = _ArrayReader(text, buffer[1:])
    next_item = array.next_item

    try:
        ok, first = next_item()
    except ValueError as exc:
        text.close()
        raise UnreadableFile(f"This is not valid JSON: {exc}.") from exc
    header = [str(k) for k in first] if ok and isinstance(first, dict) else []

    def rows() -> Iterator[tuple[str, Row]]:
        number, has, item = 1, ok, first
        try:
            while has:
                location = f"item {number}"
                if isinstance(item, dict):
                    yield location, item
                else:
                    report.skip(location, "not a JSON object")
                number += 1
                try:
                    has, item = next_item()
                except ValueError as exc:
                    report.add_issue(f"item {number}", f"unreadable JSON from here on: {exc}")
                    report.truncated = True
                    return
        finally:
            text.close()

    return TabularSource(header, rows(), encoding)


_SEPARATORS = re.compile(r"[\s,]*")


class _ArrayReader:
    """Decodes the elements of a JSON array from a text stream, one element at a time.

    Keeps a read position into a rolling buffer instead of slicing after every element,
    so that many small elements cost linear time.
    """

    def __init__(self, text: IO[str], initial: str) -> None:
        self._text = text
        self._buffer = initial
        self._pos = 0
        self._exhausted = False
        self._decoder = json.JSONDecoder()

    def _more(self) -> bool:
        if self._exhausted:
            return False
        chunk = self._text.read(HEAD_BYTES)
        if not chunk:
            self._exhausted = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def next_item(self) -> tuple[bool, Any]:
        """(True, item) for the next element, (False, None) at the closing bracket."""
        while True:
            match = _SEPARATORS.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos >= len(self._buffer):
                if self._more():
                    continue
                raise ValueError("the array is not closed (the file may be truncated)")
            if self._buffer[self._pos] == "]":
                return False, None
            try:
                item, end = self._decoder.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError:
                # The element may continue beyond the buffer; read on before giving up.
                if self._more():
                    continue
                raise
            if end == len(self._buffer) and self._more():
                # A number at the very end of the buffer may be cut; decode it again.
                continue
            self._pos = end
            return True, item


def _listed(items: list[Any], report: ParseReport) -> Iterator[tuple[str, Row]]:
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield f"item {number}", item
        else:
            report.skip(f"item {number}", "not a JSON object")


def _xlsx_rows(stream: BinaryIO, report: ParseReport, sheet: str | None) -> TabularSource:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    seekable = stream.seekable() if hasattr(stream, "seekable") else False
    if not seekable:
        # The XLSX container is a ZIP archive, which is read from its end.
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        shutil.copyfileobj(stream, spool)
        spool.seek(0)
        stream = cast(BinaryIO, spool)
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise UnreadableFile("The file is empty.")
    if not head.startswith(b"PK\x03\x04"):
        what = describe_binary(head)
        if what and "old Microsoft Office" in what:
            raise UnreadableFile(
                "This is an old-style Excel .xls file; save it as .xlsx or CSV and upload again."
            )
        raise UnreadableFile("This is not an Excel .xlsx workbook.")
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(f"This Excel workbook cannot be read ({exc}).") from exc
    try:
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    except (KeyError, IndexError) as exc:
        workbook.close()
        raise UnreadableFile(f"The workbook has no sheet {sheet!r}.") from exc

    values = worksheet.iter_rows(values_only=True)
    header: list[str] | None = None
    number = 0
    for cells in values:
        number += 1
        if any(c is not None and str(c).strip() for c in cells):
            header = [str(c).strip() if c is not None else "" for c in cells]
            break
    if header is None:
        workbook.close()
        raise UnreadableFile("The worksheet is empty.")
    # Read-only sheets often report trailing empty columns; keep the named ones.
    while header and not header[-1]:
        header.pop()

    def rows(first_row: int, columns: list[str]) -> Iterator[tuple[str, Row]]:
        row_number = first_row
        try:
            for cells in values:
                row_number += 1
                if not any(c is not None and str(c).strip() for c in cells):
                    continue
                yield (
                    f"row {row_number}",
                    {col: ("" if v is None else v) for col, v in zip(columns, cells, strict=False)},
                )
        finally:
            workbook.close()

    return TabularSource(header, rows(number, header), None, {"sheet": worksheet.title})


def open_tabular(
    stream: BinaryIO, fmt: TabularFormat, report: ParseReport, *, sheet: str | None = None
) -> TabularSource:
    """Open a tabular file for streaming; raises UnreadableFile if it cannot be read at all."""
    if fmt in ("csv", "tsv"):
        return _csv_rows(stream, report, tsv=fmt == "tsv")
    if fmt == "jsonl":
        return _jsonl_rows(stream, report)
    if fmt == "json":
        return _json_rows(stream, report)
    return _xlsx_rows(stream, report, sheet)
