"""A copy of a session export without its private messages, for projects that keep the files.

A Zoom chat's direct messages (`to <name>(Direct Message)`, `to <name>(Privately)`) are cut,
header and continuation lines alike, reading the file exactly as the parser does (same header
pattern, same test of what is private, same clock check), so a line the parser would take as
part of a private message never stays. The copy is UTF-8 text.

Teams message exports and transcripts carry no private messages of their own (a Teams export
is one conversation, a transcript what was said aloud): their copy is the file as it came.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.ingest._text import decode_bytes, normalize_newlines
from pipelines.ingest.detect import FileFormat, detect_format
from pipelines.ingest.plan import DETECT_BYTES
from pipelines.ingest.zoom_chat import _HEADER, _clock, _split_header


@dataclass(frozen=True)
class Redacted:
    """The copy to keep and how many private messages it left out."""

    data: bytes
    private_messages: int


def redact_zoom_chat(data: bytes) -> Redacted:
    """The chat without its direct messages (header and every line of their text)."""
    text, _ = decode_bytes(data)
    kept: list[str] = []
    in_private = False
    removed = 0
    for line in normalize_newlines(text).split("\n"):
        header = _HEADER.match(line)
        parts = _split_header(header.group("rest")) if header else None
        if header and parts and _clock(header.group("time")):
            in_private = parts[1]
            removed += in_private
        if not in_private:
            kept.append(line)
    return Redacted("\n".join(kept).encode("utf-8"), removed)


def redact_session_file(data: bytes, fmt: str, filename: str | None) -> Redacted:
    """The copy of a session export (`fmt` as the upload gave it, `auto` detects) to keep."""
    if fmt == "auto" and detect_format(filename, data[:DETECT_BYTES]) is FileFormat.ZOOM_CHAT:
        fmt = "zoom_chat"
    if fmt == "zoom_chat":
        return redact_zoom_chat(data)
    return Redacted(data, 0)
