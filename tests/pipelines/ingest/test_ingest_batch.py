"""Batch files: CSV/TSV/JSONL/JSON/XLSX, encodings, column mapping, limits and streaming."""

from __future__ import annotations

import codecs
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import openpyxl
import pytest

from pipelines.ingest import (
    ColumnMapping,
    SignifierSpec,
    UnreadableFile,
    infer_mapping,
    open_batch,
    parse_batch,
)

STORIES_CSV = (
    "Story ID,Date submitted,Your story,Title,Name,Organisation,Role\n"
    's-1,03/04/2024,"The ward ran out of gowns, so we borrowed from theatre.",Gowns,Ana Duarte,'
    "Riverside,Nurse\n"
    's-2,2024-04-05T09:30:00Z,"Two lines\nin one cell",,Ben Achterberg,Hillside,Porter\n'
)


class TestCsv:
    def test_inferred_mapping_and_fields(self) -> None:
        result = parse_batch(STORIES_CSV.encode(), filename="stories.csv")
        first, second = result.records
        assert first.text == "The ward ran out of gowns, so we borrowed from theatre."
        assert first.external_id == "s-1"
        assert first.title == "Gowns"
        assert first.author == "Ana Duarte"
        assert first.occurred_at == datetime(2024, 4, 3)  # day first by default; naive
        assert first.attributes == {"Organisation": "Riverside", "Role": "Nurse"}
        assert first.location == "row 2"
        assert second.text == "Two lines\nin one cell"
        assert second.title is None
        assert second.occurred_at == datetime(2024, 4, 5, 9, 30, tzinfo=UTC)
        assert result.report.records == 2
        assert result.report.format == "csv"

    def test_month_first_and_default_zone(self) -> None:
        result = parse_batch(STORIES_CSV.encode(), dayfirst=False, tz="Europe/London")
        first = result.records[0]
        assert first.occurred_at is not None
        assert (first.occurred_at.month, first.occurred_at.day) == (3, 4)
        assert first.occurred_at.utcoffset() == timedelta(0)  # GMT in early March

    def test_semicolon_delimiter_sniffed(self) -> None:
        data = 'id;comment;site\n1;Queue was long; again;North\n2;"Quoted; with semicolon";South\n'
        result = parse_batch(data.encode())
        assert [r.text for r in result.records] == ["Queue was long", "Quoted; with semicolon"]
        assert result.report.issues[0].location == "row 2"  # one value beyond the header

    def test_header_decides_the_delimiter(self) -> None:
        data = 'id,text\n1,"First; second; third; fourth"\n2,plain; with; semicolons\n'
        result = parse_batch(data.encode())
        assert [r.text for r in result.records] == [
            "First; second; third; fourth",
            "plain; with; semicolons",
        ]

    def test_explicit_mapping_and_attribute_list(self) -> None:
        data = b"ref,body,who,grp,ignored\n7,Short account of the day,Sam,Team A,x\n"
        mapping = ColumnMapping(text="body", id="ref", author="who", attributes=["grp"])
        (record,) = parse_batch(data, mapping=mapping).records
        assert (record.external_id, record.author, record.attributes) == (
            "7",
            "Sam",
            {"grp": "Team A"},
        )

    def test_mapping_naming_a_missing_column(self) -> None:
        with pytest.raises(UnreadableFile, match=r"'nope'.*not in the file"):
            open_batch(b"text\nhello there\n", mapping=ColumnMapping(text="text", author="nope"))

    def test_no_text_column(self) -> None:
        with pytest.raises(UnreadableFile, match="No column holding the narrative text"):
            open_batch(b"a,b\n1,2\n")

    def test_single_column_is_the_text(self) -> None:
        (record,) = parse_batch(b"Feedback from the day\nThe lunch break was too short\n").records
        assert record.text == "The lunch break was too short"

    def test_empty_and_overlong_rows_are_issues(self) -> None:
        data = b"id,text\n7,\n8,ok story here\n9," + b"x" * 50 + b"\n\n\n"
        result = parse_batch(data, max_text_length=20)
        assert [r.text for r in result.records] == ["ok story here"]
        assert result.report.skipped == 2
        assert "over the limit of 20" in result.report.issues[-1].reason

    def test_bad_date_is_an_issue_but_row_kept(self) -> None:
        (record,) = (result := parse_batch(b"text,date\nA story,sometime soon\n")).records
        assert record.occurred_at is None
        assert "not a date" in result.report.issues[0].reason

    def test_epoch_milliseconds(self) -> None:
        (record,) = parse_batch(b"text,timestamp\nA story,1717000000000\n").records
        assert record.occurred_at == datetime.fromtimestamp(1717000000, tz=UTC)

    def test_max_rows(self) -> None:
        data = b"text\n" + b"".join(f"story {i}\n".encode() for i in range(10))
        result = parse_batch(data, max_rows=3)
        assert len(result.records) == 3
        assert result.report.truncated

    def test_header_only(self) -> None:
        result = parse_batch(b"id,text\n")
        assert result.records == []


class TestEncodings:
    # Characters that differ between encodings: accents, an en dash, curly quotes, euro.
    TEXT = "Café staff said the crèche closes at 5 \u2013 too early for \u201clate\u201d shifts €"

    def _csv(self) -> str:
        return f"id,text\n1,{self.TEXT}\n"

    @pytest.mark.parametrize(
        ("raw", "encoding"),
        [
            ("utf-8", "utf-8"),
            ("utf-8-sig", "utf-8-sig"),
            ("cp1252", "cp1252"),
        ],
    )
    def test_detected(self, raw: str, encoding: str) -> None:
        result = parse_batch(self._csv().encode(raw))
        assert result.records[0].text == self.TEXT
        assert result.report.encoding == encoding

    def test_excel_unicode_text_utf16_tabs(self) -> None:
        data = codecs.BOM_UTF16_LE + (f"id\ttext\tsite\r\n1\t{self.TEXT}\tNorth\r\n").encode(
            "utf-16-le"
        )
        result = parse_batch(data, filename="export.txt")
        assert result.records[0].text == self.TEXT
        assert result.records[0].attributes == {"site": "North"}
        assert result.report.encoding == "utf-16"

    def test_utf16_without_bom(self) -> None:
        data = f"id\ttext\r\n1\t{self.TEXT}\r\n".encode("utf-16-le")
        assert parse_batch(data).records[0].text == self.TEXT

    def test_windows_1252_after_a_long_ascii_head(self) -> None:
        head = "".join(f"{i},plain ascii story number {i}\n" for i in range(4000))
        data = ("id,text\n" + head + "9999,un café\n").encode("cp1252")
        records = parse_batch(data).records
        assert records[-1].text == "un café"


class TestJson:
    def test_jsonl_with_bad_lines(self) -> None:
        lines = [
            {"id": 1, "text": "First story", "author": "Ana", "team": "A", "score": 3.0},
            "not json",
            [1, 2],
            {"id": 2, "text": "Second story", "extra": {"k": "v"}},
        ]
        data = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
        result = parse_batch(data)
        assert result.report.format == "jsonl"
        assert [r.text for r in result.records] == ["First story", "Second story"]
        assert result.records[0].attributes == {"team": "A", "score": "3"}
        assert result.records[1].attributes == {"extra": "{'k': 'v'}"}
        assert result.report.skipped == 2
        assert {i.location for i in result.report.issues} == {"line 2", "line 3"}

    def test_json_array_streamed(self) -> None:
        items = [{"id": f"n{i}", "narrative": f"Story {i} " + "é" * (i % 7)} for i in range(3000)]
        result = parse_batch(json.dumps(items).encode(), filename="x.json")
        assert len(result.records) == 3000
        assert result.records[-1].external_id == "n2999"

    def test_json_object_wrapping_a_list(self) -> None:
        data = json.dumps({"narratives": [{"story": "Wrapped story"}]}).encode()
        assert parse_batch(data).records[0].text == "Wrapped story"

    def test_truncated_json_array(self) -> None:
        # a cut array is refused whole, saying where it breaks (it used to pass for a
        # file over the row limit)
        data = b'[{"text": "complete"}, {"text": "cut'
        with pytest.raises(UnreadableFile, match=r"from item 2 on.*complete"):
            parse_batch(data)

    def test_not_json(self) -> None:
        with pytest.raises(UnreadableFile, match="not valid JSON"):
            open_batch(b"[nope", fmt="json")


class TestXlsx:
    @staticmethod
    def _workbook(rows: list[list[object]]) -> bytes:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()

    def test_cells_and_types(self) -> None:
        data = self._workbook(
            [
                [None],
                ["ID", "Narrative", "Created", "Site"],
                [101.0, "Spreadsheet story", datetime(2024, 2, 1, 8, 30), "East"],
                [None, None, None, None],
                [102, "Another one", None, None],
            ]
        )
        result = parse_batch(data, filename="upload.xlsx")
        first, second = result.records
        assert first.external_id == "101"
        assert first.occurred_at == datetime(2024, 2, 1, 8, 30)
        assert first.attributes == {"Site": "East"}
        assert first.location == "row 3"
        assert second.location == "row 5"
        assert result.report.format == "xlsx"

    def test_non_seekable_stream(self) -> None:
        data = self._workbook([["text"], ["From a pipe"]])

        class Pipe(io.RawIOBase):
            def __init__(self, payload: bytes) -> None:
                self._inner = io.BytesIO(payload)

            def readable(self) -> bool:
                return True

            def seekable(self) -> bool:
                return False

            def readinto(self, buffer: object) -> int:
                view = memoryview(buffer).cast("B")  # type: ignore[arg-type]
                chunk = self._inner.read(len(view))
                view[: len(chunk)] = chunk
                return len(chunk)

        stream: BinaryIO = io.BufferedReader(Pipe(data))
        assert parse_batch(stream).records[0].text == "From a pipe"

    def test_corrupt_workbook(self) -> None:
        with pytest.raises(UnreadableFile, match="Excel workbook cannot be read"):
            open_batch(b"PK\x03\x04" + b"\x00" * 200, filename="broken.xlsx")

    def test_old_xls(self) -> None:
        with pytest.raises(UnreadableFile, match=r"\.xls"):
            open_batch(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, fmt="xlsx")


class TestSignifierColumns:
    SPECS = (
        SignifierSpec(key="focus", kind="triad", label="Focus", anchors=["a", "b", "c"]),
        SignifierSpec(key="pace", kind="dyad", label="Pace", poles=["slow", "fast"]),
        SignifierSpec(
            key="role",
            kind="mcq",
            label="Role",
            options=[{"key": "nurse", "label": "Nurse"}, {"key": "porter", "label": "Porter"}],
        ),
        SignifierSpec(
            key="feel",
            kind="mcq",
            label="Feel",
            multiple=True,
            options=[{"key": "proud", "label": "Proud"}, {"key": "tired", "label": "Tired"}],
        ),
        SignifierSpec(
            key="map",
            kind="stones",
            label="Map",
            stones=[{"key": "staff", "label": "Staff"}],
            axes={"x": ["l", "r"], "y": ["b", "t"]},
        ),
        SignifierSpec(key="note", kind="free_text", label="Note"),
    )
    MAPPING = ColumnMapping(
        text="text",
        attributes=[],
        signifiers={
            "focus": "focus",
            "pace": "pace",
            "role": "role",
            "feel": "feel",
            "map": "map",
            "note": "note",
        },
    )

    def test_values_decoded(self) -> None:
        data = (
            b"text\tfocus\tpace\trole\tfeel\tmap\tnote\n"
            b'One\t50;30;20\t75\tNurse\tproud|tired\t{"staff": {"x": 0.1, "y": 0.9}}\tfine\n'
            b"Two\tn/a\tN/A\t\t\t\t\n"
            b"Three\t1;2\t150\tsurgeon\tProud\t[1]\t\n"
        )
        result = parse_batch(data, fmt="tsv", mapping=self.MAPPING, specs=self.SPECS)
        one, two, three = (r.signifiers for r in result.records)
        assert one == {
            "focus": pytest.approx([0.5, 0.3, 0.2]),
            "pace": 0.75,
            "role": "nurse",
            "feel": ["proud", "tired"],
            "map": {"staff": {"x": 0.1, "y": 0.9}},
            "note": "fine",
        }
        assert two == {"focus": None, "pace": None}
        assert three == {"feel": ["proud"]}
        problems = [i.reason for i in result.report.issues if i.location == "row 4"]
        assert len(problems) == 4

    def test_without_specs_values_stay_text(self) -> None:
        data = b"text,pace\nOne,0.4\n"
        mapping = ColumnMapping(text="text", signifiers={"pace": "pace"})
        (record,) = parse_batch(data, mapping=mapping).records
        assert record.signifiers == {"pace": "0.4"}


class TestInferMapping:
    def test_common_names(self) -> None:
        mapping = infer_mapping(["Narrative ID", "Created At", "Speaker", "Message", "Subject"])
        assert (mapping.text, mapping.id, mapping.time, mapping.author, mapping.title) == (
            "Message",
            "Narrative ID",
            "Created At",
            "Speaker",
            "Subject",
        )

    def test_text_preferred_over_other_text_like_names(self) -> None:
        assert infer_mapping(["comment", "story"]).text == "story"

    def test_head_noun_decides(self) -> None:
        header = ["Comment ID", "Comment sentiment", "Survey categorical answer", "Survey answer"]
        mapping = infer_mapping(header)
        assert (mapping.id, mapping.text) == ("Comment ID", "Survey answer")

    def test_common_words_only_match_whole_names(self) -> None:
        mapping = infer_mapping(["text", "label_name", "pressure from co-workers"])
        assert mapping.author is None
        assert infer_mapping(["text", "Name"]).author == "Name"

    def test_story_id_is_an_id_not_the_story(self) -> None:
        mapping = infer_mapping(["Story ID", "Your story"])
        assert (mapping.id, mapping.text) == ("Story ID", "Your story")


class TestUnreadable:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"\n\n  \n", "empty"),
            (b"\x00\x01\x02\x03\xff\xfe\xfd" * 500, "binary"),
            (b"%PDF-1.4 binary stuff", "PDF"),
            (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip"),
        ],
    )
    def test_raises_with_a_clear_message(self, data: bytes, message: str) -> None:
        with pytest.raises(UnreadableFile, match=message):
            open_batch(data)


class _GeneratedCsv(io.RawIOBase):
    """A CSV produced on the fly, so the test itself holds no copy of the file."""

    def __init__(self, rows: int) -> None:
        self._chunks: Iterator[bytes] = self._chunked(rows)
        self._pending = b""
        self.size = 0

    @staticmethod
    def _chunked(rows: int) -> Iterator[bytes]:
        yield b"id,story\n"
        for start in range(0, rows, 1000):
            yield "".join(
                f'{i},"Story {i}: the night shift covered, again, because of sickness."\n'
                for i in range(start, min(rows, start + 1000))
            ).encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        while len(self._pending) < len(view):
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.size += n
        return n


def test_streaming_100k_rows_in_flat_memory() -> None:
    rows = 100_000
    source = _GeneratedCsv(rows)
    stream: BinaryIO = io.BufferedReader(source, 64 * 1024)
    tracemalloc.start()
    try:
        reader = open_batch(stream, filename="big.csv")
        count = 0
        for record in reader:
            count += 1
            assert record.text
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows == reader.report.records
    # A parser that kept the file or its rows would peak well above the file's size.
    assert source.size > 6_000_000
    assert peak < 2_000_000, f"peak {peak / 1e6:.1f} MB for a {source.size / 1e6:.1f} MB file"


def test_issues_are_capped() -> None:
    data = b"text,date\n" + b"".join(b"story,not-a-date\n" for _ in range(500))
    reader = open_batch(data, max_issues=10)
    assert len(list(reader)) == 500
    assert len(reader.report.issues) == 10
    assert reader.report.issues_not_stored == 490
    assert reader.report.issue_count == 500
