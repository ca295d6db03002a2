"""Zoom in-meeting chat exports, both layouts and their quirks."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipelines.ingest import UnreadableFile, parse_zoom_chat

ReadFixture = Callable[[str], bytes]
LONDON = ZoneInfo("Europe/London")


class TestOlderLayout:
    def test_messages_authors_and_times(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(
            fixture_bytes("zoom_chat_old.txt"), session_date=date(2024, 6, 3), tz="Europe/London"
        )
        authors = [r.author for r in result.records]
        assert authors == [
            "Mara Quinlan",
            "Dr. Tomas Ebbe (he/him) [Ward 7]",
            "Priya N. / Community Nursing",
            "Lee Okafor",
            "Lee Okafor",
            "Sam Rivera",
        ]
        first = result.records[0]
        assert first.occurred_at == datetime(2024, 6, 3, 9, 58, 2, tzinfo=LONDON)
        assert first.occurred_at.utcoffset() == timedelta(hours=1)
        assert first.location == "line 1"

    def test_multiline_message_kept_whole(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        assert result.records[1].text == (
            "Morning! Before we start: the rota\n"
            "changed this week, so the handover is at 8 now.\n"
            "Please tell your teams."
        )

    def test_colon_inside_message_is_not_a_separator(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        assert result.records[3].text == (
            "The night shift felt the change most : two of us missed the briefing."
        )

    def test_private_message_counted_not_returned(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        assert result.report.private_messages == 1
        assert all("present first" not in r.text for r in result.records)

    def test_bom_and_crlf_leave_no_trace(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        assert result.report.encoding == "utf-8-sig"
        assert all("\r" not in r.text and "\ufeff" not in r.text for r in result.records)
        assert result.records[0].author == "Mara Quinlan"

    def test_low_content_lines_flagged(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        flags = {r.text: r.low_content for r in result.records}
        assert flags["thanks!"] is True
        assert flags["https://example.org/rota-notes"] is True
        assert flags["👍👍"] is True
        assert flags[result.records[3].text] is False
        assert result.report.low_content == sum(flags.values())

    def test_without_session_date_times_stay_in_attributes(
        self, fixture_bytes: ReadFixture
    ) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_old.txt"))
        assert result.records[0].occurred_at is None
        assert result.records[0].attributes == {"time": "09:58:02"}

    def test_single_space_after_from_and_to_everyone(self) -> None:
        data = b"08:00:01\t From Ana Duarte to Everyone : hello there all of you\n"
        (record,) = parse_zoom_chat(data).records
        assert record.author == "Ana Duarte"
        assert record.text == "hello there all of you"


class TestNewerLayout:
    def test_records_and_names_with_colons(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_new.txt"))
        assert [r.author for r in result.records] == [
            "Ana Duarte",
            "Ben Achterberg: Site B",
            "Chidi Eze",
            "Dana Morrow",
            "Ben Achterberg: Site B",
        ]
        assert result.records[1].text == (
            "On our ward the delays start with transport bookings that are made too late.\n"
            "We tried booking at admission and it helped."
        )

    def test_cr_cr_lf_line_ends(self, fixture_bytes: ReadFixture) -> None:
        raw = fixture_bytes("zoom_chat_new.txt")
        assert b"\r\r\n" in raw
        result = parse_zoom_chat(raw)
        assert all("\r" not in r.text for r in result.records)
        assert result.records[3].location == "line 21"

    def test_reactions_attach_to_their_target(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(
            fixture_bytes("zoom_chat_new.txt"), session_date=date(2024, 6, 3), tz=LONDON
        )
        welcome, ward = result.records[0], result.records[1]
        assert [(x.author, x.emoji) for x in welcome.reactions] == [("Chidi Eze", "❤️")]
        assert welcome.reactions[0].occurred_at == datetime(2024, 6, 3, 10, 1, 10, tzinfo=LONDON)
        # Chidi's 👍 was withdrawn with "Removed a 👍 reaction from ...".
        assert [(x.author, x.emoji) for x in ward.reactions] == [("Ana Duarte", "👍")]
        assert result.report.reactions == 2
        assert all(not r.text.startswith("Reacted to") for r in result.records)

    def test_unmatched_reaction_is_an_issue(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_new.txt"))
        assert result.report.unmatched_reactions == 1
        assert any(
            i.location == "line 19" and "Something nobody said" in i.reason
            for i in result.report.issues
        )

    def test_replies_link_to_their_target(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_new.txt"))
        question = result.records[2]
        assert question.text == "Did booking at admission create more cancellations later?"
        assert question.replies_to == 1
        answer = result.records[4]
        assert answer.replies_to == 2
        assert answer.text.startswith("A few, yes.")
        assert result.report.replies == 2

    def test_direct_message_counted(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_new.txt"))
        assert result.report.private_messages == 1
        assert all("half past" not in r.text for r in result.records)

    def test_plus_one_is_low_content(self, fixture_bytes: ReadFixture) -> None:
        result = parse_zoom_chat(fixture_bytes("zoom_chat_new.txt"))
        assert result.records[3].text == "+1"
        assert result.records[3].low_content


class TestQuirks:
    def test_privately_in_newer_layout(self) -> None:
        data = (
            b"10:00:00 From Ana to Everyone:\n\tOpen question for the group\n"
            b"10:00:05 From Ben to Ana(privately):\n\tsecret\n"
        )
        result = parse_zoom_chat(data)
        assert [r.text for r in result.records] == ["Open question for the group"]
        assert result.report.private_messages == 1

    def test_older_private_with_space_and_trailing_blanks(self) -> None:
        data = (
            b"10:00:00\t From  Ana Duarte : Public note for all   \r\n"
            b"10:00:05\t From  Ben to Ana Duarte (Privately) : only for you\r\n"
        )
        result = parse_zoom_chat(data)
        assert [r.text for r in result.records] == ["Public note for all"]
        assert result.report.private_messages == 1

    def test_inline_reply_on_one_line(self) -> None:
        data = (
            b"10:00:00 From Ana to Everyone:\n\tWho has tried the new discharge form?\n"
            b"10:00:30 From Ben to Everyone:\n"
            b'\tReplying to "Who has tried the new..." We have, it is slow\n'
        )
        records = parse_zoom_chat(data).records
        assert records[1].replies_to == 0
        assert records[1].text == "We have, it is slow"

    def test_reply_target_missing_is_an_issue_but_reply_kept(self) -> None:
        data = (
            b"10:00:30 From Ben to Everyone:\n"
            b'\tReplying to "Something earlier..."\n\tIndeed it was\n'
        )
        result = parse_zoom_chat(data)
        assert result.records[0].replies_to is None
        assert result.records[0].text == "Indeed it was"
        assert any("reply target" in i.reason for i in result.report.issues)

    def test_reaction_prefers_latest_matching_message(self) -> None:
        data = (
            "10:00:00 From Ana to Everyone:\n\tSame start, first message\n"
            "10:01:00 From Ben to Everyone:\n\tSame start, second message\n"
            '10:02:00 From Cy to Everyone:\n\tReacted to "Same start..." with 🎉\n'
        ).encode()
        records = parse_zoom_chat(data).records
        assert records[0].reactions == []
        assert [r.emoji for r in records[1].reactions] == ["🎉"]

    def test_meeting_past_midnight_moves_to_next_day(self) -> None:
        data = (
            b"23:59:00 From Ana to Everyone:\n\tLate start tonight\n"
            b"00:01:30 From Ben to Everyone:\n\tStill here after midnight\n"
        )
        records = parse_zoom_chat(data, session_date=date(2024, 12, 31), tz=UTC).records
        assert records[0].occurred_at == datetime(2024, 12, 31, 23, 59, tzinfo=UTC)
        assert records[1].occurred_at == datetime(2025, 1, 1, 0, 1, 30, tzinfo=UTC)

    def test_naive_times_without_zone(self) -> None:
        data = b"10:00:00 From Ana to Everyone:\n\tA naive clock\n"
        (record,) = parse_zoom_chat(data, session_date=date(2024, 1, 2)).records
        assert record.occurred_at == datetime(2024, 1, 2, 10, 0)
        assert record.occurred_at.tzinfo is None

    def test_reads_from_a_binary_file_object(self) -> None:
        data = io.BytesIO(b"10:00:00 From Ana to Everyone:\n\tFrom a file object\n")
        assert parse_zoom_chat(data).records[0].text == "From a file object"

    def test_windows_1252_chat(self) -> None:
        data = "10:00:00\t From José Núñez : Café at 10? It\u2019s on me\r\n".encode("cp1252")
        (record,) = parse_zoom_chat(data).records
        assert record.author == "José Núñez"
        assert record.text == "Café at 10? It\u2019s on me"

    def test_text_before_first_message_is_an_issue(self) -> None:
        data = b"Saved chat\n10:00:00 From Ana to Everyone:\n\tHello and welcome\n"
        result = parse_zoom_chat(data)
        assert len(result.records) == 1
        assert result.report.issues[0].location == "line 1"

    def test_impossible_clock_is_a_continuation(self) -> None:
        data = b"10:00:00 From Ana to Everyone:\n\tCodes:\n99:99:99 From Bo : x\n"
        (record,) = parse_zoom_chat(data).records
        assert record.text == "Codes:\n99:99:99 From Bo : x"

    def test_unknown_zone_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="unknown time zone"):
            parse_zoom_chat(b"10:00:00 From A to Everyone:\n\thi\n", tz="Mars/Olympus")


class TestUnreadable:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"   \r\n\r\n", "empty"),
            (bytes(range(256)) * 8, "binary"),
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
            (b"id,text\n1,a story\n", "Zoom chat"),
        ],
    )
    def test_raises_with_a_clear_message(self, data: bytes, message: str) -> None:
        with pytest.raises(UnreadableFile, match=message):
            parse_zoom_chat(data)
