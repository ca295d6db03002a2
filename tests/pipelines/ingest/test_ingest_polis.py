"""Polis exports: comments with vote tallies, overall and per opinion group."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.ingest import UnreadableFile
from pipelines.ingest.polis import ALL, VoteTally, parse_polis

COMMENTS = (
    b"timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
    b"1700000000000,Tue Nov 14 22:13:20 UTC 2023,0,0,2,1,1,Bus lanes should run all night.\n"
    b'1700000100000,x,1,1,0,0,-1,"Spam, spam, spam"\n'
    b'1700000200000,x,2,2,1,1,0,"Parking is ""too cheap"" in the centre."\n'
)
PARTICIPANTS = (
    b"participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2\n"
    b"0,0,1,2,1,0,1,,0\n"
    b"1,1,1,2,1,1,-1,,1\n"
    b"2,0,1,1,1,0,1,,\n"
    b"3,,0,1,0,1,,,-1\n"
)
VOTES = (
    b"timestamp,datetime,comment-id,voter-id,vote\n"
    b"1,x,0,0,1\n"
    b"2,x,0,1,-1\n"
    b"3,x,0,1,1\n"  # voter 1 changed their mind
    b"4,x,2,0,0\n"
)


def test_comments_become_records() -> None:
    result = parse_polis(COMMENTS)
    assert [r.text for r in result.records] == [
        "Bus lanes should run all night.",
        'Parking is "too cheap" in the centre.',
    ]
    first = result.records[0]
    assert first.external_id == "0"
    assert first.author == "0"
    assert first.occurred_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert first.attributes == {"moderation": "accepted"}
    assert result.report.skipped == 1
    assert "rejected" in result.report.issues[0].reason


def test_rejected_comments_on_request() -> None:
    result = parse_polis(COMMENTS, include_rejected=True)
    assert len(result.records) == 3
    assert result.records[1].attributes == {"moderation": "rejected"}


def test_tallies_by_group_from_participants_votes() -> None:
    result = parse_polis(COMMENTS, participants_votes=PARTICIPANTS)
    assert result.tallies["0"] == {
        ALL: VoteTally(agree=2, disagree=1),
        "0": VoteTally(agree=2),
        "1": VoteTally(disagree=1),
    }
    assert result.tallies["2"][ALL] == VoteTally(agree=1, disagree=1, passed=1)
    assert "1" not in result.tallies
    assert result.participant_groups == {"0": "0", "1": "1", "2": "0"}


def test_tallies_from_the_vote_log_use_the_latest_vote() -> None:
    result = parse_polis(COMMENTS, votes=VOTES)
    assert result.tallies["0"] == {ALL: VoteTally(agree=2)}
    assert result.tallies["2"] == {ALL: VoteTally(passed=1)}


@pytest.mark.parametrize(
    ("comments", "participants_votes", "votes", "message"),
    [
        (b"id,text\n1,hello\n", None, None, "comments.csv"),
        (COMMENTS, b"a,b\n1,2\n", None, "participants-votes"),
        (COMMENTS, None, b"a,b\n1,2\n", "votes.csv"),
        (b"", None, None, "empty"),
    ],
)
def test_unreadable(
    comments: bytes, participants_votes: bytes | None, votes: bytes | None, message: str
) -> None:
    with pytest.raises(UnreadableFile, match=message):
        parse_polis(comments, participants_votes=participants_votes, votes=votes)


def _shared_polis() -> Path | None:
    base = os.environ.get("WEFT_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    folder = root / "polis" / "brexit-consensus"
    return folder if (folder / "comment_group_stats.csv").is_file() else None


SHARED = _shared_polis()


@pytest.mark.skipif(
    SHARED is None,
    reason="shared Polis data not found (set WEFT_SHARED_DATA or check out ../shared)",
)
def test_real_conversation_matches_group_stats() -> None:
    assert SHARED is not None
    result = parse_polis(
        (SHARED / "comments.csv").read_bytes(),
        participants_votes=(SHARED / "participants-votes.csv").read_bytes(),
    )
    assert len(result.records) == 50
    with (SHARED / "comment_group_stats.csv").open(encoding="utf-8", newline="") as fh:
        stats = list(csv.DictReader(fh))
    for row in stats:
        tallies = result.tallies[row["comment_id"]]
        overall = tallies[ALL]
        assert (overall.agree, overall.disagree, overall.passed) == (
            int(row["n_agree"]),
            int(row["n_disagree"]),
            int(row["n_pass"]),
        )
        for group in ("0", "1"):
            tally = tallies.get(group, VoteTally())
            assert (tally.agree, tally.disagree, tally.passed) == (
                int(row[f"g{group}_agree"]),
                int(row[f"g{group}_disagree"]),
                int(row[f"g{group}_pass"]),
            )
