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


#: Characters of a message's start that index it for quote look-ups.
_KEY = 8
#: Most candidates compared per look-up, latest first: people react to what was just said,
#: and a chat of a million reactions to nothing must not cost a million scans.
WINDOW = 200


class QuoteIndex:
    """The messages of a chat so far, for finding the one a quote points at.

    Zoom quotes only the first words of the target, usually cut with an ellipsis, and
    collapses its line breaks; messages are compared on whitespace-collapsed text and the
    most recent match wins. Each look-up compares at most a few hundred messages.
    """

    def __init__(self) -> None:
        self._flats: list[str] = []
        self._folded: list[str] = []
        self._by_key: dict[str, list[int]] = {}

    def add(self, text: str) -> None:
        """Index the next message (its position is the number of messages added before)."""
        flat = one_line(text)
        folded = flat.casefold()
        self._by_key.setdefault(folded[:_KEY], []).append(len(self._flats))
        self._flats.append(flat)
        self._folded.append(folded)

    def find(self, quote: str) -> int | None:
        """Index of the latest message whose text starts with the quoted words, or None."""
        prefix = one_line(quote)
        for ellipsis in _ELLIPSES:
            if prefix.endswith(ellipsis):
                prefix = prefix[: -len(ellipsis)].rstrip()
                break
        if not prefix:
            return None
        lowered = prefix.casefold()
        if len(lowered) >= _KEY:
            candidates = self._by_key.get(lowered[:_KEY], [])[-WINDOW:]
        else:
            candidates = list(range(max(0, len(self._flats) - WINDOW), len(self._flats)))
        for i in reversed(candidates):
            if self._flats[i].startswith(prefix):
                return i
        for i in reversed(candidates):
            if self._folded[i].startswith(lowered):
                return i
        # Some clients quote from the middle of a long message.
        if len(lowered) >= 12:
            for i in range(len(self._flats) - 1, max(-1, len(self._flats) - 1 - WINDOW), -1):
                if lowered in self._folded[i]:
                    return i
        return None


def find_quoted(quote: str, records: list[NarrativeRecord]) -> int | None:
    """Index of the latest record whose text starts with the quoted words, or None; see
    QuoteIndex, which a parser keeps as it goes instead of re-reading every record."""
    index = QuoteIndex()
    for record in records:
        index.add(record.text)
    return index.find(quote)
