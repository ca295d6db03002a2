"""Zoom in-meeting chat exports (`meeting_saved_chat.txt`).

Two layouts are seen in real exports::

    10:02:15\t From  Ana Silva : Good morning all          (older clients)
    10:02:15 From Ana Silva to Everyone:                   (newer clients)
    \tGood morning all

Private messages (`to <name>(Direct Message)` / `(Privately)`) are counted, never returned.
Reactions arrive as messages (`Reacted to "Good morning..." with 👍`) and become
`Reaction`s on the message they quote; replies (`Replying to "Good morning..."`) stay
records with `replies_to` pointing at their target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from pipelines.ingest._chat import QuoteIndex, resolve_tz
from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    Source,
    decode_text,
    low_content_kind,
    normalize_newlines,
    read_source,
    tidy_whitespace,
)
from pipelines.ingest.guards import INVISIBLE_TEXT, OUT_OF_RANGE, datetime_problem, is_invisible
from pipelines.ingest.records import (
    NarrativeRecord,
    ParseReport,
    ParseResult,
    Reaction,
    UnreadableFile,
)

FORMAT = "zoom_chat"

_HEADER = re.compile(r"^(?P<time>\d{1,2}:\d{2}:\d{2})\s+From\s+(?P<rest>.*?)\s*$")
# Newer layout: "<sender> to Everyone:" or "<sender> to <name>(Direct Message):", the
# message on the following tab-indented lines (some builds put it after the colon).
_NEW_STYLE = re.compile(
    r"^(?P<sender>(?:(?! : ).)+?)\s+to\s+"
    r"(?P<recipient>Everyone|.+?\s*\((?:Direct Message|[Pp]rivately)\))"
    r"\s*:"
)
#: Longest sender-and-recipient part of a header line.
MAX_HEADER = 400
# Older layout: "<sender> : <message>"; the sender may end in "to <name>(Privately)".
_OLD_STYLE = re.compile(r"^(?P<sender>.+?)\s+:(?:\s(?P<message>.*))?$")
_PRIVATE = re.compile(r"\s+to\s+(?P<recipient>.+?)\s*\((?:direct message|privately)\)\s*$", re.I)
_TO_EVERYONE = re.compile(r"\s+to\s+Everyone\s*$")

_REACTED = re.compile(r'^Reacted to ["“](?P<quote>.*)["”] with (?P<emoji>.+?)\s*$', re.S)
_REMOVED = re.compile(r'^Removed an? (?P<emoji>.+?) reaction from ["“](?P<quote>.*)["”]\s*$', re.S)
_REPLY_LINE = re.compile(r'^Replying to ["“](?P<quote>.*)["”]\s*:?\s*$')
_REPLY_INLINE = re.compile(r'^Replying to ["“](?P<quote>.*?)["”]\s*:?\s+(?P<body>.+)$', re.S)


@dataclass(slots=True)
class _Message:
    line: int
    clock: time
    sender: str
    private: bool
    lines: list[str]

    @property
    def text(self) -> str:
        return tidy_whitespace("\n".join(self.lines))


def _split_header(rest: str) -> tuple[str, bool, str | None] | None:
    """(sender, is_private, message-on-the-header-line) or None if not a header.

    The sender and recipient are looked for in the first MAX_HEADER characters only: the
    patterns backtrack, and a long line of " to " would cost minutes to match whole.
    """
    new = _NEW_STYLE.match(rest[:MAX_HEADER])
    if new:
        tail = rest[new.end() :]
        if not tail or tail[0].isspace():
            private = new.group("recipient") != "Everyone"
            return new.group("sender").strip(), private, tail[1:] if tail else None
    old = _OLD_STYLE.match(rest)
    if old and len(old.group("sender")) <= MAX_HEADER:
        sender = old.group("sender").strip()
        private = bool(_PRIVATE.search(sender))
        if private:
            sender = _PRIVATE.sub("", sender)
        sender = _TO_EVERYONE.sub("", sender)
        return sender, private, old.group("message")
    return None


def _read_messages(text: str, report: ParseReport) -> list[_Message]:
    messages: list[_Message] = []
    for number, raw_line in enumerate(text.split("\n"), start=1):
        header = _HEADER.match(raw_line)
        parts = _split_header(header.group("rest")) if header else None
        clock = _clock(header.group("time")) if header else None
        if parts and clock:
            sender, private, inline = parts
            first = [inline] if inline is not None and inline.strip() else []
            messages.append(_Message(number, clock, sender, private, first))
            continue
        if messages:
            # Continuation of the current message; the newer layout indents it with a tab.
            messages[-1].lines.append(raw_line.removeprefix("\t"))
        elif raw_line.strip():
            report.add_issue(f"line {number}", "text before the first chat message ignored")
    return messages


def parse_zoom_chat(
    data: Source,
    *,
    session_date: date | None = None,
    tz: tzinfo | str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ParseResult:
    """Parse a Zoom `meeting_saved_chat.txt`.

    The export only has clock times: `session_date` (and `tz`, a zone name or tzinfo)
    turn them into `occurred_at`; a clock that jumps back by hours means the meeting
    ran past midnight and moves to the next day. Without a date, `occurred_at` is None
    and the clock time is kept in `attributes["time"]`.

    Raises UnreadableFile when the bytes are not a Zoom chat export.
    """
    zone = resolve_tz(tz)
    decoded = decode_text(read_source(data, max_bytes=max_bytes))
    report = ParseReport(format=FORMAT, encoding=decoded.encoding)
    if decoded.note:
        report.add_issue("file", decoded.note)
    messages = _read_messages(normalize_newlines(decoded.text), report)
    if not messages:
        raise UnreadableFile(
            "This does not look like a Zoom chat export: no line of the form "
            "'HH:MM:SS From <name> ...' was found."
        )

    records: list[NarrativeRecord] = []
    quotes = QuoteIndex()
    day_offset = 0
    previous: time | None = None
    for message in messages:
        # Midnight rollover: a clock that goes back by more than an hour is the next day.
        if previous is not None and _seconds(message.clock) < _seconds(previous) - 3600:
            day_offset += 1
        previous = message.clock
        when = None
        location = f"line {message.line}"
        if session_date is not None:
            try:
                day = session_date + timedelta(days=day_offset)
                when = datetime.combine(day, message.clock, tzinfo=zone)
            except OverflowError:
                when = None
            if when is None or datetime_problem(when):
                report.skip(location, f"the time of this message {OUT_OF_RANGE}")
                continue

        if message.private:
            report.private_messages += 1
            continue
        body = message.text
        if not body:
            report.skip(location, "empty message")
            continue
        if is_invisible(body):
            report.skip(location, f"the message {INVISIBLE_TEXT}")
            continue
        if _handle_reaction(body, message, when, records, quotes, report, location):
            continue

        replies_to: int | None = None
        quote, reply_body = _split_reply(body)
        if quote is not None:
            report.replies += 1
            replies_to = quotes.find(quote)
            if replies_to is None:
                report.add_issue(location, f'reply target "{quote}" not found')
            body = reply_body
            if not body or is_invisible(body):
                report.skip(location, "reply without text")
                continue

        attributes = {} if session_date is not None else {"time": message.clock.isoformat()}
        record = NarrativeRecord(
            text=body,
            author=message.sender,
            occurred_at=when,
            attributes=attributes,
            location=location,
            replies_to=replies_to,
            low_content_reason=low_content_kind(body),
        )
        records.append(record)
        quotes.add(body)
        report.count_record(record)
    if not records and report.private_messages and not report.skipped:
        raise UnreadableFile(
            f"This Zoom chat holds only direct messages ({report.private_messages}), which "
            "Weft never stores, so there is nothing to read. Upload a chat with messages "
            "to everyone."
        )
    return ParseResult(records, report)


def _clock(value: str) -> time | None:
    """A clock time, or None for digits that are not one (a message quoting "99:99:99")."""
    try:
        return time.fromisoformat(value.zfill(8))
    except ValueError:
        return None


def _seconds(clock: time) -> int:
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _split_reply(body: str) -> tuple[str | None, str]:
    """(quoted prefix, reply text) for a `Replying to "..."` message, else (None, body)."""
    first, _, rest = body.partition("\n")
    line_match = _REPLY_LINE.match(first)
    if line_match:
        return line_match.group("quote"), tidy_whitespace(rest)
    inline = _REPLY_INLINE.match(body)
    if inline:
        return inline.group("quote"), tidy_whitespace(inline.group("body"))
    return None, body


def _handle_reaction(
    body: str,
    message: _Message,
    when: datetime | None,
    records: list[NarrativeRecord],
    quotes: QuoteIndex,
    report: ParseReport,
    location: str,
) -> bool:
    """Attach (or withdraw) a reaction message; True when `body` was one."""
    reacted = _REACTED.match(body)
    if reacted:
        target = quotes.find(reacted.group("quote"))
        if target is None:
            report.unmatched_reactions += 1
            report.add_issue(
                location, f'reaction target "{reacted.group("quote")}" not found; reaction dropped'
            )
        else:
            records[target].reactions.append(Reaction(message.sender, reacted.group("emoji"), when))
            report.reactions += 1
        return True
    removed = _REMOVED.match(body)
    if removed:
        target = quotes.find(removed.group("quote"))
        if target is not None:
            reactions = records[target].reactions
            for i, reaction in enumerate(reactions):
                if reaction.author == message.sender and reaction.emoji == removed.group("emoji"):
                    del reactions[i]
                    report.reactions -= 1
                    break
        return True
    return False
