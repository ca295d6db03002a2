"""`weft jobs` says what a finished job did, not a bare count such as 0/0."""

from __future__ import annotations

from typing import Any

from app.cli.jobs import outcome


def _job(kind: str, result: dict[str, Any] | None, status: str = "succeeded") -> dict[str, Any]:
    done = 0 if kind == "embed" else 2
    return {
        "kind": kind,
        "status": status,
        "progress_done": done,
        "progress_total": done,
        "result": result,
    }


def test_an_embedding_the_store_had_already_done_says_so() -> None:
    job = _job("embed", {"embedded": 0, "incremental": {"placed": 15, "unassigned": 11}})
    assert outcome(job) == "nothing left to embed, 15 placed into themes"
    assert outcome(_job("embed", {"embedded": 87})) == "87 embedded"


def test_an_ingest_counts_what_it_stored_and_left_out() -> None:
    report = {"stored": 26, "duplicates": 0, "low_content": 11}
    assert outcome(_job("ingest", {"report": report})) == "26 stored, 11 left out"


def test_an_analysis_counts_its_themes() -> None:
    result = {"analysis_id": 5, "themes": 10, "subthemes": 13, "narratives": 356}
    assert outcome(_job("analyze", result)) == "10 themes, 13 sub-themes, from 356 narratives"


def test_a_running_job_shows_its_progress() -> None:
    running = {
        "kind": "embed",
        "status": "running",
        "progress_done": 256,
        "progress_total": 2000,
        "result": None,
    }
    assert outcome(running) == "256/2000"
    assert outcome(_job("delete", None)) == "done"
