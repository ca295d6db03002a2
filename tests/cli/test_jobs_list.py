"""`GET /v1/projects/{p}/jobs`: the project's jobs, newest first, paginated, read key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import Job, JobStatus
from tests.conftest import ProjectHandle, auth, make_project

_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _insert_jobs(engine: Engine, project_id: str, kinds: list[str]) -> list[str]:
    """Jobs of `kinds`, one minute apart in that order; their ids."""
    ids = []
    with Session(engine) as session, session.begin():
        for minute, kind in enumerate(kinds):
            job = Job(
                project_id=project_id,
                kind=kind,
                status=JobStatus.succeeded,
                created_at=_START + timedelta(minutes=minute),
            )
            session.add(job)
            session.flush()
            ids.append(job.id)
    return ids


class TestListJobs:
    def test_newest_first_with_total_and_pages(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        ids = _insert_jobs(engine, project.id, ["ingest", "embed", "analyze"])
        read = project.key("read")
        first = project.get("/jobs", key=read, limit=2).json()
        second = project.get("/jobs", key=read, limit=2, offset=2).json()
        assert first["total"] == 3
        assert [j["id"] for j in first["items"]] == [ids[2], ids[1]]
        assert [j["id"] for j in second["items"]] == [ids[0]]
        assert first["items"][0]["kind"] == "analyze"

    def test_another_projects_jobs_are_not_listed(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        other = make_project(client, "Other CoP")
        _insert_jobs(engine, other.id, ["ingest"])
        assert project.get("/jobs").json() == {"total": 0, "limit": 100, "offset": 0, "items": []}

    def test_a_key_of_another_project_gets_404(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        other = make_project(client, "Other CoP")
        answer = client.get(project.url("/jobs"), headers=auth(other.admin_key))
        assert answer.status_code == 404

    def test_limit_out_of_bounds_is_422(self, client: TestClient, project: ProjectHandle) -> None:
        assert project.get("/jobs", limit=0).status_code == 422
        assert project.get("/jobs", limit=1001).status_code == 422
