"""Polis conversation exports: `comments.csv` plus `participants-votes.csv` or `votes.csv`.

Each comment becomes a record. Votes are not narratives; they are summed per comment
into agree / disagree / pass tallies, overall and per Polis opinion group, which is what
divisiveness and consensus signals need. Vote values follow the export: 1 agree,
-1 disagree, 0 pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.ingest._rows import Bounds, open_tabular
from pipelines.ingest._text import (
    DEFAULT_MAX_BYTES,
    Source,
    low_content_kind,
    normalize_newlines,
    open_binary,
)
from pipelines.ingest.guards import INVISIBLE_TEXT, is_invisible
from pipelines.ingest.records import (
    DEFAULT_MAX_ISSUES,
    NarrativeRecord,
    ParseReport,
    UnreadableFile,
)
from pipelines.ingest.values import OutOfRange, ValueProblem, parse_datetime

#: The tally key for all participants, beside one key per opinion group.
ALL = "all"
_MODERATION = {"1": "accepted", "0": "unmoderated", "-1": "rejected"}
_COMMENT_COLUMNS = ("comment-id", "comment-body")
#: Vote files hold many votes per comment; most rows read from one of them, per comment row
#: allowed, and most comment columns in participants-votes.csv.
VOTES_PER_COMMENT_ROW = 20
MAX_COMMENT_COLUMNS = 100_000


@dataclass(slots=True)
class VoteTally:
    """Votes on one comment by one population (everyone, or one opinion group)."""

    agree: int = 0
    disagree: int = 0
    passed: int = 0

    def add(self, vote: str) -> bool:
        """Count one vote ("1", "-1", "0"); False for anything else."""
        value = vote.strip()
        if value in ("1", "1.0"):
            self.agree += 1
        elif value in ("-1", "-1.0"):
            self.disagree += 1
        elif value in ("0", "0.0"):
            self.passed += 1
        else:
            return False
        return True


@dataclass(slots=True)
class PolisResult:
    """Comments as records, with vote tallies keyed by comment id.

    `tallies[comment_id][ALL]` counts every participant's latest vote;
    `tallies[comment_id][group_id]` only that opinion group's (from participants-votes).
    """

    records: list[NarrativeRecord]
    report: ParseReport
    tallies: dict[str, dict[str, VoteTally]] = field(default_factory=dict)
    participant_groups: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[NarrativeRecord]:
        return iter(self.records)


def _require(header: list[str], columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise UnreadableFile(f"This is not a Polis {what}: column(s) {', '.join(missing)} missing.")


def parse_polis(
    comments: Source,
    *,
    participants_votes: Source | None = None,
    votes: Source | None = None,
    include_rejected: bool = False,
    max_issues: int = DEFAULT_MAX_ISSUES,
    max_rows: int = 500_000,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> PolisResult:
    """Parse a Polis export.

    Tallies come from `participants_votes` (latest vote per participant, with opinion
    groups) when given, else from the `votes` log (latest vote per voter and comment).
    Comments the moderator rejected are skipped unless `include_rejected`.

    Raises UnreadableFile when a file is not the Polis export it should be.
    """
    report = ParseReport(format="polis", max_issues=max_issues)
    bounds = Bounds(max_rows=max_rows, max_bytes=max_bytes)
    table = open_tabular(open_binary(comments), "csv", report, bounds=bounds)
    report.encoding = table.encoding
    _require(table.header, _COMMENT_COLUMNS, "comments.csv")

    records: list[NarrativeRecord] = []
    for seen, (location, row) in enumerate(table.rows, start=1):
        if seen > max_rows:
            report.truncated = True
            report.add_issue(location, f"row limit of {max_rows} reached")
            break
        record = _comment(location, row, report, include_rejected)
        if record is not None:
            records.append(record)
            report.count_record(record)

    result = PolisResult(records, report)
    vote_bounds = Bounds(
        max_rows=VOTES_PER_COMMENT_ROW * max_rows,
        max_bytes=max_bytes,
        max_columns=MAX_COMMENT_COLUMNS,
    )
    if participants_votes is not None:
        _tally_participants(participants_votes, result, vote_bounds)
    elif votes is not None:
        _tally_vote_log(votes, result, vote_bounds)
    return result


def _bounded(
    rows: Iterator[tuple[str, Mapping[str, Any]]], limit: int, what: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for seen, row in enumerate(rows, start=1):
        if seen > limit:
            raise UnreadableFile(f"The Polis {what} has more than {limit} rows, the limit.")
        yield row


def _comment(
    location: str, row: Mapping[str, Any], report: ParseReport, include_rejected: bool
) -> NarrativeRecord | None:
    text = normalize_newlines(str(row.get("comment-body") or "")).strip()
    if not text:
        report.skip(location, "empty comment")
        return None
    moderated = str(row.get("moderated", "")).strip()
    if moderated == "-1" and not include_rejected:
        report.skip(location, "rejected by the moderator")
        return None
    if not text[:1].isalnum() and is_invisible(text):
        report.skip(location, f"the comment {INVISIBLE_TEXT}")
        return None
    occurred_at = None
    try:
        occurred_at = parse_datetime(str(row.get("timestamp", "")).strip())
    except OutOfRange as exc:
        report.skip(location, f"timestamp {exc}")
        return None
    except ValueProblem as exc:
        report.add_issue(location, f"timestamp: {exc}")
    attributes = {"moderation": _MODERATION[moderated]} if moderated in _MODERATION else {}
    return NarrativeRecord(
        text=text,
        external_id=str(row.get("comment-id", "")).strip() or None,
        author=str(row.get("author-id", "")).strip() or None,
        occurred_at=occurred_at,
        attributes=attributes,
        location=location,
        low_content_reason=low_content_kind(text),
    )


def _tally_participants(source: Source, result: PolisResult, bounds: Bounds) -> None:
    table = open_tabular(open_binary(source), "csv", result.report, bounds=bounds)
    _require(table.header, ("participant", "group-id"), "participants-votes.csv")
    comment_columns = {c for c in table.header if c.strip().lstrip("-").isdigit()}
    for location, row in _bounded(table.rows, bounds.max_rows, "participants-votes.csv"):
        participant = str(row.get("participant", "")).strip()
        group = str(row.get("group-id", "")).strip()
        if group:
            result.participant_groups[participant] = group
        # the row's own cells, not every column of the header: a short row costs little
        for comment_id, cell in row.items():
            if comment_id not in comment_columns:
                continue
            vote = str(cell or "").strip()
            if not vote:
                continue  # this participant never saw or voted on the comment
            tallies = result.tallies.setdefault(comment_id, {})
            if not tallies.setdefault(ALL, VoteTally()).add(vote):
                result.report.add_issue(location, f"vote {vote!r} on comment {comment_id}")
                continue
            if group:
                tallies.setdefault(group, VoteTally()).add(vote)


def _tally_vote_log(source: Source, result: PolisResult, bounds: Bounds) -> None:
    table = open_tabular(open_binary(source), "csv", result.report, bounds=bounds)
    _require(table.header, ("comment-id", "voter-id", "vote"), "votes.csv")
    # A participant may change a vote; the log keeps every change, the latest counts.
    latest: dict[tuple[str, str], tuple[float, str]] = {}
    for order, (_, row) in enumerate(_bounded(table.rows, bounds.max_rows, "votes.csv")):
        key = (str(row.get("comment-id", "")).strip(), str(row.get("voter-id", "")).strip())
        try:
            stamp = float(row.get("timestamp") or order)
        except ValueError:
            stamp = float(order)
        if not math.isfinite(stamp):
            stamp = float(order)  # "nan" compares false with everything
        previous = latest.get(key)
        if previous is None or stamp >= previous[0]:
            latest[key] = (stamp, str(row.get("vote", "")))
    for (comment_id, _), (_, vote) in latest.items():
        tally = result.tallies.setdefault(comment_id, {}).setdefault(ALL, VoteTally())
        if not tally.add(vote):
            result.report.add_issue(f"comment {comment_id}", f"vote {vote!r} not understood")
