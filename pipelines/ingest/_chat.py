"""Pieces shared by the chat parsers: time zones and finding the message a quote points at."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.ingest._text import one_line
from pipelines.ingest.records import NarrativeRecord

_ELLIPSES = ("...", "…")


def resolve_tz(tz: tzinfo | str | None) -> tzinfo | None:
    """A tzinfo from a zone name ("Europe/London") or a tzinfo; None stays None (naive times)."""
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def find_quoted(quote: str, records: list[NarrativeRecord]) -> int | None:
    """Index of the latest record whose text starts with the quoted words, or None.

    Zoom quotes only the first words of the target, usually cut with an ellipsis, and
    collapses its line breaks; we compare on whitespace-collapsed text and prefer the most
    recent match because people react to what was just said.
    """
    prefix = one_line(quote)
    for ellipsis in _ELLIPSES:
        if prefix.endswith(ellipsis):
            prefix = prefix[: -len(ellipsis)].rstrip()
            break
    if not prefix:
        return None
    flats = [one_line(r.text) for r in records]
    for i in range(len(records) - 1, -1, -1):
        if flats[i].startswith(prefix):
            return i
    lowered = prefix.casefold()
    for i in range(len(records) - 1, -1, -1):
        if flats[i].casefold().startswith(lowered):
            return i
    # Some clients quote from the middle of a long message.
    if len(lowered) >= 12:
        for i in range(len(records) - 1, -1, -1):
            if lowered in flats[i].casefold():
                return i
    return None
