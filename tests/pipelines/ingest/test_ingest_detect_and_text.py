"""Format detection and the shared text helpers (encodings, HTML, low-content lines)."""

from __future__ import annotations

import codecs
import dataclasses
import json
from collections.abc import Callable

import pytest

from pipelines.ingest import FileFormat, ParseReport, SignifierSpec, UnreadableFile, detect_format
from pipelines.ingest._text import (
    decode_bytes,
    detect_encoding,
    html_to_text,
    is_low_content,
    normalize_newlines,
    slugify,
    unique_keys,
)
from pipelines.ingest.values import ValueProblem, parse_datetime, signifier_value

ReadFixture = Callable[[str], bytes]


class TestDetectFormat:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("zoom_chat_old.txt", FileFormat.ZOOM_CHAT),
            ("zoom_chat_new.txt", FileFormat.ZOOM_CHAT),
            ("transcript_zoom.vtt", FileFormat.WEBVTT),
            ("transcript_teams.vtt", FileFormat.WEBVTT),
            ("transcript.srt", FileFormat.SRT),
            ("transcript_plain.txt", FileFormat.TRANSCRIPT),
            ("teams_messages.json", FileFormat.TEAMS_JSON),
            ("sensemaker_mini_definition.json", FileFormat.SENSEMAKER_DEFINITION),
            ("sensemaker_mini_data.csv", FileFormat.SENSEMAKER_DATA),
        ],
    )
    def test_fixtures(self, fixture_bytes: ReadFixture, name: str, expected: FileFormat) -> None:
        # A neutral name: the content alone must tell.
        assert detect_format("upload.bin", fixture_bytes(name)[:4096]) == expected

    @pytest.mark.parametrize(
        ("filename", "head", "expected"),
        [
            ("stories.csv", b"id,text\n1,hello\n", FileFormat.CSV),
            ("stories.tsv", b"id\ttext\n1\thello\n", FileFormat.TSV),
            (None, b"id\ttext\n1\thello\n", FileFormat.TSV),
            (None, b"id;text;site\n1;hello;x\n", FileFormat.CSV),
            ("x.jsonl", b'{"text": "a"}\n{"text": "b"}\n', FileFormat.JSONL),
            (None, b'{"text": "a"}\n{"text": "b"}\n', FileFormat.JSONL),
            (None, b'[{"text": "a"}]', FileFormat.JSON),
            ("book.xlsx", b"PK\x03\x04\x14\x00", FileFormat.XLSX),
            ("letter.docx", b"PK\x03\x04\x14\x00", FileFormat.UNKNOWN),
            ("scan.pdf", b"%PDF-1.5", FileFormat.UNKNOWN),
            ("noise.bin", bytes(range(256)), FileFormat.UNKNOWN),
            ("notes.txt", b"just a few words", FileFormat.TRANSCRIPT),
            (
                "comments.csv",
                b"timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n",
                FileFormat.POLIS_COMMENTS,
            ),
            (None, b"timestamp,datetime,comment-id,voter-id,vote\n", FileFormat.POLIS_VOTES),
            (
                None,
                b"participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n",
                FileFormat.POLIS_PARTICIPANTS_VOTES,
            ),
        ],
    )
    def test_names_and_heads(self, filename: str | None, head: bytes, expected: FileFormat) -> None:
        assert detect_format(filename, head) == expected

    def test_utf16_excel_text_is_tsv(self) -> None:
        head = codecs.BOM_UTF16_LE + "id\ttext\r\n1\tcafé\r\n".encode("utf-16-le")
        assert detect_format("export.txt", head) == FileFormat.TSV


class TestEncodings:
    def test_bom_variants(self) -> None:
        assert detect_encoding(codecs.BOM_UTF8 + b"a") == "utf-8-sig"
        assert detect_encoding(codecs.BOM_UTF16_LE + "ab".encode("utf-16-le")) == "utf-16"
        assert detect_encoding(codecs.BOM_UTF16_BE + "ab".encode("utf-16-be")) == "utf-16"

    def test_utf16_big_endian_without_bom(self) -> None:
        assert detect_encoding("hello there, all".encode("utf-16-be")) == "utf-16-be"

    def test_windows_1252(self) -> None:
        text = "Naïve “quotes” cost 5 € — déjà vu"
        decoded, encoding = decode_bytes(text.encode("cp1252"))
        assert (decoded, encoding) == (text, "cp1252")

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"\x00\x00\x00\x00", "empty"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
            (b"SQLite format 3\x00", "SQLite"),
            (b"abc\x00def\x00\x01\x02" * 100, "binary"),
        ],
    )
    def test_unreadable(self, data: bytes, message: str) -> None:
        with pytest.raises(UnreadableFile, match=message):
            decode_bytes(data)

    def test_newlines(self) -> None:
        assert normalize_newlines("a\r\r\nb\r\nc\rd\n") == "a\nb\nc\nd\n"


class TestHtml:
    def test_blocks_breaks_entities_and_emoji(self) -> None:
        html = (
            "<div><p>First&nbsp;line &amp; more</p><p>Second<br>third</p>"
            '<emoji alt="🎉"></emoji><attachment id="1"></attachment></div>'
        )
        assert html_to_text(html) == "First line & more\n\nSecond\nthird\n🎉"

    def test_plain_text_untouched(self) -> None:
        assert html_to_text("  no   markup here ") == "no markup here"


class TestLowContent:
    @pytest.mark.parametrize(
        "text",
        [
            "thanks!",
            "Thank you all",
            "+1",
            "👍",
            "🙏🙏",
            "https://example.org/x",
            "ok",
            "Hi all 👋",
            "thanks Ana!",
            "joined",
            "",
            "   ",
        ],
    )
    def test_low(self, text: str) -> None:
        assert is_low_content(text)

    @pytest.mark.parametrize(
        "text",
        [
            "No, the rota is wrong",
            "Thanks to the porters we got the patient home",
            "See https://example.org/x for the audit we did last month",
            "Yes we tried that in 2022 and it failed",
        ],
    )
    def test_not_low(self, text: str) -> None:
        assert not is_low_content(text)


class TestKeys:
    def test_slugs(self) -> None:
        assert slugify("Influences on this situation were…") == "influences_on_this_situation_were"
        assert slugify("Ça va?") == "ca_va"
        assert slugify("¿?", fallback="option") == "option"
        assert unique_keys(["Yes", "yes", "YES!"]) == ["yes", "yes_2", "yes_3"]


class TestValues:
    def test_dates(self) -> None:
        assert parse_datetime("31/12/2024 23:15").isoformat() == "2024-12-31T23:15:00"  # type: ignore[union-attr]
        assert parse_datetime("12/31/2024", dayfirst=False).day == 31  # type: ignore[union-attr]
        assert parse_datetime("") is None
        with pytest.raises(ValueProblem):
            parse_datetime("yesterday-ish")

    def test_not_applicable_and_errors(self) -> None:
        assert signifier_value("N/A", None) is None
        with pytest.raises(ValueProblem, match="outside"):
            signifier_value("-3", SignifierSpec(key="d", kind="dyad", label="D"))

    def test_triad_marker_a_hair_outside_is_zero(self) -> None:
        spec = SignifierSpec(key="t", kind="triad", label="T", anchors=["a", "b", "c"])
        assert signifier_value("0.6;0.4;-0.0004", spec) == pytest.approx([0.6, 0.4, 0.0], abs=1e-3)
        with pytest.raises(ValueProblem, match="negative"):
            signifier_value("0.6;0.6;-0.2", spec)


class TestReport:
    def test_serialisable_and_counted(self) -> None:
        report = ParseReport(format="csv")
        report.skip("row 2", "empty text")
        body = json.loads(json.dumps(dataclasses.asdict(report)))
        assert body["issues"] == [{"location": "row 2", "reason": "empty text"}]
        assert report.skipped == 1
        assert report.issue_count == 1
