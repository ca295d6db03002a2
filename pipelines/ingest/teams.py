"""Microsoft Teams chat messages as the Graph API returns them.

Accepts one response page (`{"value": [chatMessage, ...]}`), a list of chatMessages, or a
list of pages. Graph lists messages newest first, so they are sorted by
`createdDateTime` before replies are linked. System events and deleted messages are
skipped and counted; HTML bodies become plain text; reactions are kept on their message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    Source,
    decode_text,
    html_to_text,
    low_content_kind,
    read_source,
    tidy_whitespace,
)
from pipelines.ingest.guards import (
    INVISIBLE_TEXT,
    OUT_OF_RANGE,
    TOO_DEEP,
    datetime_problem,
    is_invisible,
)
from pipelines.ingest.records import (
    NarrativeRecord,
    ParseReport,
    ParseResult,
    Reaction,
    UnreadableFile,
)

FORMAT = "teams_json"

_LONG_FRACTION = re.compile(r"(?<=\.)(\d{7,})")
# Graph's messageType values that are not something a person wrote.
_SYSTEM_TYPES = frozenset({"systemEventMessage", "chatEvent", "typing", "unknownFutureValue"})


def parse_graph_datetime(value: object) -> datetime | None:
    """An aware datetime from Graph's ISO 8601 strings (`2024-03-05T10:15:02.123Z`)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Graph may send 7 fractional digits; Python reads at most 6.
    text = _LONG_FRACTION.sub(lambda m: m.group(1)[:6], text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _messages_of(document: object) -> list[Mapping[str, Any]]:
    if isinstance(document, Mapping):
        value = document.get("value")
        if isinstance(value, list):
            return [m for m in value if isinstance(m, Mapping)]
        if "messageType" in document or "body" in document:
            return [document]
        raise UnreadableFile(
            "This JSON is not a Teams message export: it has no 'value' list of messages."
        )
    if isinstance(document, list):
        messages: list[Mapping[str, Any]] = []
        for item in document:
            if isinstance(item, Mapping) and isinstance(item.get("value"), list):
                messages.extend(m for m in item["value"] if isinstance(m, Mapping))
            elif isinstance(item, Mapping):
                messages.append(item)
        return messages
    raise UnreadableFile("This JSON is not a Teams message export.")


def _display_name(identity_set: object) -> str | None:
    """The display name in a Graph identitySet (`{"user": {...}}`, `{"application": {...}}`)."""
    if not isinstance(identity_set, Mapping):
        return None
    for kind in ("user", "application", "device"):
        identity = identity_set.get(kind)
        if isinstance(identity, Mapping):
            name = identity.get("displayName") or identity.get("id")
            if isinstance(name, str) and name:
                return name
    return None


def _body_text(message: Mapping[str, Any]) -> str:
    body = message.get("body")
    if not isinstance(body, Mapping):
        return ""
    content = body.get("content")
    if not isinstance(content, str):
        return ""
    if str(body.get("contentType", "html")).lower() == "text":
        return tidy_whitespace(content.replace("\r\n", "\n"))
    return html_to_text(content)


def _referenced_id(message: Mapping[str, Any]) -> str | None:
    """The id of the message this one answers: a channel reply or a quoted chat reply."""
    reply_to = message.get("replyToId")
    if isinstance(reply_to, str) and reply_to:
        return reply_to
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, Mapping) and attachment.get("contentType") == "messageReference":
            try:
                reference = json.loads(attachment.get("content") or "{}")
            except (TypeError, ValueError):
                reference = {}
            ref_id = reference.get("messageId") if isinstance(reference, Mapping) else None
            if isinstance(ref_id, str) and ref_id:
                return ref_id
            attachment_id = attachment.get("id")
            if isinstance(attachment_id, str) and attachment_id:
                return attachment_id
    return None


def parse_teams_messages(data: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParseResult:
    """Parse Graph chatMessage JSON into records, with reactions and reply links.

    Raises UnreadableFile when the bytes are not JSON or hold no chatMessage list.
    """
    decoded = decode_text(read_source(data, max_bytes=max_bytes))
    try:
        document = json.loads(decoded.text)
    except RecursionError as exc:
        raise UnreadableFile(f"This JSON document {TOO_DEEP}.") from exc
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"This is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc
    report = ParseReport(format=FORMAT, encoding=decoded.encoding)
    if decoded.note:
        report.add_issue("file", decoded.note)
    messages = _messages_of(document)

    indexed = list(enumerate(messages))
    if _all_comparable(messages):
        # Oldest first; undated messages keep their file position after the dated ones.
        indexed.sort(key=lambda pair: _sort_key(pair[0], pair[1]))

    records: list[NarrativeRecord] = []
    index_by_id: dict[str, int] = {}
    pending_links: list[tuple[int, str]] = []
    for position, message in indexed:
        message_id = message.get("id")
        location = f"message {message_id}" if message_id else f"item {position + 1}"
        message_type = message.get("messageType", "message")
        if message_type in _SYSTEM_TYPES:
            report.system_messages += 1
            continue
        if message.get("deletedDateTime"):
            report.deleted_messages += 1
            continue
        body = _body_text(message)
        if not body:
            report.skip(location, "message without text (attachment or card only)")
            continue
        if is_invisible(body):
            report.skip(location, f"the message {INVISIBLE_TEXT}")
            continue
        created = parse_graph_datetime(message.get("createdDateTime"))
        if created is not None and datetime_problem(created):
            report.skip(location, f"createdDateTime {OUT_OF_RANGE}")
            continue
        attributes: dict[str, str] = {}
        if isinstance(message.get("from"), Mapping) and isinstance(
            message["from"].get("application"), Mapping
        ):
            attributes["from_application"] = "true"
        subject = message.get("subject")
        reactions = [
            Reaction(
                _display_name(r.get("user")),
                str(r.get("displayName") or r.get("reactionContentUrl") or r.get("reactionType")),
                _kept_time(r.get("createdDateTime"), report, location),
            )
            for r in message.get("reactions") or []
            if isinstance(r, Mapping)
        ]
        report.reactions += len(reactions)
        record = NarrativeRecord(
            text=body,
            title=subject if isinstance(subject, str) and subject.strip() else None,
            external_id=str(message_id) if message_id is not None else None,
            author=_display_name(message.get("from")),
            occurred_at=created,
            attributes=attributes,
            location=location,
            reactions=reactions,
            low_content_reason=low_content_kind(body),
        )
        referenced = _referenced_id(message)
        if referenced is not None:
            report.replies += 1
            pending_links.append((len(records), referenced))
        if record.external_id is not None:
            index_by_id[record.external_id] = len(records)
        records.append(record)
        report.count_record(record)

    for index, target_id in pending_links:
        target = index_by_id.get(target_id)
        if target is None or target == index:
            report.add_issue(records[index].location, f"replied-to message {target_id} not found")
        else:
            records[index].replies_to = target
    if not records and not (report.system_messages or report.deleted_messages or report.skipped):
        raise UnreadableFile("This JSON holds no Teams messages.")
    return ParseResult(records, report)


def _kept_time(value: object, report: ParseReport, location: str) -> datetime | None:
    """A reaction's time, or None (reported) when it is outside the range kept."""
    at = parse_graph_datetime(value)
    if at is not None and datetime_problem(at):
        report.add_issue(location, f"a reaction's createdDateTime {OUT_OF_RANGE}; time not stored")
        return None
    return at


def _all_comparable(messages: list[Mapping[str, Any]]) -> bool:
    """Whether every parsed date has the same awareness, so sorting by date cannot fail."""
    kinds = {
        parsed.tzinfo is not None
        for m in messages
        if (parsed := parse_graph_datetime(m.get("createdDateTime"))) is not None
    }
    return len(kinds) <= 1


def _sort_key(position: int, message: Mapping[str, Any]) -> tuple[bool, datetime, int]:
    created = parse_graph_datetime(message.get("createdDateTime"))
    if created is None or datetime_problem(created):
        # an edge date cannot even be compared with others (its UTC time overflows)
        return (True, datetime.min, position)
    return (False, created, position)
