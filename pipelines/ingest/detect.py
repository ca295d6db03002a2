"""Recognising what kind of upload a file is, from its name and first bytes."""

from __future__ import annotations

import re
from enum import StrEnum

from pipelines.ingest._text import describe_binary, detect_encoding, normalize_newlines
from pipelines.ingest.records import UnreadableFile


class FileFormat(StrEnum):
    """The formats the ingest parsers read."""

    ZOOM_CHAT = "zoom_chat"
    WEBVTT = "webvtt"
    SRT = "srt"
    TRANSCRIPT = "transcript"  # plain "Name: text" lines
    TEAMS_JSON = "teams_json"
    SENSEMAKER_DEFINITION = "sensemaker_definition"
    SENSEMAKER_DATA = "sensemaker_data"
    POLIS_COMMENTS = "polis_comments"
    POLIS_VOTES = "polis_votes"
    POLIS_PARTICIPANTS_VOTES = "polis_participants_votes"
    CSV = "csv"
    TSV = "tsv"
    JSONL = "jsonl"
    JSON = "json"
    XLSX = "xlsx"
    UNKNOWN = "unknown"


_ZOOM_LINE = re.compile(r"^\d{1,2}:\d{2}:\d{2}\s+From\s", re.M)
_SRT_TIMING = re.compile(r"^\d+\s*\n\s*\d{1,2}:\d{2}:\d{2},\d{3}\s*-->", re.M)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_BRACKET_TIME = re.compile(r"^\[\d{1,2}:\d{2}")
_SPEAKER_LINE = re.compile(
    r"^\s*(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?\s*)?[^:\n\[\]]{1,60}:\s+\S", re.M
)


def detect_format(filename: str | None, head_bytes: bytes) -> FileFormat:
    """The format of an upload from its file name and first bytes (a few KiB suffice).

    Content decides where it is distinctive (a WEBVTT header, Zoom's "HH:MM:SS From"
    lines, Graph JSON, SenseMaker UUID columns); otherwise the extension does.
    Returns FileFormat.UNKNOWN when neither tells.
    """
    name = (filename or "").lower()
    if head_bytes.startswith(b"PK\x03\x04"):
        if name.endswith((".docx", ".pptx", ".zip")):
            return FileFormat.UNKNOWN
        return FileFormat.XLSX
    if describe_binary(head_bytes):
        return FileFormat.UNKNOWN
    try:
        encoding = detect_encoding(head_bytes)
    except UnreadableFile:
        return FileFormat.UNKNOWN
    text = normalize_newlines(head_bytes.decode(encoding, errors="replace")).removeprefix("\ufeff")
    stripped = text.lstrip()

    if stripped.startswith("WEBVTT"):
        return FileFormat.WEBVTT
    if _SRT_TIMING.search(stripped[:2000]):
        return FileFormat.SRT
    if _ZOOM_LINE.search(stripped[:4000]):
        return FileFormat.ZOOM_CHAT
    if _BRACKET_TIME.match(stripped):
        return FileFormat.TRANSCRIPT
    if stripped.startswith(("{", "[")):
        if '"signifiers"' in stripped and stripped.startswith("{"):
            return FileFormat.SENSEMAKER_DEFINITION
        if '"messageType"' in stripped or "chatMessage" in stripped:
            return FileFormat.TEAMS_JSON
        lines = [ln for ln in stripped.split("\n") if ln.strip()]
        if stripped.startswith("{") and len(lines) > 1 and lines[1].lstrip().startswith("{"):
            return FileFormat.JSONL
        return FileFormat.JSON
    first_line = stripped.split("\n", 1)[0]
    if len(_UUID.findall(first_line)) >= 3:
        return FileFormat.SENSEMAKER_DATA
    columns = [c.strip().strip('"') for c in first_line.split(",")]
    if {"comment-id", "comment-body"} <= set(columns):
        return FileFormat.POLIS_COMMENTS
    if {"comment-id", "voter-id", "vote"} <= set(columns):
        return FileFormat.POLIS_VOTES
    if columns[:2] == ["participant", "group-id"]:
        return FileFormat.POLIS_PARTICIPANTS_VOTES

    for suffix, fmt in (
        (".vtt", FileFormat.WEBVTT),
        (".srt", FileFormat.SRT),
        (".jsonl", FileFormat.JSONL),
        (".ndjson", FileFormat.JSONL),
        (".json", FileFormat.JSON),
        (".tsv", FileFormat.TSV),
        (".tab", FileFormat.TSV),
        (".csv", FileFormat.CSV),
    ):
        if name.endswith(suffix):
            return fmt
    lines = [ln for ln in stripped.split("\n")[:30] if ln.strip()]
    if lines:
        speaker_lines = sum(1 for ln in lines if _SPEAKER_LINE.match(ln))
        if speaker_lines >= max(2, len(lines) // 2) and "\t" not in first_line:
            return FileFormat.TRANSCRIPT
        if "\t" in first_line:
            return FileFormat.TSV
        if "," in first_line or ";" in first_line:
            return FileFormat.CSV
    if name.endswith(".txt"):
        return FileFormat.TRANSCRIPT
    return FileFormat.UNKNOWN
