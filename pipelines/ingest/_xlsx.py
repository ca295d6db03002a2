"""A streaming XLSX reader with bounds on everything a crafted workbook can inflate.

A workbook is a ZIP archive of XML parts. Its declared sheet size, its shared strings and its
compressed members cost nothing to claim and a lot to honour, so every part is read through a
counter that refuses the file as soon as a bound is passed: the sizes the archive declares
are checked first, then the bytes actually decompressed (declared sizes can lie). Sheet XML
is parsed with `iterparse` a row at a time; rows are never padded out to the declared
dimension, and shared strings are kept in a temporary file with only their offsets in memory.
"""

from __future__ import annotations

import math
import re
import tempfile
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError, iterparse

from pipelines.ingest.records import UnreadableFile

#: Excel's own maximum sheet size; anything beyond is not a workbook Excel wrote.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: Most columns read from a sheet (the header's width).
MAX_COLUMNS = 2_048
#: Parts that compress better than this (and expand past MIN_RATIO_BYTES) are refused:
#: spreadsheet XML compresses 5 to 30 times; a thousandfold ratio is a decompression bomb.
MAX_COMPRESSION_RATIO = 200
MIN_RATIO_BYTES = 1024 * 1024
#: Most parts in the archive (a workbook has a few dozen).
MAX_MEMBERS = 10_000
#: Most shared strings, and most bytes of shared-strings XML.
MAX_SHARED_STRINGS = 5_000_000
#: XML declarations that OOXML never uses and that entity expansion needs.
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")
_CHUNK = 64 * 1024

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d{1,7})$")
_AREA = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?$")
#: Built-in number formats that show dates or times.
_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


@dataclass(frozen=True)
class XlsxLimits:
    """Bounds for one workbook; derived from the upload's row and byte limits by default."""

    max_rows: int
    #: total bytes decompressed from the archive
    max_unpacked: int
    #: bytes of shared-strings XML
    max_shared_bytes: int
    max_cells: int
    max_columns: int = MAX_COLUMNS
    max_shared_strings: int = MAX_SHARED_STRINGS

    @classmethod
    def derived(cls, max_rows: int, max_bytes: int) -> XlsxLimits:
        """Room for a workbook as large as the upload limit allows, and no more: XML text
        compresses about 4 to 8 times, and a row holds at most a few dozen cells."""
        return cls(
            max_rows=max_rows,
            max_unpacked=8 * max_bytes,
            max_shared_bytes=4 * max_bytes,
            max_cells=max(64 * max_rows, 100_000),
        )


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def _too_big(what: str) -> UnreadableFile:
    return UnreadableFile(
        f"This Excel workbook is too large to read: {what}. Delete unused rows and columns, "
        "or save the sheet as CSV and upload that."
    )


class _Budget:
    """The bytes decompressed so far from one archive, against its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise _too_big(f"its parts expand to more than {_size(self.limit)}")


class _BoundedPart:
    """One archive member, read through the budget, its declared size and a part limit."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        budget: _Budget,
        limit: int,
        what: str,
    ) -> None:
        self._raw = archive.open(info)
        self._info = info
        self._budget = budget
        self._limit = limit
        self._what = what
        self._read = 0
        self._tail = b""

    def read(self, n: int = -1) -> bytes:
        size = _CHUNK if n is None or n < 0 else min(n, _CHUNK)
        try:
            data = self._raw.read(size)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise UnreadableFile(f"This Excel workbook cannot be read ({exc}).") from exc
        self._read += len(data)
        self._budget.spend(len(data))
        if self._read > self._limit:
            raise _too_big(f"its {self._what} expand to more than {_size(self._limit)}")
        if self._read > MIN_RATIO_BYTES and self._read > MAX_COMPRESSION_RATIO * max(
            self._info.compress_size, 1
        ):
            raise _too_big(f"its {self._what} compress more than {MAX_COMPRESSION_RATIO} to 1")
        window = self._tail + data
        if any(marker in window for marker in _FORBIDDEN):
            raise UnreadableFile(
                "This Excel workbook holds XML declarations (DOCTYPE or ENTITY) that Excel "
                "never writes; it cannot be read."
            )
        self._tail = window[-16:]
        return data

    def close(self) -> None:
        self._raw.close()


#: Largest central directory (the archive's table of contents) read: zipfile builds an
#: object per entry, so a directory of a million entries would cost gigabytes before any
#: part is opened. A workbook's is a few kilobytes.
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024


def _check_directory(stream: BinaryIO) -> None:
    """Refuse an archive whose end record declares an oversized central directory."""
    stream.seek(0, 2)
    size = stream.tell()
    tail_at = max(0, size - (65_536 + 22))
    stream.seek(tail_at)
    tail = stream.read()
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return  # zipfile says what is wrong
    directory = int.from_bytes(tail[at + 12 : at + 16], "little")
    locator = at - 20
    if directory == 0xFFFFFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        record_at = int.from_bytes(tail[locator + 8 : locator + 16], "little")
        stream.seek(record_at)
        record = stream.read(56)
        stream.seek(0)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            directory = int.from_bytes(record[40:48], "little")
    if directory > MAX_DIRECTORY_BYTES:
        raise _too_big(f"its table of contents is {_size(directory)}")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index


class XlsxBook:
    """An opened workbook: its sheets, shared strings and date styles."""

    def __init__(self, stream: BinaryIO, limits: XlsxLimits) -> None:
        self.limits = limits
        _check_directory(stream)
        try:
            self._zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise UnreadableFile(f"This Excel workbook cannot be read ({exc}).") from exc
        self._budget = _Budget(limits.max_unpacked)
        self._strings: IO[bytes] | None = None
        self._offsets = array("q")
        try:
            self._check_declared()
            self._date1904 = False
            self._sheets = self._read_sheets()
            self._date_styles = self._read_styles()
            self._read_shared_strings()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()
            self._strings = None
        self._zip.close()

    # --- the archive ----------------------------------------------------------------------

    def _check_declared(self) -> None:
        members = self._zip.infolist()
        if len(members) > MAX_MEMBERS:
            raise _too_big(f"it holds {len(members)} parts")
        declared = sum(m.file_size for m in members)
        if declared > self.limits.max_unpacked:
            raise _too_big(
                f"its parts declare {_size(declared)} once decompressed, more than "
                f"{_size(self.limits.max_unpacked)}"
            )
        for member in members:
            if (
                member.file_size > MIN_RATIO_BYTES
                and member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1)
            ):
                raise _too_big(
                    f"its part {member.filename!r} would unpack from "
                    f"{_size(member.compress_size)} to {_size(member.file_size)} (more than "
                    f"{MAX_COMPRESSION_RATIO} times its packed size), as damaged or crafted "
                    "files do"
                )

    def _member(self, name: str) -> zipfile.ZipInfo | None:
        try:
            return self._zip.getinfo(name)
        except KeyError:
            return None

    def _part(self, name: str, what: str, limit: int | None = None) -> _BoundedPart | None:
        info = self._member(name)
        if info is None:
            return None
        return _BoundedPart(self._zip, info, self._budget, limit or self.limits.max_unpacked, what)

    def _elements(self, part: _BoundedPart) -> Iterator[tuple[str, Element]]:
        try:
            yield from iterparse(part, events=("start", "end"))
        except ParseError as exc:
            raise UnreadableFile(
                f"This Excel workbook cannot be read (broken XML: {exc})."
            ) from exc
        finally:
            part.close()

    def _small_document(self, name: str) -> Element | None:
        """A small part (workbook, relationships, styles) parsed whole, within 16 MB."""
        part = self._part(name, "workbook parts", 16 * 1024 * 1024)
        if part is None:
            return None
        root: Element | None = None
        for event, element in self._elements(part):
            if event == "start" and root is None:
                root = element
        return root

    # --- workbook, styles, shared strings -------------------------------------------------

    def _read_sheets(self) -> list[tuple[str, str]]:
        workbook = self._small_document("xl/workbook.xml")
        if workbook is None:
            raise UnreadableFile("This Excel workbook cannot be read (it has no xl/workbook.xml).")
        properties = workbook.find(f"{_NS_MAIN}workbookPr")
        self._date1904 = properties is not None and properties.get("date1904") in ("1", "true")
        rels = self._small_document("xl/_rels/workbook.xml.rels")
        targets: dict[str, str] = {}
        for rel in rels.iter(f"{_NS_PKG_REL}Relationship") if rels is not None else ():
            target = rel.get("Target") or ""
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            targets[rel.get("Id") or ""] = target
        sheets: list[tuple[str, str]] = []
        for sheet in workbook.iter(f"{_NS_MAIN}sheet"):
            part = targets.get(sheet.get(f"{_NS_REL}id") or "")
            if part:
                sheets.append((sheet.get("name") or "Sheet", part))
        if not sheets:
            raise UnreadableFile("This Excel workbook cannot be read (it lists no sheets).")
        return sheets

    def _read_styles(self) -> list[bool]:
        """For each cell style (xf), whether it shows a date."""
        styles = self._small_document("xl/styles.xml")
        if styles is None:
            return []
        custom: dict[int, str] = {}
        for fmt in styles.iter(f"{_NS_MAIN}numFmt"):
            try:
                custom[int(fmt.get("numFmtId") or "")] = fmt.get("formatCode") or ""
            except ValueError:
                continue
        flags: list[bool] = []
        cell_xfs = styles.find(f"{_NS_MAIN}cellXfs")
        for xf in cell_xfs.iter(f"{_NS_MAIN}xf") if cell_xfs is not None else ():
            try:
                fmt_id = int(xf.get("numFmtId") or 0)
            except ValueError:
                fmt_id = 0
            code = custom.get(fmt_id)
            flags.append(fmt_id in _DATE_FORMAT_IDS if code is None else _is_date_code(code))
        return flags

    def _read_shared_strings(self) -> None:
        part = self._part("xl/sharedStrings.xml", "shared strings", self.limits.max_shared_bytes)
        if part is None:
            return
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        self._strings = spool
        position = 0
        parent: Element | None = None
        for event, element in self._elements(part):
            if event == "start":
                if element.tag == f"{_NS_MAIN}sst":
                    parent = element
                continue
            if element.tag != f"{_NS_MAIN}si":
                continue
            if len(self._offsets) >= self.limits.max_shared_strings:
                raise _too_big(
                    f"it holds more than {self.limits.max_shared_strings} shared strings"
                )
            encoded = _rich_text(element).encode("utf-8")
            self._offsets.append(position)
            spool.write(encoded)
            position += len(encoded)
            if parent is not None:
                parent.clear()
        self._offsets.append(position)

    def shared_string(self, index: int) -> str:
        if self._strings is None or not 0 <= index < len(self._offsets) - 1:
            raise UnreadableFile(
                f"This Excel workbook cannot be read (a cell refers to shared string {index}, "
                "which it does not hold)."
            )
        start, end = self._offsets[index], self._offsets[index + 1]
        self._strings.seek(start)
        return self._strings.read(end - start).decode("utf-8")

    # --- sheets ---------------------------------------------------------------------------

    def sheet(self, name: str | None) -> tuple[str, str]:
        """(title, part name) of the named sheet, or the first."""
        if name is None:
            return self._sheets[0]
        for title, target in self._sheets:
            if title == name:
                return title, target
        raise UnreadableFile(f"The workbook has no sheet {name!r}.")

    def rows(self, part_name: str) -> Iterator[tuple[int, dict[int, Any]]]:
        """(row number, {column index: value}) for each row holding a cell, in file order."""
        part = self._part(part_name, "sheet")
        if part is None:
            raise UnreadableFile(f"This Excel workbook cannot be read (no part {part_name}).")
        limits = self.limits
        sheet_data: Element | None = None
        row_number = 0
        rows_seen = cells_seen = 0
        for event, element in self._elements(part):
            tag = element.tag
            if event == "start":
                if tag == f"{_NS_MAIN}sheetData":
                    sheet_data = element
                elif tag == f"{_NS_MAIN}dimension":
                    self._check_dimension(element.get("ref") or "")
                continue
            if tag != f"{_NS_MAIN}row":
                continue
            rows_seen += 1
            declared = element.get("r")
            row_number = (
                _bounded_int(declared, EXCEL_MAX_ROWS, "row") if declared else row_number + 1
            )
            if row_number > limits.max_rows + 1 or rows_seen > EXCEL_MAX_ROWS:
                raise _too_big(
                    f"it has a row {row_number}, beyond the limit of {limits.max_rows} rows "
                    "per file"
                )
            cells: dict[int, Any] = {}
            column = 0
            for cell in element.iter(f"{_NS_MAIN}c"):
                cells_seen += 1
                if cells_seen > limits.max_cells:
                    raise _too_big(f"it holds more than {limits.max_cells} cells")
                column = self._cell_column(cell.get("r"), column)
                value = self._value(cell)
                if value is not None:
                    cells[column] = value
            if sheet_data is not None:
                sheet_data.clear()
            if cells:
                yield row_number, cells

    def _check_dimension(self, ref: str) -> None:
        area = _AREA.match(ref.strip().upper())
        if area is None:
            return
        first_col, first_row, last_col, last_row = area.groups()
        last_col, last_row = last_col or first_col, last_row or first_row
        rows = int(last_row) - int(first_row) + 1
        columns = _column_index(last_col) - _column_index(first_col) + 1
        if rows > self.limits.max_rows + 1:
            raise _too_big(
                f"its sheet declares {rows} rows ({ref}), more than the limit of "
                f"{self.limits.max_rows} rows per file"
            )
        if columns > self.limits.max_columns:
            raise _too_big(
                f"its sheet declares {columns} columns ({ref}), more than the "
                f"{self.limits.max_columns} columns Weft reads"
            )

    def _cell_column(self, ref: str | None, previous: int) -> int:
        if not ref:
            column = previous + 1
        else:
            match = _CELL_REF.match(ref.upper())
            if match is None:
                raise UnreadableFile(
                    f"This Excel workbook cannot be read (bad cell reference {ref[:20]!r})."
                )
            column = _column_index(match.group(1))
        if column > EXCEL_MAX_COLUMNS:
            raise UnreadableFile(
                f"This Excel workbook cannot be read (cell {ref!r} is beyond Excel's last column)."
            )
        if column > self.limits.max_columns:
            raise _too_big(
                f"it has a cell in column {column}, beyond the {self.limits.max_columns} "
                "columns Weft reads"
            )
        return column

    def _value(self, cell: Element) -> Any:
        kind = cell.get("t") or "n"
        if kind == "inlineStr":
            inline = cell.find(f"{_NS_MAIN}is")
            return _rich_text(inline) if inline is not None else None
        raw = cell.findtext(f"{_NS_MAIN}v")
        if raw is None:
            return None
        if kind == "s":
            try:
                return self.shared_string(int(raw))
            except ValueError as exc:
                raise UnreadableFile(
                    f"This Excel workbook cannot be read (bad shared string index {raw[:20]!r})."
                ) from exc
        if kind in ("str", "e"):
            return raw
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "d":
            try:
                return datetime.fromisoformat(raw.strip())
            except ValueError:
                return raw
        return self._number(raw, cell.get("s"))

    def _number(self, raw: str, style: str | None) -> Any:
        text = raw.strip()
        try:
            number: int | float = float(text) if any(c in text for c in ".eEnN") else int(text)
        except ValueError:
            return raw
        if isinstance(number, float) and not math.isfinite(number):
            return number  # refused by the batch reader, with the column's name
        try:
            is_date = style is not None and self._date_styles[int(style)]
        except (ValueError, IndexError):
            is_date = False
        if is_date:
            epoch = datetime(1904, 1, 1) if self._date1904 else datetime(1899, 12, 30)
            try:
                # serials are days; Excel keeps times to the millisecond
                return epoch + timedelta(milliseconds=round(float(number) * 86_400_000))
            except (OverflowError, ValueError):
                return number
        return number


def _bounded_int(text: str, limit: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise UnreadableFile(
            f"This Excel workbook cannot be read (bad {what} number {text[:20]!r})."
        ) from exc
    if not 1 <= value <= limit:
        raise UnreadableFile(
            f"This Excel workbook cannot be read ({what} {value} is outside what Excel allows)."
        )
    return value


def _rich_text(element: Element) -> str:
    """The text of a shared or inline string: its runs, without phonetic guides."""
    parts: list[str] = []
    for child in element:
        if child.tag == f"{_NS_MAIN}t":
            parts.append(child.text or "")
        elif child.tag == f"{_NS_MAIN}r":
            parts.extend(t.text or "" for t in child.iter(f"{_NS_MAIN}t"))
    return "".join(parts)


def _is_date_code(code: str) -> bool:
    """Whether a custom number format shows a date or time (its unquoted d, m, y, h or s)."""
    bare = _QUOTED.sub("", code).lower()
    return bool(re.search(r"[dmyhs]", bare)) and "general" not in bare
