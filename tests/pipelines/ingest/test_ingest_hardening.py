"""Crafted and broken files: refused clearly and fast, and nothing people said changed quietly."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import UTC, date, datetime

import openpyxl
import pytest

from pipelines.ingest import (
    UnreadableFile,
    open_batch,
    parse_batch,
    parse_polis,
    parse_sensemaker_data,
    parse_teams_messages,
    parse_transcript,
    parse_zoom_chat,
)
from pipelines.ingest.guards import INVISIBLE_TEXT, NON_FINITE, OUT_OF_RANGE, TOO_DEEP
from pipelines.ingest.records import ParseReport
from tests.pipelines.ingest import crafted_xlsx
from tests.pipelines.ingest.conftest import ReadFixture


def reasons(report: ParseReport) -> dict[str, str]:
    return {issue.location: issue.reason for issue in report.issues}


class TestCraftedWorkbooks:
    """Each used to hold the job (317 s at progress 0) or the memory (+585 MB)."""

    @pytest.mark.parametrize(
        ("make", "bound"),
        [
            (crafted_xlsx.huge_dimension, r"declares 1048576 rows \(A1:XFD1048576\)"),
            (crafted_xlsx.far_row, "a row 1048576, beyond the limit of 500000 rows"),
            (crafted_xlsx.far_column, "declares 16384 columns"),
        ],
    )
    def test_a_huge_sheet_is_refused_at_once(self, make: object, bound: str) -> None:
        data = make()  # type: ignore[operator]
        assert len(data) < 2000
        with pytest.raises(UnreadableFile, match=bound):
            list(open_batch(data, filename="crafted.xlsx"))

    def test_a_shared_strings_bomb_is_refused_before_it_expands(self) -> None:
        data = crafted_xlsx.shared_strings_bomb()
        assert len(data) < 400_000
        with pytest.raises(
            UnreadableFile, match=r"sharedStrings.xml' would unpack from .*200 times"
        ):
            list(open_batch(data, filename="bomb.xlsx"))

    def test_shared_strings_are_counted_as_they_expand(self) -> None:
        # compressible enough to pass the ratio, too large for a 64 KB upload's bounds
        words = " ".join(f"word{i}" for i in range(40_000))
        shared = (
            f'<sst xmlns="{crafted_xlsx._MAIN}"><si><t>story</t></si><si><t>{words}</t></si></sst>'
        )
        rows = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        data = crafted_xlsx.workbook(crafted_xlsx.sheet_xml(rows), shared)
        with pytest.raises(UnreadableFile, match="shared strings expand to more than"):
            open_batch(data, filename="big.xlsx", max_bytes=64 * 1024)

    def test_sizes_the_archive_lies_about_are_not_trusted(self) -> None:
        rows = "".join(
            crafted_xlsx.inline_row(n, (f"A{n}", f"story {os.urandom(8).hex()}"))
            for n in range(1, 3000)
        )
        honest = crafted_xlsx.workbook(crafted_xlsx.sheet_xml(rows))
        lying = crafted_xlsx.lying_sizes(honest, "xl/worksheets/sheet1.xml", 1000)
        with pytest.raises(UnreadableFile, match="cannot be read"):
            list(open_batch(lying, filename="lying.xlsx"))

    def test_entity_declarations_are_refused(self) -> None:
        sheet = (
            '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>'
            f'<worksheet xmlns="{crafted_xlsx._MAIN}"><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>story &a;</t></is></c></row>'
            "</sheetData></worksheet>"
        )
        with pytest.raises(UnreadableFile, match="DOCTYPE or ENTITY"):
            list(open_batch(crafted_xlsx.workbook(sheet), filename="entities.xlsx"))

    def test_a_real_workbook_is_still_read_with_its_types(self) -> None:
        workbook = openpyxl.Workbook()
        first = workbook.active
        assert first is not None
        first.title = "Notes"
        first.append(["ignored"])
        sheet = workbook.create_sheet("Stories")
        sheet.append(["id", "story", "when", "score", "ok"])
        sheet.append([7, "A shared string story", datetime(2024, 5, 1, 9, 15), 2.5, True])
        sheet.append([8, "Another", date(2024, 5, 2), None, False])
        buffer = io.BytesIO()
        workbook.save(buffer)
        result = parse_batch(buffer.getvalue(), filename="book.xlsx", sheet="Stories")
        one, two = result.records
        assert (one.external_id, one.text, one.occurred_at) == (
            "7",
            "A shared string story",
            datetime(2024, 5, 1, 9, 15),
        )
        assert one.attributes == {"score": "2.5", "ok": "True"}
        assert two.occurred_at == datetime(2024, 5, 2)
        assert two.attributes == {"ok": "False"}

    def test_duplicate_columns_in_a_sheet(self) -> None:
        rows = crafted_xlsx.inline_row(1, ("A1", "story"), ("B1", "site"), ("C1", "site"))
        rows += crafted_xlsx.inline_row(2, ("A2", "A story"), ("B2", "North"), ("C2", "South"))
        with pytest.raises(UnreadableFile, match=r"'site' \(columns 2, 3\)"):
            open_batch(crafted_xlsx.workbook(crafted_xlsx.sheet_xml(rows)), filename="d.xlsx")


class TestBounds:
    def test_a_header_wider_than_the_bound_is_refused(self) -> None:
        header = ",".join(f"c{i}" for i in range(3000))
        with pytest.raises(UnreadableFile, match="3001 columns, more than the 2048"):
            open_batch(f"text,{header}\nA story\n".encode(), filename="wide.csv")

    def test_an_overlong_jsonl_line_is_refused_alone(self) -> None:
        long_line = json.dumps({"text": "x" * (5 * 1024 * 1024)})
        data = "\n".join([json.dumps({"text": "before"}), long_line, json.dumps({"text": "after"})])
        result = parse_batch(data.encode(), fmt="jsonl", max_text_length=1000)
        assert [r.text for r in result.records] == ["before", "after"]
        assert "longer than 8" not in reasons(result.report)["line 2"]
        assert "the limit for one record" in reasons(result.report)["line 2"]

    def test_an_overlong_csv_field_is_refused_alone(self) -> None:
        data = b"text,site\nbefore,N\n" + b"y" * (5 * 1024 * 1024) + b",S\nafter,E\n"
        result = parse_batch(data, max_text_length=1000)
        assert [r.text for r in result.records] == ["before", "after"]
        assert "the limit for one row" in reasons(result.report)["row 3 (line 3)"]


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


class TestNesting:
    def test_a_jsonl_record_nested_10000_deep_is_refused_alone(self) -> None:
        lines = [
            json.dumps({"text": "kept"}),
            '{"text": "deep", "meta": ' + _deep(10_000) + "}",
            json.dumps({"text": "also kept"}),
        ]
        result = parse_batch("\n".join(lines).encode(), fmt="jsonl")
        assert [r.text for r in result.records] == ["kept", "also kept"]
        assert reasons(result.report)["line 2"] == f"the record {TOO_DEEP}"

    def test_a_record_over_the_nesting_bound_is_refused(self) -> None:
        lines = [json.dumps({"text": "kept"}), '{"text": "deep", "meta": ' + _deep(40) + "}"]
        result = parse_batch("\n".join(lines).encode(), fmt="jsonl")
        assert [r.text for r in result.records] == ["kept"]
        assert reasons(result.report)["line 2"] == f"the record {TOO_DEEP}"

    @pytest.mark.parametrize(
        "document",
        [
            '[{"text": "a"}, {"text": "deep", "meta": ' + _deep(10_000) + "}]",
            '{"narratives": [{"text": "deep", "meta": ' + _deep(10_000) + "}]}",
        ],
    )
    def test_a_json_document_nested_10000_deep_is_refused(self, document: str) -> None:
        with pytest.raises(UnreadableFile, match=TOO_DEEP):
            list(open_batch(document.encode(), fmt="json"))

    def test_a_json_item_over_the_bound_is_refused_alone(self) -> None:
        document = '[{"text": "a"}, {"text": "deep", "meta": ' + _deep(40) + "}]"
        result = parse_batch(document.encode(), fmt="json")
        assert [r.text for r in result.records] == ["a"]
        assert reasons(result.report)["item 2"] == f"the record {TOO_DEEP}"

    def test_a_teams_export_nested_10000_deep_is_refused(self) -> None:
        with pytest.raises(UnreadableFile, match=TOO_DEEP):
            parse_teams_messages(('{"value": ' + _deep(10_000) + "}").encode())


class TestNonFinite:
    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309"])
    def test_jsonl_attribute_is_left_out_and_reported(self, literal: str) -> None:
        data = f'{{"text": "A story", "age": {literal}, "site": "North"}}\n'
        result = parse_batch(data.encode(), fmt="jsonl")
        (record,) = result.records
        assert record.attributes == {"site": "North"}
        assert reasons(result.report)["line 1"] == f"attribute 'age' {NON_FINITE}; not stored"

    def test_nested_non_finite_attribute(self) -> None:
        data = b'[{"text": "A story", "scores": [1, NaN]}]'
        result = parse_batch(data, fmt="json")
        assert result.records[0].attributes == {}
        assert reasons(result.report)["item 1"].startswith("attribute 'scores'[1] is not a finite")

    def test_non_finite_text_is_refused(self) -> None:
        result = parse_batch(b'{"text": NaN}\n{"text": "fine"}\n', fmt="jsonl")
        assert [r.text for r in result.records] == ["fine"]
        assert reasons(result.report)["line 1"] == f"the text column 'text' {NON_FINITE}"

    def test_non_finite_signifier_value(self) -> None:
        from pipelines.ingest import ColumnMapping, SignifierSpec

        spec = SignifierSpec(key="control", kind="dyad", label="Control", poles=["a", "b"])
        mapping = ColumnMapping(text="text", signifiers={"control": "control"})
        for data in (b'{"text": "s", "control": Infinity}\n', b'{"text": "s", "control": "inf"}\n'):
            result = parse_batch(data, fmt="jsonl", mapping=mapping, specs=[spec])
            assert result.records[0].signifiers == {}
            assert NON_FINITE in reasons(result.report)["line 1"]

    @pytest.mark.parametrize("cell", ["nan", "inf", "1e309", "-Infinity"])
    def test_csv_numbers_never_become_non_finite(self, cell: str) -> None:
        from pipelines.ingest import ColumnMapping, SignifierSpec

        spec = SignifierSpec(key="focus", kind="triad", label="Focus", anchors=["a", "b", "c"])
        mapping = ColumnMapping(text="text", signifiers={"focus": "focus"})
        data = f'text,focus\nA story,"0.5;0.5;{cell}"\n'.encode()
        result = parse_batch(data, mapping=mapping, specs=[spec])
        assert result.records[0].signifiers == {}
        assert NON_FINITE in reasons(result.report)["row 2"]


EDGE_DATES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1850-06-01")


class TestDatesOutOfRange:
    def test_csv_rows_with_edge_dates_are_refused_alone(self) -> None:
        rows = ["id,text,date", "a,First,2024-01-01"]
        rows += [f"e{i},Edge {i},{value}" for i, value in enumerate(EDGE_DATES)]
        rows.append("z,Last,2024-02-01")
        result = parse_batch("\n".join(rows).encode())
        assert [r.external_id for r in result.records] == ["a", "z"]
        found = reasons(result.report)
        for n, value in enumerate(EDGE_DATES, start=3):
            assert found[f"row {n}"] == f"column 'date': {value!r} {OUT_OF_RANGE}"
        assert result.report.skipped == 3

    def test_sensemaker_rows(self, fixture_bytes: ReadFixture) -> None:
        original = fixture_bytes("sensemaker_mini_data.csv")
        rows = list(csv.reader(io.StringIO(original.decode("utf-8-sig"))))
        rows[1][rows[0].index("server_upload_time")] = EDGE_DATES[1]
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        definition = fixture_bytes("sensemaker_mini_definition.json")
        before = parse_sensemaker_data(original, definition)
        after = parse_sensemaker_data(out.getvalue().encode(), definition)
        assert len(after.records) == len(before.records) - 1
        assert reasons(after.report)["row 2"] == (
            f"server_upload_time {EDGE_DATES[1]!r} {OUT_OF_RANGE}"
        )

    def test_polis_comments(self) -> None:
        data = (
            b"timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
            b"4102444800000,x,1,4,0,0,1,A comment in 2100\n"
            b"1700000000000,x,2,5,0,0,1,A comment of 2023\n"
        )
        result = parse_polis(data)
        assert [r.external_id for r in result.records] == ["2"]
        assert OUT_OF_RANGE in reasons(result.report)["row 2"]

    def test_teams_message(self) -> None:
        messages = {
            "value": [
                {
                    "id": "1",
                    "createdDateTime": "0001-01-01T00:00:00+01:00",
                    "body": {"content": "x"},
                },
                {"id": "2", "createdDateTime": "2024-03-05T10:00:00Z", "body": {"content": "ok"}},
            ]
        }
        result = parse_teams_messages(json.dumps(messages).encode())
        assert [r.external_id for r in result.records] == ["2"]
        assert reasons(result.report)["message 1"] == f"createdDateTime {OUT_OF_RANGE}"

    def test_zoom_chat_running_past_the_last_day_kept(self) -> None:
        chat = b"23:59:00\t From  Ana : Last words of the year\n00:01:00\t From  Ben : Too late\n"
        result = parse_zoom_chat(chat, session_date=date(2099, 12, 31), tz="UTC")
        assert [r.text for r in result.records] == ["Last words of the year"]
        assert OUT_OF_RANGE in reasons(result.report)["line 2"]
        # the last date Python has: the day after cannot even be computed
        last = parse_zoom_chat(chat, session_date=date(9999, 12, 31), tz="UTC")
        assert last.records == [] and last.report.skipped == 2

    def test_transcript_start_out_of_range(self) -> None:
        vtt = b"WEBVTT\n\n00:01.000 --> 00:02.000\nAna: hello\n"
        with pytest.raises(UnreadableFile, match="session start"):
            parse_transcript(vtt, session_start=datetime(9999, 12, 31, tzinfo=UTC))

    def test_transcript_turn_past_the_range(self) -> None:
        vtt = (
            b"WEBVTT\n\n00:01.000 --> 00:02.000\nAna: hello\n\n"
            b"900:00:00.000 --> 900:00:01.000\nBen: hi\n"
        )
        result = parse_transcript(vtt, session_start=datetime(2099, 12, 31, tzinfo=UTC))
        assert [r.text for r in result.records] == ["hello"]
        assert OUT_OF_RANGE in reasons(result.report)["line 6"]


class TestMixedEncodings:
    UTF8 = "Ana,déjà vu again"
    CP1252 = "Ben,café crème"

    def _file(self, *lines: tuple[str, str]) -> bytes:
        return b"\n".join([b"name,story", *(text.encode(enc) for text, enc in lines)]) + b"\n"

    @pytest.mark.parametrize("first", ["utf-8", "cp1252"])
    def test_each_line_is_read_in_its_own_encoding_and_reported(self, first: str) -> None:
        order = [(self.UTF8, "utf-8"), (self.CP1252, "cp1252")]
        if first == "cp1252":
            order.reverse()
        result = parse_batch(self._file(*order))
        assert sorted(r.text for r in result.records) == ["café crème", "déjà vu again"]
        assert result.report.encoding == "utf-8+cp1252"
        note = reasons(result.report)["file"]
        assert note.startswith("the file mixes UTF-8 and Windows-1252 lines")

    def test_mixed_lines_after_the_head(self) -> None:
        filler = [(f"Ana,plain story {i}", "utf-8") for i in range(5000)]
        data = self._file(*filler, (self.UTF8, "utf-8"), (self.CP1252, "cp1252"))
        assert len(data) > 64 * 1024
        result = parse_batch(data)
        assert {r.text for r in result.records} >= {"café crème", "déjà vu again"}
        assert "mixes UTF-8 and Windows-1252" in reasons(result.report)["file"]

    def test_a_file_in_one_encoding_is_not_reported(self) -> None:
        lines = [(self.CP1252, "cp1252"), ("Cy,the café's façade and déjà vu", "cp1252")]
        result = parse_batch(self._file(*lines))
        assert result.report.encoding == "cp1252"
        assert [r.text for r in result.records] == ["café crème", "the café's façade and déjà vu"]
        assert result.report.issues == []

    def test_transcripts_too(self) -> None:
        data = "Ana: déjà vu\n".encode() + "Ben: café crème\n".encode("cp1252")
        result = parse_transcript(data)
        assert [r.text for r in result.records] == ["déjà vu", "café crème"]
        assert "mixes UTF-8 and Windows-1252" in reasons(result.report)["file"]


class TestBrokenQuotes:
    def test_a_row_cut_inside_a_quote_is_refused_not_merged(self) -> None:
        data = (
            b'id,story,site\n1,"A story that was cut,North\n2,"Second story",South\n3,Third,East\n'
        )
        result = parse_batch(data)
        assert [r.text for r in result.records] == ["Third"]
        reason = reasons(result.report)["row 2 (lines 2-3)"]
        assert "quoted field opened on line 2 is not closed" in reason

    def test_a_file_ending_inside_a_quote(self) -> None:
        data = b'id,story,site\n1,A fine one,North\n2,"cut at the end,South\n3,Third,East\n'
        result = parse_batch(data)
        assert [r.text for r in result.records] == ["A fine one"]
        assert "not closed" in reasons(result.report)["row 3 (lines 3-4)"]

    def test_legitimate_quotes_and_line_breaks_are_kept(self) -> None:
        data = b'id,story\n1,"Two lines,\nwith a ""quote"" inside"\n2,She is 5" tall\n'
        result = parse_batch(data)
        assert [r.text for r in result.records] == [
            'Two lines,\nwith a "quote" inside',
            'She is 5" tall',
        ]
        assert result.report.issues == []


class TestDuplicateColumns:
    def test_csv_is_refused_naming_the_columns(self) -> None:
        with pytest.raises(UnreadableFile, match=r"'site' \(columns 2, 4\).*Rename the columns"):
            open_batch(b"story,site,role,site\nA story,North,nurse,South\n")

    def test_jsonl_record_with_a_key_twice_is_refused(self) -> None:
        data = b'{"text": "first", "text": "second"}\n{"text": "fine"}\n'
        result = parse_batch(data, fmt="jsonl")
        assert [r.text for r in result.records] == ["fine"]
        assert "'text' more than once" in reasons(result.report)["line 1"]


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


class TestInvisibleText:
    def test_batch_rows(self) -> None:
        result = parse_batch(f"text\n{ZERO_WIDTH}\nvisible\n".encode())
        assert [r.text for r in result.records] == ["visible"]
        assert reasons(result.report)["row 2"] == f"the text {INVISIBLE_TEXT}"

    def test_jsonl(self) -> None:
        data = json.dumps({"text": ZERO_WIDTH}) + "\n" + json.dumps({"text": "ok"})
        result = parse_batch(data.encode(), fmt="jsonl")
        assert [r.text for r in result.records] == ["ok"]

    def test_chats_and_transcripts(self) -> None:
        chat = f"10:00:00\t From  Ana : {ZERO_WIDTH}\n10:00:05\t From  Ben : hello all, a story\n"
        zoom = parse_zoom_chat(chat.encode())
        assert [r.text for r in zoom.records] == ["hello all, a story"]
        assert reasons(zoom.report)["line 1"] == f"the message {INVISIBLE_TEXT}"
        vtt = (
            f"WEBVTT\n\n00:01.000 --> 00:02.000\n{ZERO_WIDTH}\n\n00:03.000 --> 00:04.000\nBen: hi\n"
        )
        transcript = parse_transcript(vtt.encode())
        assert [r.text for r in transcript.records] == ["hi"]


class TestCaptions:
    def test_a_vtt_cue_at_99_99_99_is_refused(self) -> None:
        vtt = (
            b"WEBVTT\n\n00:01.000 --> 00:02.000\nAna: a\n\n"
            b"99:99:99.999 --> 99:99:99.999\nAna: late\n"
        )
        result = parse_transcript(vtt)
        assert [(r.text, r.offset_seconds) for r in result.records] == [("a", 1.0)]
        assert "minutes and seconds run from 00 to 59" in reasons(result.report)["line 6"]

    def test_an_srt_block_with_a_bad_number_is_not_merged(self) -> None:
        srt = (
            b"1\n00:00:01,000 --> 00:00:02,000\nHello there\n"
            b"2x\n00:00:03,000 --> 00:00:04,000\nNext words\n"
        )
        result = parse_transcript(srt)
        assert [(r.text, r.offset_seconds) for r in result.records] == [
            ("Hello there", 1.0),
            ("Next words", 3.0),
        ]
        assert "'2x' stands where the cue number belongs" in reasons(result.report)["line 4"]

    def test_an_srt_block_numbered_badly_is_reported(self) -> None:
        srt = (
            b"1\n00:00:01,000 --> 00:00:02,000\nHello\n\nx2\n00:00:03,000 --> 00:00:04,000\nNext\n"
        )
        result = parse_transcript(srt)
        assert [r.text for r in result.records] == ["Hello", "Next"]
        assert "'x2' is not a number" in reasons(result.report)["line 5"]


class TestZoomDirectMessagesOnly:
    def test_fails_clearly(self) -> None:
        chat = (
            b"10:00:00 From Ana Silva to Ben(Direct Message):\n\tsee you at 3\n"
            b"10:01:00 From Ben to Ana Silva(Direct Message):\n\tok\n"
        )
        with pytest.raises(UnreadableFile, match=r"only direct messages \(2\)"):
            parse_zoom_chat(chat)


def test_the_crafted_workbooks_are_valid_zip_archives() -> None:
    with zipfile.ZipFile(io.BytesIO(crafted_xlsx.huge_dimension())) as archive:
        assert archive.testzip() is None


def test_indexed_quotes_still_find_their_targets() -> None:
    # reactions and replies are matched through an index (bench.adversarial times it)
    chat = (
        "10:00:00 From Ana to Everyone:\n\tThe handover moved to eight\n"
        "10:00:05 From Ben to Everyone:\n\tA different matter entirely\n"
        '10:00:10 From Cy to Everyone:\n\tReacted to "The handover moved..." with 👍\n'
        '10:00:20 From Dee to Everyone:\n\tReplying to "the handover"\n\tWho decided?\n'
    )
    result = parse_zoom_chat(chat.encode())
    assert [len(r.reactions) for r in result.records] == [1, 0, 0]
    assert result.records[2].replies_to == 0


def test_a_huge_number_as_a_date_is_no_date() -> None:
    data = ('{"text": "A story", "date": 1' + "0" * 400 + "}\n").encode()
    result = parse_batch(data, fmt="jsonl")
    assert result.records[0].occurred_at is None
    assert "is not a date" in reasons(result.report)["line 1"]


def test_an_archive_of_very_many_parts_is_refused_before_its_directory_is_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i in range(60_000):
            archive.writestr(f"xl/media/{i:08d}-{'p' * 40}.bin", b"")
    with pytest.raises(UnreadableFile, match="table of contents is"):
        open_batch(out.getvalue(), filename="parts.xlsx")
