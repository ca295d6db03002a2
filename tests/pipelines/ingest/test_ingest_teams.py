"""Microsoft Teams chat messages in Graph API JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from pipelines.ingest import ParseResult, UnreadableFile, parse_teams_messages
from pipelines.ingest.teams import parse_graph_datetime

ReadFixture = Callable[[str], bytes]


@pytest.fixture
def result(fixture_bytes: ReadFixture) -> ParseResult:
    return parse_teams_messages(fixture_bytes("teams_messages.json"))


def test_oldest_first_with_authors(result: ParseResult) -> None:
    assert [r.author for r in result.records] == [
        "Chidi Eze",
        "Ana Duarte",
        "Sam Rivera",
        "Lee Okafor",
    ]
    assert result.records[0].occurred_at == datetime(2024, 5, 29, 16, 29, tzinfo=UTC)
    assert result.records[0].external_id == "1717000100000"


def test_html_becomes_plain_text(result: ParseResult) -> None:
    ana = result.records[1]
    assert ana.text == (
        "We moved the huddle to 8:15 and it's working.\n\n"
        "Night staff can now join before they go home."
    )
    lee = result.records[3]
    # The quoted-reply <attachment> placeholder carries no text of its own.
    assert lee.text == "Agreed \u2013 and the checklist helps."


def test_text_body_kept(result: ParseResult) -> None:
    assert result.records[0].text == "Plain text body\nwith a second line"


def test_system_and_deleted_messages_skipped_and_counted(result: ParseResult) -> None:
    assert result.report.system_messages == 1
    assert result.report.deleted_messages == 1
    assert result.report.records == 4


def test_reactions_kept_on_the_message(result: ParseResult) -> None:
    ana = result.records[1]
    assert [(r.author, r.emoji) for r in ana.reactions] == [
        ("Lee Okafor", "Like"),
        ("u-4", "heart"),
    ]
    assert ana.reactions[0].occurred_at == datetime(2024, 5, 29, 16, 30, 30, tzinfo=UTC)
    assert result.report.reactions == 2


def test_quoted_reply_links_to_its_target(result: ParseResult) -> None:
    assert result.records[3].replies_to == 1
    assert result.report.replies == 1


def test_emoji_only_message_is_low_content(result: ParseResult) -> None:
    assert result.records[2].text == "👍"
    assert result.records[2].low_content


def test_seven_digit_fractions_parse() -> None:
    parsed = parse_graph_datetime("2024-05-29T16:35:00.1234567Z")
    assert parsed == datetime(2024, 5, 29, 16, 35, 0, 123456, tzinfo=UTC)


def test_channel_reply_to_id_and_bare_list() -> None:
    messages = [
        {
            "id": "1",
            "messageType": "message",
            "createdDateTime": "2024-01-01T09:00:00Z",
            "from": {"user": {"displayName": "Ana"}},
            "body": {"contentType": "html", "content": "<p>Root post about rotas</p>"},
        },
        {
            "id": "2",
            "replyToId": "1",
            "messageType": "message",
            "createdDateTime": "2024-01-01T09:05:00Z",
            "from": {"application": {"displayName": "Rota Bot"}},
            "body": {"contentType": "html", "content": "Reminder: rotas close Friday"},
            "subject": "Rotas",
        },
    ]
    result = parse_teams_messages(json.dumps(messages).encode())
    assert result.records[1].replies_to == 0
    assert result.records[1].author == "Rota Bot"
    assert result.records[1].attributes == {"from_application": "true"}
    assert result.records[1].title == "Rotas"


def test_missing_reply_target_is_an_issue() -> None:
    doc = {
        "value": [
            {
                "id": "9",
                "replyToId": "404",
                "messageType": "message",
                "createdDateTime": "2024-01-01T09:00:00Z",
                "from": {"user": {"displayName": "Ana"}},
                "body": {"content": "<p>Following up on the earlier thread</p>"},
            }
        ]
    }
    result = parse_teams_messages(json.dumps(doc).encode())
    assert result.records[0].replies_to is None
    assert "404" in result.report.issues[0].reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'{"items": []}', "not a Teams message export"),
        (b'"just a string"', "not a Teams message export"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b'{"value": []}', "no Teams messages"),
    ],
)
def test_unreadable(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        parse_teams_messages(data)
