"""Transcripts: WebVTT (Zoom and Teams), SRT and plain speaker lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.ingest import UnreadableFile, parse_transcript
from pipelines.ingest.transcript import parse_timestamp

ReadFixture = Callable[[str], bytes]
START = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)


class TestZoomVtt:
    def test_consecutive_cues_of_a_speaker_merge(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript_zoom.vtt"))
        assert result.report.format == "transcript_webvtt"
        assert [(r.author, r.text) for r in result.records] == [
            (
                "Ana Duarte",
                "Thanks for joining, let's start with the ward reports. Ben, would you go first?",
            ),
            (
                "Ben Achterberg",
                "Sure. Our main problem this month was late transport. "
                "Patients waited up to four hours after being declared fit.",
            ),
            ("Ana Duarte", "Thank you."),
        ]

    def test_offsets_and_session_start(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript_zoom.vtt"), session_start=START)
        ben = result.records[1]
        assert ben.offset_seconds == pytest.approx(10.1)
        assert ben.occurred_at == START + timedelta(seconds=10.1)
        assert ben.attributes == {"offset_seconds": "10.1", "end_offset_seconds": "19.8"}
        assert result.records[2].low_content

    def test_without_start_no_occurred_at(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript_zoom.vtt"))
        assert all(r.occurred_at is None for r in result.records)
        assert result.records[0].offset_seconds == pytest.approx(1.2)


class TestTeamsVtt:
    def test_voice_spans_notes_and_entities(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript_teams.vtt"))
        assert [(r.author, r.text) for r in result.records] == [
            (
                "Chidi Eze",
                "Good afternoon, can everyone hear me? "
                "I want to share what happened at the night handover.",
            ),
            ("Dana Morrow", "Go ahead, we have ten minutes & then the break."),
            ("Chidi Eze", "Thanks."),
        ]
        assert result.records[0].offset_seconds == pytest.approx(0.52)
        assert result.report.skipped == 0

    def test_voice_with_class_and_no_closing_tag(self) -> None:
        data = b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v.loud Ana Duarte>Hello there\n"
        (record,) = parse_transcript(data).records
        assert record.author == "Ana Duarte"
        assert record.text == "Hello there"
        assert record.offset_seconds == pytest.approx(1.0)


class TestSrt:
    def test_speakers_crlf_and_unknown_speaker(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript.srt"), session_start=START)
        assert result.report.format == "transcript_srt"
        assert [(r.author, r.text) for r in result.records] == [
            ("Mara Quinlan", "The audit is due in May. We are not ready for it."),
            ("Lee Okafor", "What is missing?"),
            (None, "The records for March\nare still on paper."),
        ]
        assert result.records[1].occurred_at == START + timedelta(seconds=6.5)

    def test_cues_without_speaker_are_not_merged(self) -> None:
        data = (
            b"1\n00:00:01,000 --> 00:00:02,000\nfirst words\n\n"
            b"2\n00:00:02,000 --> 00:00:03,000\nsecond words\n"
        )
        assert [r.text for r in parse_transcript(data).records] == ["first words", "second words"]

    def test_bad_timing_is_an_issue(self) -> None:
        data = b"1\n00:00:01,000 --> 00:00:02,000\nAna: fine\n\n2\nnot a time --> ever\nBen: lost\n"
        result = parse_transcript(data, fmt="srt")
        assert [r.text for r in result.records] == ["fine"]
        assert result.report.skipped == 1


class TestPlain:
    def test_bracketed_times_and_continuations(self, fixture_bytes: ReadFixture) -> None:
        result = parse_transcript(fixture_bytes("transcript_plain.txt"), session_start=START)
        assert result.report.format == "transcript_plain"
        assert [(r.author, r.text) for r in result.records] == [
            ("Sam Rivera", "I'll start with the pharmacy queue.\nIt was forty minutes on Tuesday."),
            (
                "Priya N.",
                "That matches what families told us,\n"
                "they were waiting in the corridor with nowhere to sit.",
            ),
            ("Sam Rivera", "ok"),
        ]
        assert result.records[1].occurred_at == START + timedelta(seconds=20)
        assert result.records[2].low_content

    def test_name_colon_lines_without_times(self) -> None:
        data = b"Ana Duarte: We should talk about rotas.\nBen: Agreed, next week.\n"
        records = parse_transcript(data).records
        assert [(r.author, r.offset_seconds) for r in records] == [
            ("Ana Duarte", None),
            ("Ben", None),
        ]

    def test_a_url_is_not_a_speaker(self) -> None:
        data = b"Ana: see this\nhttps://example.org/x: more\n"
        (record,) = parse_transcript(data).records
        assert record.text == "see this\nhttps://example.org/x: more"


class TestTimestamps:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("00:00:01.200", 1.2), ("01:02:03,500", 3723.5), ("02:03.250", 123.25), ("5:07", 307)],
    )
    def test_parse(self, text: str, seconds: float) -> None:
        assert parse_timestamp(text) == pytest.approx(seconds)


class TestUnreadable:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
            (b"just some words\nwith no speakers at all\n", "does not look like a transcript"),
            (b"WEBVTT\n\nNOTE nothing here\n", "No transcript text"),
        ],
    )
    def test_raises_with_a_clear_message(self, data: bytes, message: str) -> None:
        with pytest.raises(UnreadableFile, match=message):
            parse_transcript(data)
