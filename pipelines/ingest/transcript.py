"""Meeting transcripts: WebVTT (Zoom `Name: text` cues, Teams `<v Name>` voice spans), SRT,
and plain text with `Name: text` or `[HH:MM:SS] Name: text` lines.

Captions cut speech into short cues; consecutive cues of one speaker are merged into a
single turn, which is the unit worth clustering. A turn keeps the offset of its first cue
(`offset_seconds`), and `occurred_at` is the session start plus that offset when the
caller knows when the recording started.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

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
from pipelines.ingest.records import NarrativeRecord, ParseReport, ParseResult, UnreadableFile

TranscriptFormat = Literal["auto", "webvtt", "srt", "plain"]

_TIMESTAMP = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING = re.compile(rf"^\s*(?P<start>{_TIMESTAMP})\s*-->\s*(?P<end>{_TIMESTAMP})")
# names are bounded so that a cue full of "<v" without ">" is read in linear time
_VOICE = re.compile(r"<v(?:\.[^\s>]{0,100})?\s+(?P<name>[^>]{1,200}?)\s*>")
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,500}>|<\d[\d:.]{0,20}>")
_NAME_COLON = re.compile(r"^(?P<name>[^:\n]{1,80}?)\s*:\s+(?P<text>\S.*)$", re.S)
_PLAIN_LINE = re.compile(
    r"^\s*(?:\[(?P<bts>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]|(?P<ts>\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?))?"
    r"\s*(?:(?P<name>[^:\[\]\n]{1,80}?)\s*:\s+)?(?P<text>.*)$"
)


@dataclass(slots=True)
class _Cue:
    line: int
    start: float | None
    end: float | None
    speaker: str | None
    text: str


#: Longest recording a timestamp may point into; a later one is a typing or export mistake.
MAX_HOURS = 999


def parse_timestamp(value: str) -> float:
    """Seconds from a caption timestamp: `HH:MM:SS.mmm`, `MM:SS.mmm` or SRT's `HH:MM:SS,mmm`.

    Raises ValueError for minutes or seconds of 60 or more, or more than MAX_HOURS hours.
    """
    value = value.strip().replace(",", ".")
    parts = value.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2]) if len(parts) >= 2 else 0
    hours = int(parts[-3]) if len(parts) >= 3 else 0
    if seconds >= 60 or minutes >= 60:
        raise ValueError(f"{value} is not a time: minutes and seconds run from 00 to 59")
    if hours > MAX_HOURS:
        raise ValueError(f"{value} is more than {MAX_HOURS} hours into the recording")
    return hours * 3600 + minutes * 60 + seconds


def _plausible_speaker(name: str) -> bool:
    """A `Name:` prefix is a speaker only if it looks like a name, not a sentence or a URL."""
    words = name.split()
    return 0 < len(words) <= 8 and "http" not in name.lower() and not name.strip().isdigit()


def _split_speaker(payload: str) -> tuple[str | None, str]:
    """Speaker and text of a cue payload (Teams voice span, else a `Name: text` prefix)."""
    voice = _VOICE.search(payload)
    # Cue text escapes &, < and > as HTML entities.
    text = tidy_whitespace(html.unescape(_TAG.sub("", payload)))
    if voice:
        return html.unescape(voice.group("name")).strip(), text
    named = _NAME_COLON.match(text)
    if named and _plausible_speaker(named.group("name")):
        return named.group("name").strip(), named.group("text").strip()
    return None, text


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the 1-based line number of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _cue_blocks(
    first_line: int, block: list[str], report: ParseReport, *, webvtt: bool
) -> list[tuple[int, list[str]]]:
    """A block split before each timing line after its first, for cues written without the
    blank line between them; in SRT the line before a timing must be the cue number."""
    timings = [i for i, line in enumerate(block) if "-->" in line and _TIMING.match(line)]
    starts = [0]
    for at in timings[1:]:
        number_at = at - 1
        if not webvtt and number_at > starts[-1] and not block[number_at].strip().isdigit():
            report.add_issue(
                f"line {first_line + number_at}",
                f"{block[number_at].strip()[:40]!r} stands where the cue number belongs; a "
                "new cue starts on the next line and this line was not stored",
            )
        starts.append(number_at if number_at > timings[0] else at)
    if not webvtt and timings and timings[0] == 1 and not block[0].strip().isdigit():
        report.add_issue(
            f"line {first_line}",
            f"SRT cue number {block[0].strip()[:40]!r} is not a number; the cue is read on "
            "its own and this line was not stored",
        )
    ends = [*starts[1:], len(block)]
    return [(first_line + a, block[a:b]) for a, b in zip(starts, ends, strict=True)]


def _caption_cues(lines: list[str], report: ParseReport, *, webvtt: bool) -> list[_Cue]:
    cues: list[_Cue] = []
    for block_line, whole in _blocks(lines):
        head = whole[0].strip()
        if webvtt and (
            head.startswith("WEBVTT") or head.split(" ")[0] in ("NOTE", "STYLE", "REGION")
        ):
            continue
        for first_line, block in _cue_blocks(block_line, whole, report, webvtt=webvtt):
            cue = _caption_cue(first_line, block, report)
            if cue is not None:
                cues.append(cue)
    return cues


def _caption_cue(first_line: int, block: list[str], report: ParseReport) -> _Cue | None:
    timing_at = next((i for i, line in enumerate(block) if "-->" in line), None)
    if timing_at is None:
        report.skip(f"line {first_line}", "caption block without a timing line")
        return None
    where = f"line {first_line + timing_at}"
    timing = _TIMING.match(block[timing_at])
    if timing is None:
        report.skip(where, "unreadable caption timing")
        return None
    try:
        start = parse_timestamp(timing.group("start"))
        end = parse_timestamp(timing.group("end"))
    except ValueError as exc:
        report.skip(where, f"caption timing out of range ({exc}); the cue was not stored")
        return None
    payload = "\n".join(block[timing_at + 1 :])
    speaker, text = _split_speaker(payload)
    if not text:
        report.skip(where, "empty caption")
        return None
    if is_invisible(text):
        report.skip(where, f"the caption {INVISIBLE_TEXT}")
        return None
    return _Cue(first_line + timing_at, start, end, speaker, text)


def _plain_cues(lines: list[str], report: ParseReport) -> list[_Cue]:
    cues: list[_Cue] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = _PLAIN_LINE.match(line)
        assert match is not None  # the pattern accepts any line
        stamp = match.group("bts") or match.group("ts")
        name = match.group("name")
        if name is not None and not _plausible_speaker(name):
            name = None
        text = match.group("text").strip() if name is not None or stamp else line.strip()
        if name is None and stamp is None:
            if cues:
                # A line without a speaker continues the current turn.
                cues[-1].text = f"{cues[-1].text}\n{text}"
            else:
                report.add_issue(f"line {number}", "line without a speaker")
                cues.append(_Cue(number, None, None, None, text))
            continue
        try:
            start = parse_timestamp(stamp) if stamp else None
        except ValueError as exc:
            report.skip(
                f"line {number}", f"timestamp out of range ({exc}); the line was not stored"
            )
            continue
        cues.append(_Cue(number, start, None, name.strip() if name else None, text))
    return cues


def _guess_format(text: str) -> TranscriptFormat:
    stripped = text.lstrip()
    if stripped.startswith("WEBVTT"):
        return "webvtt"
    head = stripped.split("\n", 3)
    if len(head) >= 2 and head[0].strip().isdigit() and "-->" in head[1]:
        return "srt"
    if "-->" in "\n".join(head[:2]):
        return "srt"
    return "plain"


def parse_transcript(
    data: Source,
    *,
    session_start: datetime | None = None,
    fmt: TranscriptFormat = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ParseResult:
    """Parse a transcript into speaker turns.

    `session_start` (aware or naive, as the caller has it) anchors the offsets; without
    it `occurred_at` stays None and only `offset_seconds` is set. Cues of one speaker in a
    row become one turn; cues without a known speaker are never merged, since they may
    be anyone.

    Raises UnreadableFile when no turn can be read.
    """
    if session_start is not None and datetime_problem(session_start):
        raise UnreadableFile(f"The session start {session_start.isoformat()} {OUT_OF_RANGE}.")
    decoded = decode_text(read_source(data, max_bytes=max_bytes))
    text = normalize_newlines(decoded.text)
    kind = _guess_format(text) if fmt == "auto" else fmt
    report = ParseReport(format=f"transcript_{kind}", encoding=decoded.encoding)
    if decoded.note:
        report.add_issue("file", decoded.note)
    lines = text.split("\n")
    if kind == "webvtt":
        cues = _caption_cues(lines, report, webvtt=True)
    elif kind == "srt":
        cues = _caption_cues(lines, report, webvtt=False)
    else:
        cues = _plain_cues(lines, report)
    if not cues:
        raise UnreadableFile("No transcript text was found in this file.")
    if (
        kind == "plain"
        and not any(c.speaker for c in cues)
        and not any(c.start is not None for c in cues)
    ):
        raise UnreadableFile(
            "This does not look like a transcript: no 'Name: text' lines and no timestamps."
        )

    turns: list[_Cue] = []
    for cue in cues:
        last = turns[-1] if turns else None
        if last is not None and cue.speaker is not None and cue.speaker == last.speaker:
            last.text = f"{last.text} {cue.text}" if kind != "plain" else f"{last.text}\n{cue.text}"
            last.end = cue.end if cue.end is not None else last.end
        else:
            turns.append(_Cue(cue.line, cue.start, cue.end, cue.speaker, cue.text))

    records: list[NarrativeRecord] = []
    for turn in turns:
        body = tidy_whitespace(turn.text)
        if is_invisible(body):
            report.skip(f"line {turn.line}", f"the text {INVISIBLE_TEXT}")
            continue
        attributes: dict[str, str] = {}
        when = None
        if turn.start is not None:
            attributes["offset_seconds"] = f"{turn.start:g}"
            if session_start is not None:
                when = session_start + timedelta(seconds=turn.start)
                if datetime_problem(when):
                    report.skip(f"line {turn.line}", f"the time of this turn {OUT_OF_RANGE}")
                    continue
        if turn.end is not None:
            attributes["end_offset_seconds"] = f"{turn.end:g}"
        record = NarrativeRecord(
            text=body,
            author=turn.speaker,
            occurred_at=when,
            attributes=attributes,
            location=f"line {turn.line}",
            low_content_reason=low_content_kind(body),
            offset_seconds=turn.start,
        )
        records.append(record)
        report.count_record(record)
    return ParseResult(records, report)
