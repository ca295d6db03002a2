"""Small hand-made XLSX workbooks, written with zipfile, for the spreadsheet bounds tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Stories" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(rows: str, dimension: str | None = None) -> str:
    """A worksheet part around `rows` (the <row> elements), with an optional dimension."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">{dim}'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )


def workbook(sheet: str, shared: str | None = None, extra: Mapping[str, str] = {}) -> bytes:
    """An XLSX holding one worksheet part, optional shared strings and extra parts."""
    shared = shared or f'<sst xmlns="{_MAIN}" count="0" uniqueCount="0"></sst>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr("xl/sharedStrings.xml", shared)
        for name, text in extra.items():
            archive.writestr(name, text)
    return out.getvalue()


def inline_row(number: int, *cells: tuple[str, str]) -> str:
    """A <row> of inline-string cells given as (reference, text)."""
    body = "".join(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>' for ref, text in cells)
    return f'<row r="{number}">{body}</row>'


def huge_dimension() -> bytes:
    """About 1.5 KB: a sheet that claims every row and column Excel allows, with a cell in
    the last of them, so a reader that trusts the dimension pads a million rows."""
    rows = (
        inline_row(1, ("A1", "story"))
        + inline_row(2, ("A2", "A short story."))
        + inline_row(1048576, ("XFD1048576", "the last cell"))
    )
    return workbook(sheet_xml(rows, dimension="A1:XFD1048576"))


def far_row() -> bytes:
    """A real cell on Excel's last row, a million rows below the header."""
    rows = (
        inline_row(1, ("A1", "story"))
        + inline_row(2, ("A2", "A short story."))
        + inline_row(1048576, ("A1048576", "far away"))
    )
    return workbook(sheet_xml(rows))


def far_column() -> bytes:
    """A header whose last cell is on Excel's last column (XFD)."""
    rows = inline_row(1, ("A1", "story"), ("XFD1", "last")) + inline_row(2, ("A2", "A story."))
    return workbook(sheet_xml(rows, dimension="A1:XFD2"))


def shared_strings_bomb(size: int = 300 * 1024 * 1024) -> bytes:
    """A few hundred KB that expand to `size` bytes of shared strings."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        rows = (
            '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>1</v></c></row>'
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml(rows, dimension="A1:A2"))
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            opening = f'<sst xmlns="{_MAIN}" count="2" uniqueCount="2"><si><t>story</t></si><si><t>'
            part.write(opening.encode())
            chunk = b"a" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                part.write(chunk)
            part.write(b"</t></si></sst>")
    return out.getvalue()


def lying_sizes(data: bytes, member: str, declared: int) -> bytes:
    """`data` with `member`'s uncompressed size rewritten to `declared` in both headers."""
    archive = bytearray(data)
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := archive.find(signature, start)) >= 0:
            start = at + 4
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if archive[name_at : name_at + len(name)] == name:
                archive[at + offset : at + offset + 4] = declared.to_bytes(4, "little")
    return bytes(archive)
