"""The kept copy of a chat export holds none of its private messages."""

from __future__ import annotations

from pipelines.ingest.redact import redact_session_file, redact_zoom_chat
from pipelines.ingest.zoom_chat import parse_zoom_chat
from tests.app.privacy.conftest import FIXTURES

OLD_LAYOUT = (
    b"10:00:05\t From  Ana Duarte : Welcome back.\n"
    b"10:01:40\t From  Dana Morrow to Ana Duarte(Privately) : my camera is broken\n"
    b"and my number is 07700 900123\n"
    b"10:02:00\t From  Chidi Eze : thanks!\n"
)
NEW_LAYOUT = (
    b"10:00:03 From Ana Duarte to Everyone:\n"
    b"\tGood morning\n"
    b"10:02:02 From Dana Morrow to Ana Duarte(Direct Message):\n"
    b"\tI am not well today\n"
    # a clock that is no time: the parser reads this line as more of the private message
    b"99:99:99 From Dana Morrow to Everyone:\n"
    b"\tstill private\n"
    b"10:03:00 From Ben Achterberg: Site B to Everyone:\n"
    b"\tThe booking rule helped.\n"
)


def test_old_layout_loses_the_private_message_and_its_continuation() -> None:
    copy = redact_zoom_chat(OLD_LAYOUT)
    text = copy.data.decode()
    assert copy.private_messages == 1
    assert "camera" not in text and "07700" not in text and "Privately" not in text
    assert "Welcome back." in text and "thanks!" in text


def test_new_layout_reads_messages_as_the_parser_does() -> None:
    copy = redact_zoom_chat(NEW_LAYOUT)
    text = copy.data.decode()
    assert "not well" not in text and "still private" not in text
    assert "Direct Message" not in text
    assert "Good morning" in text and "booking rule helped" in text


def test_the_copy_parses_to_the_same_public_messages() -> None:
    original = (FIXTURES / "zoom_chat_new.txt").read_bytes()
    copy = redact_session_file(original, "auto", "meeting_saved_chat.txt")
    before = parse_zoom_chat(original)
    after = parse_zoom_chat(copy.data)
    assert [r.text for r in after.records] == [r.text for r in before.records]
    assert before.report.private_messages > 0 and after.report.private_messages == 0


def test_transcripts_have_no_private_messages_to_remove() -> None:
    original = (FIXTURES / "transcript_zoom.vtt").read_bytes()
    assert redact_session_file(original, "auto", "meeting.vtt").data == original
