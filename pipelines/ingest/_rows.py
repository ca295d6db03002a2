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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any, BinaryIO, Literal, cast

from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    LineDecoder,
    PrefixedStream,
    check_text,
    describe_binary,
    detect_encoding,
    line_decodable,
)
from pipelines.ingest._xlsx import MAX_COLUMNS, XlsxBook, XlsxLimits
from pipelines.ingest.guards import TOO_DEEP, nesting_depth_over
from pipelines.ingest.records import ParseReport, UnreadableFile

TabularFormat = Literal["csv", "tsv", "jsonl", "json", "xlsx"]
Row = dict[str, Any]

#: Bytes looked at to detect the encoding and the CSV dialect.
HEAD_BYTES = 64 * 1024
#: A JSON object wrapping the records cannot be streamed; beyond this size it is refused.
MAX_WRAPPED_JSON_CHARS = 64 * 1024 * 1024
#: Default longest line (JSON Lines) or CSV field, in bytes: well over any story.
DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one tabular file may hold; every reader checks them as it goes."""

    max_rows: int = 500_000
    max_bytes: int = DEFAULT_MAX_BYTES
    #: longest line of JSON Lines, longest CSV field, in bytes
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_columns: int = MAX_COLUMNS


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


class _Lines:
    """The decoded lines of a text file (endings kept), each at most `max_line` bytes.

    UTF-8 and Western code pages are decoded line by line (a file mixing them is read right
    and `note()` says so); other encodings (UTF-16) through a text wrapper. A line over the
    bound is not read: its number goes to `overlong` and an empty line stands in for it.
    `recent` holds the lines handed out since the caller last emptied it.
    """

    def __init__(self, raw: IO[bytes], encoding: str, max_line: int) -> None:
        self._raw = raw
        self._max = max_line
        self._decoder = LineDecoder(encoding) if line_decodable(encoding) else None
        self._text = (
            None
            if self._decoder is not None
            else io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        )
        self.number = 0
        self.overlong: list[int] = []
        self.recent: list[str] = []

    @property
    def encoding(self) -> str | None:
        return self._decoder.encoding if self._decoder is not None else None

    def note(self) -> str | None:
        return self._decoder.note() if self._decoder is not None else None

    def _raw_line(self) -> bytes | str:
        if self._text is not None:
            return self._text.readline(self._max + 1)
        return self._raw.readline(self._max + 1)

    def __iter__(self) -> Iterator[str]:
        while True:
            line = self._raw_line()
            if not line:
                return
            self.number += 1
            if len(line) > self._max and not _ends_line(line):
                self.overlong.append(self.number)
                while True:  # skip the rest of the line, a bounded chunk at a time
                    rest = self._raw_line()
                    if not rest or _ends_line(rest):
                        break
                text = "\n"
            elif isinstance(line, bytes):
                assert self._decoder is not None
                text = self._decoder.decode(line)
            else:
                text = line
            self.recent.append(text)
            yield text

    def read(self, size: int) -> str:
        """About `size` characters (whole lines, or a cut of a long line at a character
        boundary); "" at the end. For the JSON readers, which need no line structure."""
        if self._text is not None:
            return self._text.read(size)
        assert self._decoder is not None
        chunk = self._raw.readline(size)
        if not chunk:
            return ""
        if not chunk.endswith(b"\n"):
            # complete a UTF-8 sequence cut at the end of the chunk
            for back in range(1, min(4, len(chunk)) + 1):
                byte = chunk[-back]
                if byte & 0xC0 != 0x80:
                    need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
                    if byte >= 0xC0 and need > back:
                        chunk += self._raw.read(need - back)
                    break
        return self._decoder.decode(chunk)

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        else:
            self._raw.close()


def _ends_line(line: bytes | str) -> bool:
    return line.endswith(b"\n") if isinstance(line, bytes) else line.endswith("\n")


def _text_lines(stream: BinaryIO, head: bytes, max_line: int) -> tuple[_Lines, str]:
    """The lines of the whole file (head replayed), with the encoding detected from the head."""
    if not head.strip(b" \t\r\n\x00"):
        raise UnreadableFile("The file is empty.")
    encoding = detect_encoding(head)
    sample = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    check_text(sample)
    raw = io.BufferedReader(PrefixedStream(head, stream), buffer_size=HEAD_BYTES)
    return _Lines(raw, encoding, max_line), encoding


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name and name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def _check_header(header: list[str], bounds: Bounds) -> None:
    """Refuse a header wider than the bound or naming a column twice."""
    if len(header) > bounds.max_columns:
        raise UnreadableFile(
            f"The header has {len(header)} columns, more than the {bounds.max_columns} Weft "
            "reads; remove the columns you do not need."
        )
    repeated = _duplicates(header)
    if repeated:
        where = "; ".join(
            f"{name!r} (columns {', '.join(str(i + 1) for i, c in enumerate(header) if c == name)})"
            for name in repeated[:10]
        )
        raise UnreadableFile(
            f"The header names the same column more than once: {where}. Rename the "
            "columns so that each has its own name, and upload again."
        )


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


def _unbalanced(lines: list[str], delimiter: str) -> bool:
    """Whether a record's lines leave a quoted field open: an odd number of quotes in a
    record read over several lines (the rows below were swallowed), or in one line that
    opens a quoted field (the file ends inside it)."""
    quotes = sum(line.count('"') for line in lines)
    if quotes % 2 == 0:
        return False
    if len(lines) > 1:
        return True
    line = lines[0] if lines else ""
    return line.startswith('"') or f'{delimiter}"' in line


def _csv_rows(stream: BinaryIO, report: ParseReport, *, tsv: bool, bounds: Bounds) -> TabularSource:
    head = _read_head(stream)
    lines, encoding = _text_lines(stream, head, bounds.max_record_bytes)
    # Decode the head again for sniffing only; the reader itself streams.
    sample = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    delimiter = "\t" if tsv else _sniff_delimiter(sample, ",")
    csv.field_size_limit(bounds.max_record_bytes)
    reader = csv.reader(
        iter(lines), delimiter=delimiter, quotechar='"', doublequote=True, strict=False
    )

    header: list[str] | None = None
    row_number = 0
    try:
        for cells in reader:
            row_number += 1
            if any(c.strip() for c in cells):
                header = [c.strip().removeprefix("\ufeff") for c in cells]
                break
    except csv.Error as exc:
        lines.close()
        raise UnreadableFile(f"The header row cannot be read as CSV ({exc}).") from exc
    if header is None:
        lines.close()
        raise UnreadableFile("The file has no header row.")
    try:
        _check_header(header, bounds)
    except UnreadableFile:
        lines.close()
        raise
    lines.recent.clear()

    def rows(first_row: int, columns: list[str]) -> Iterator[tuple[str, Row]]:
        number = first_row
        overlong = 0
        try:
            while True:
                first_line = lines.number + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    report.skip(f"row {number} (line {first_line})", f"unreadable CSV: {exc}")
                    lines.recent.clear()
                    continue
                number += 1
                span = lines.recent
                last_line = lines.number
                location = f"row {number}"
                where = (
                    f"line {first_line}"
                    if last_line == first_line
                    else (f"lines {first_line}-{last_line}")
                )
                cut = [n for n in lines.overlong[overlong:] if first_line <= n <= last_line]
                overlong = len(lines.overlong)
                if cut:
                    report.skip(
                        f"{location} ({where})",
                        f"line {cut[0]} is longer than {bounds.max_record_bytes} bytes, the "
                        "limit for one row; the row was not read",
                    )
                elif _unbalanced(span, delimiter):
                    report.skip(
                        f"{location} ({where})",
                        f"a quoted field opened on line {first_line} is not closed where the "
                        "row should end, so the lines after it were read into it; the row "
                        "is not stored. Close the quote, or double each quote inside the "
                        'text (""), and upload again',
                    )
                elif any(c.strip() for c in cells):
                    if len(cells) > len(columns):
                        extra = cells[len(columns) :]
                        if any(c.strip() for c in extra):
                            report.add_issue(
                                location, f"{len(extra)} value(s) beyond the header ignored"
                            )
                    span.clear()
                    yield location, dict(zip(columns, cells, strict=False))
                span.clear()
        finally:
            _finish(lines, report)

    return TabularSource(
        header,
        rows(row_number, header),
        encoding,
        {"delimiter": "\\t" if delimiter == "\t" else delimiter},
    )


def _finish(lines: _Lines, report: ParseReport) -> None:
    """Close the file; the report learns its encoding and whether it mixes two."""
    lines.close()
    if lines.encoding is not None:
        report.encoding = lines.encoding
    note = lines.note()
    if note:
        report.add_issue("file", note)


class _PairsHook:
    """Builds JSON objects, remembering keys given twice (json keeps the last silently)."""

    def __init__(self) -> None:
        self.repeated: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) < len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen and key not in self.repeated:
                    self.repeated.append(key)
                seen.add(key)
        return built


def _record_problem(item: Any, hook: _PairsHook) -> str | None:
    """Why a decoded JSON record cannot be read (not an object, keys twice, too deep)."""
    if not isinstance(item, dict):
        return "not a JSON object"
    if hook.repeated:
        keys = ", ".join(repr(k) for k in hook.repeated[:10])
        return f"the record gives the key(s) {keys} more than once; give each key once"
    # a flat record (the common case) cannot be too deep
    if any(isinstance(v, dict | list) for v in item.values()) and nesting_depth_over(item):
        return f"the record {TOO_DEEP}"
    return None


def _maybe_repeated(line: str, item: Any) -> bool:
    """Whether a decoded JSON Lines record may have had a key twice (json keeps the last):
    its line holds one of its keys, quoted, more than once. Cheap, and confirmed by
    decoding again with a _PairsHook."""
    return isinstance(item, dict) and any(line.count(f'"{key}"') > 1 for key in item)


def _jsonl_rows(stream: BinaryIO, report: ParseReport, bounds: Bounds) -> TabularSource:
    head = _read_head(stream)
    lines, encoding = _text_lines(stream, head, bounds.max_record_bytes)
    first_line = head.decode(encoding, errors="replace").removeprefix("\ufeff").lstrip()
    first_line = first_line.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
        header = [str(k) for k in first] if isinstance(first, dict) else []
    except (ValueError, RecursionError):
        header = []
    hook = _PairsHook()

    def rows() -> Iterator[tuple[str, Row]]:
        overlong = 0
        try:
            for line in lines:
                number = lines.number
                location = f"line {number}"
                lines.recent.clear()
                if len(lines.overlong) > overlong:
                    overlong = len(lines.overlong)
                    report.skip(
                        location,
                        f"the line is longer than {bounds.max_record_bytes} bytes, the limit "
                        "for one record",
                    )
                    continue
                if not line.strip():
                    continue
                hook.repeated.clear()
                try:
                    item = json.loads(line)
                    if _maybe_repeated(line, item):
                        item = json.loads(line, object_pairs_hook=hook)
                except RecursionError:
                    report.skip(location, f"the record {TOO_DEEP}")
                    continue
                except ValueError as exc:
                    report.skip(location, f"not valid JSON: {exc}")
                    continue
                problem = _record_problem(item, hook)
                if problem:
                    report.skip(location, problem)
                    continue
                yield location, item
        finally:
            _finish(lines, report)

    return TabularSource(header, rows(), encoding)


_ARRAY_KEYS = ("narratives", "records", "items", "data", "rows", "value", "stories")


def _read_upto(lines: _Lines, limit: int) -> tuple[str, bool]:
    """Up to `limit` characters of the rest of the file, and whether more is left."""
    parts: list[str] = []
    size = 0
    while size <= limit:
        chunk = lines.read(HEAD_BYTES)
        if not chunk:
            return "".join(parts), False
        parts.append(chunk)
        size += len(chunk)
    return "".join(parts), True


def _json_rows(stream: BinaryIO, report: ParseReport, bounds: Bounds) -> TabularSource:
    """Objects of a top-level JSON array, decoded one at a time from a rolling buffer."""
    head = _read_head(stream)
    text, encoding = _text_lines(stream, head, bounds.max_record_bytes)
    buffer = text.read(HEAD_BYTES).removeprefix("\ufeff").lstrip()
    while len(buffer) < 2 and (more := text.read(HEAD_BYTES)):
        buffer = (buffer + more).lstrip()
    hook = _PairsHook()
    if buffer.startswith("{"):
        # An object wrapping the array ({"narratives": [...]}): small enough in practice
        # to load whole, and there is no streaming way to find the right key.
        rest, too_big = _read_upto(text, MAX_WRAPPED_JSON_CHARS)
        _finish(text, report)
        if too_big:
            raise UnreadableFile(
                "This JSON object is too large to read whole; upload the records as a "
                "JSON array or as JSON Lines (one object per line) instead."
            )
        try:
            document = json.loads(buffer + rest)
        except RecursionError as exc:
            raise UnreadableFile(f"This JSON document {TOO_DEEP}.") from exc
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

    array = _ArrayReader(text, buffer[1:], hook)
    next_item = array.next_item

    try:
        ok, first = next_item()
    except UnreadableFile:
        text.close()
        raise
    except ValueError as exc:
        text.close()
        raise UnreadableFile(f"This is not valid JSON: {exc}.") from exc
    header = [str(k) for k in first] if ok and isinstance(first, dict) else []

    def rows() -> Iterator[tuple[str, Row]]:
        number, has, item = 1, ok, first
        try:
            while has:
                location = f"item {number}"
                problem = _record_problem(item, hook)
                if problem:
                    report.skip(location, problem)
                else:
                    yield location, item
                number += 1
                try:
                    has, item = next_item()
                except ValueError as exc:
                    raise UnreadableFile(
                        f"This JSON array cannot be read from item {number} on: {exc}. "
                        "Nothing was stored; check the file is complete."
                    ) from exc
        finally:
            _finish(text, report)

    return TabularSource(header, rows(), encoding)


_SEPARATORS = re.compile(r"[\s,]*")


class _ArrayReader:
    """Decodes the elements of a JSON array from a text stream, one element at a time.

    Keeps a read position into a rolling buffer instead of slicing after every element,
    so that many small elements cost linear time. An element nested too deep for the
    decoder refuses the file: where it ends cannot be known.
    """

    def __init__(self, text: _Lines, initial: str, hook: _PairsHook) -> None:
        self._text = text
        self._buffer = initial
        self._pos = 0
        self._exhausted = False
        self._hook = hook
        self._decoder = json.JSONDecoder()
        self._checker = json.JSONDecoder(object_pairs_hook=hook)

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
            self._hook.repeated.clear()
            try:
                item, end = self._decoder.raw_decode(self._buffer, self._pos)
            except RecursionError as exc:
                raise UnreadableFile(f"This JSON document {TOO_DEEP}.") from exc
            except json.JSONDecodeError:
                # The element may continue beyond the buffer; read on before giving up.
                if self._more():
                    continue
                raise
            if end == len(self._buffer) and self._more():
                # A number at the very end of the buffer may be cut; decode it again.
                continue
            source = self._buffer[self._pos : end]
            if _maybe_repeated(source, item):
                item = self._checker.decode(source)
            self._pos = end
            return True, item


def _listed(items: list[Any], report: ParseReport) -> Iterator[tuple[str, Row]]:
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            report.skip(f"item {number}", "not a JSON object")
        elif nesting_depth_over(item):
            report.skip(f"item {number}", f"the record {TOO_DEEP}")
        else:
            yield f"item {number}", item


def _seekable(stream: BinaryIO, max_bytes: int) -> BinaryIO:
    """The stream itself when it can seek, else a bounded copy (a ZIP is read from its end)."""
    if hasattr(stream, "seekable") and stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    copied = 0
    while chunk := stream.read(HEAD_BYTES):
        copied += len(chunk)
        if copied > max_bytes:
            spool.close()
            raise UnreadableFile(
                f"The file is larger than {max_bytes // (1024 * 1024)} MB, the upload limit."
            )
        spool.write(chunk)
    spool.seek(0)
    return cast(BinaryIO, spool)


def _xlsx_rows(
    stream: BinaryIO, report: ParseReport, sheet: str | None, bounds: Bounds
) -> TabularSource:
    stream = _seekable(stream, bounds.max_bytes)
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
    limits = XlsxLimits.derived(bounds.max_rows, bounds.max_bytes)
    book = XlsxBook(stream, replace(limits, max_columns=bounds.max_columns))
    try:
        title, part = book.sheet(sheet)
        values = book.rows(part)
        header: list[str] | None = None
        for _, cells in values:
            if any(str(c).strip() for c in cells.values()):
                width = max(cells)
                header = [str(cells.get(i, "")).strip() for i in range(1, width + 1)]
                break
        if header is None:
            raise UnreadableFile("The worksheet is empty.")
        # Read-only sheets often report trailing empty columns; keep the named ones.
        while header and not header[-1]:
            header.pop()
        _check_header(header, bounds)
    except BaseException:
        book.close()
        raise

    def rows(columns: list[str]) -> Iterator[tuple[str, Row]]:
        try:
            for row_number, cells in values:
                if not any(str(c).strip() for c in cells.values()):
                    continue
                location = f"row {row_number}"
                extra = [i for i, v in cells.items() if i > len(columns) and str(v).strip()]
                if extra:
                    report.add_issue(location, f"{len(extra)} value(s) beyond the header ignored")
                yield (
                    location,
                    {col: cells.get(i, "") for i, col in enumerate(columns, start=1) if col},
                )
        finally:
            book.close()

    return TabularSource(header, rows(header), None, {"sheet": title})


def open_tabular(
    stream: BinaryIO,
    fmt: TabularFormat,
    report: ParseReport,
    *,
    sheet: str | None = None,
    bounds: Bounds | None = None,
) -> TabularSource:
    """Open a tabular file for streaming; raises UnreadableFile if it cannot be read at all."""
    bounds = bounds or Bounds()
    if fmt in ("csv", "tsv"):
        return _csv_rows(stream, report, tsv=fmt == "tsv", bounds=bounds)
    if fmt == "jsonl":
        return _jsonl_rows(stream, report, bounds)
    if fmt == "json":
        return _json_rows(stream, report, bounds)
    return _xlsx_rows(stream, report, sheet, bounds)
