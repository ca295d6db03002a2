"""`weft jobs`: the project's jobs, or one job, followed to its end with --wait."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.connection import Api, connected
from app.cli.waiting import job_failed, wait_for_job

#: Jobs listed when no id is given.
LISTED = 20


@connected
def jobs(
    api: Api,
    job_id: Annotated[str | None, typer.Argument(help="A job's id; none lists the latest.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job to its end.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Jobs listed.")] = LISTED,
) -> None:
    """The project's latest jobs, newest first, or one job's status and progress."""
    if job_id is None:
        if wait:
            raise typer.BadParameter("--wait needs a job id", param_hint="JOB_ID")
        page = api.get(api.in_project("/jobs"), limit=limit)
        if api.out.as_json:
            api.out.json(page)
            return
        rows = [
            [j["id"], j["kind"], j["status"], outcome(j), j["created_at"], j["error"] or ""]
            for j in page["items"]
        ]
        api.out.table(["id", "kind", "status", "progress or result", "created", "error"], rows)
        return
    job = wait_for_job(api, job_id) if wait else api.get(f"/v1/jobs/{job_id}")
    if api.out.as_json:
        api.out.json(job)
    else:
        api.out.data(f"{job['id']}  {job['kind']}  {job['status']}  {outcome(job)}")
    if job["status"] == "failed":
        raise job_failed(job)


def outcome(job: dict[str, Any]) -> str:
    """A job's progress while it runs; once it has succeeded, what it did in words."""
    if job["status"] != "succeeded":
        return _progress(job)
    result = job.get("result") or {}
    if "themes" in result:
        return (
            f"{result['themes']} themes, {result.get('subthemes', 0)} sub-themes, "
            f"from {result.get('narratives', 0)} narratives"
        )
    if isinstance(result.get("report"), dict):
        report = result["report"]
        said = [f"{report.get('stored', 0)} stored"]
        said += [
            f"{report[name]} {words}"
            for name, words in (("duplicates", "duplicates"), ("low_content", "left out"))
            if report.get(name)
        ]
        return ", ".join(said)
    if "embedded" in result:
        embedded = result["embedded"]
        said = [f"{embedded} embedded" if embedded else "nothing left to embed"]
        placed = result.get("incremental")
        if isinstance(placed, dict) and placed.get("placed"):
            said.append(f"{placed['placed']} placed into themes")
        return ", ".join(said)
    return "done"


def _progress(job: dict[str, Any]) -> str:
    total = job["progress_total"]
    return f"{job['progress_done']}/{total}" if total is not None else str(job["progress_done"])
