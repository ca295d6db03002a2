"""Deleting narratives, uploads, sessions and projects; a participant's withdrawal; the audit
trail; and that a deletion failing half-way leaves everything as it was."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.services import withdrawal
from app.services.authors import pseudonym
from models import (
    ApiKey,
    AuditRecord,
    Base,
    Embedding,
    Job,
    MeetingSession,
    Narrative,
    Project,
    Reaction,
    Source,
    SourceStatus,
)
from tests.app.test_sessions import ZOOM_CHAT
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project, wait_for_job

STORIES_CSV = (
    b"id,story,role\n"
    b"s-1,The porter stayed late so the patient got home before dark.,porter\n"
    b"s-2,We used two forms because nobody knew which one was right.,nurse\n"
)


def delete(project: ProjectHandle, path: str, key: str | None = None) -> Any:
    return project.client.delete(project.url(path), headers=auth(key or project.admin_key))


def post_batch(project: ProjectHandle, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = project.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    wait_for_job(project.client, project.admin_key, body["job"]["id"])
    return body


def upload(project: ProjectHandle, data: bytes = STORIES_CSV) -> dict[str, Any]:
    response = project.client.post(
        project.url("/uploads"),
        files={"file": ("stories.csv", data)},
        headers=auth(project.admin_key),
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert wait_for_job(project.client, project.admin_key, body["job"]["id"])["status"] == (
        "succeeded"
    )
    return body


def post_session(project: ProjectHandle, data: bytes = ZOOM_CHAT) -> dict[str, Any]:
    response = project.client.post(
        project.url("/sessions"),
        files={"file": ("chat.txt", data)},
        data={"name": "June circle", "held_on": "2026-06-04"},
        headers=auth(project.admin_key),
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert wait_for_job(project.client, project.admin_key, body["job"]["id"])["status"] == (
        "succeeded"
    )
    return body


def count(engine: Engine, table: type[Base], **where: Any) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(getattr(table, name) == value)
        return int(session.scalar(query) or 0)


class TestDeleteNarrative:
    def test_gone_and_audited(self, project: ProjectHandle, engine: Engine) -> None:
        stored = post_batch(project, [{"text": "The lift broke twice"}, {"text": "Late again"}])
        first = stored["narrative_ids"][0]
        response = delete(project, f"/narratives/{first}")
        assert response.status_code == 200, response.text
        assert response.json()["narratives"] == 1
        assert project.get(f"/narratives/{first}").status_code == 404
        assert project.get("/narratives").json()["total"] == 1
        (record,) = project.get("/audit").json()
        assert record["action"] == "narrative" and record["target"] == str(first)
        assert record["narratives"] == 1 and record["key_name"] == "initial admin key"
        assert record["id"] == response.json()["audit_id"]

    def test_unknown_and_foreign_ids_are_404_alike(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        other = make_project(client, name="Other")
        foreign = post_batch(other, [{"text": "Not yours"}])["narrative_ids"][0]
        unknown = delete(project, "/narratives/987654")
        theirs = delete(project, f"/narratives/{foreign}")
        assert unknown.status_code == theirs.status_code == 404
        assert theirs.headers["content-type"].startswith("application/problem+json")
        assert theirs.json()["detail"] == f"narrative {foreign} not found"
        assert other.get(f"/narratives/{foreign}").status_code == 200

    def test_needs_an_admin_key(self, project: ProjectHandle) -> None:
        stored = post_batch(project, [{"text": "Kept"}])
        path = f"/narratives/{stored['narrative_ids'][0]}"
        assert delete(project, path, project.key("write")).status_code == 403
        assert project.get("/audit", key=project.key("read")).status_code == 403


class TestDeleteUpload:
    def test_narratives_and_file_go(
        self, project: ProjectHandle, engine: Engine, data_dir: Path
    ) -> None:
        body = upload(project)
        source = body["source"]
        kept = data_dir / "uploads" / project.id / source["sha256"]
        assert kept.is_file()
        response = delete(project, f"/uploads/{source['id']}")
        assert response.status_code == 200, response.text
        summary = response.json()
        assert (summary["narratives"], summary["sources"], summary["files"]) == (2, 1, 1)
        assert not kept.exists()
        assert project.get(f"/uploads/{source['id']}").status_code == 404
        assert count(engine, Narrative, project_id=project.id) == 0
        assert count(engine, Job, id=body["job"]["id"]) == 0

    def test_a_file_another_upload_shares_is_kept(
        self, project: ProjectHandle, engine: Engine, data_dir: Path
    ) -> None:
        body = upload(project)
        with Session(engine) as session, session.begin():
            twin = session.get_one(Source, body["source"]["id"])
            session.add(
                Source(
                    project_id=project.id,
                    kind=twin.kind,
                    sha256="f" * 64,
                    files=list(twin.files),
                    status=SourceStatus.stored,
                )
            )
        assert delete(project, f"/uploads/{body['source']['id']}").json()["files"] == 0
        assert (data_dir / "uploads" / project.id / body["source"]["sha256"]).is_file()

    def test_another_projects_upload_session_or_project_is_404(
        self, client: TestClient, project: ProjectHandle, data_dir: Path
    ) -> None:
        other = make_project(client, name="Other")
        theirs_body = upload(other)
        theirs = theirs_body["source"]["id"]
        meeting = post_session(other)["session"]["id"]
        for path in (f"/uploads/{theirs}", f"/sessions/{meeting}", "/uploads/31337"):
            response = delete(project, path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
        foreign = client.delete(other.url(), headers=auth(project.admin_key))
        assert foreign.status_code == 404
        assert other.get(f"/uploads/{theirs}").status_code == 200
        # the batch file is still there (the chat export went when its parse ended)
        assert (data_dir / "uploads" / other.id / theirs_body["source"]["sha256"]).is_file()

    def test_an_upload_still_being_read_is_409(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        with Session(engine) as session, session.begin():
            waiting = Source(
                project_id=project.id, kind="file", sha256="e" * 64, status=SourceStatus.queued
            )
            session.add(waiting)
            session.flush()
            source_id = waiting.id
        response = delete(project, f"/uploads/{source_id}")
        assert response.status_code == 409
        assert "once its job has finished" in response.json()["detail"]


class TestDeleteSession:
    def test_chat_reactions_and_file_go(
        self, client: TestClient, engine: Engine, data_dir: Path
    ) -> None:
        # a project that keeps its (redacted) chat files, so there is a file to remove
        project = make_project(client, keep_chat_files=True)
        body = post_session(project)
        meeting = body["session"]["id"]
        assert count(engine, Reaction, project_id=project.id) > 0
        response = delete(project, f"/sessions/{meeting}")
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["sessions"] == 1 and summary["sources"] == 1 and summary["files"] == 1
        assert summary["narratives"] > 0 and summary["reactions"] > 0
        assert count(engine, Narrative, project_id=project.id) == 0
        assert count(engine, Reaction, project_id=project.id) == 0
        assert count(engine, MeetingSession, project_id=project.id) == 0
        assert list((data_dir / "uploads" / project.id).iterdir()) == []
        assert project.get(f"/sessions/{meeting}").status_code == 404

    def test_unknown_session_is_404(self, project: ProjectHandle) -> None:
        assert delete(project, "/sessions/4242").status_code == 404


class TestDeleteProject:
    def test_everything_goes_but_the_audit_record(
        self, client: TestClient, project: ProjectHandle, engine: Engine, data_dir: Path
    ) -> None:
        other = make_project(client, name="Neighbour")
        post_batch(other, [{"text": "Our own story stays"}])
        upload(project)
        post_session(project)
        post_batch(project, [{"text": "Our own story stays"}, {"text": "Only here"}])
        assert (data_dir / "uploads" / project.id).is_dir()

        response = delete(project, "")
        assert response.status_code == 200, response.text
        summary = response.json()
        # the batch file; the chat export went when its parse ended
        assert summary["action"] == "project" and summary["files"] == 1
        assert summary["sources"] == 3 and summary["sessions"] == 1
        assert not (data_dir / "uploads" / project.id).exists()
        with Session(engine) as session:
            for table in Base.metadata.sorted_tables:
                if "project_id" in table.c and table.name != "audit_records":
                    left = session.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(table.c.project_id == project.id)
                    )
                    assert left == 0, table.name
            (record,) = session.scalars(select(AuditRecord)).all()
            assert record.project_id == project.id and record.action == "project"
            # the neighbour's text keeps its embedding; ours alone do not
            assert session.scalar(select(func.count()).select_from(Embedding)) == 1
        assert count(engine, ApiKey, project_id=other.id) == 1
        assert client.get(project.url(), headers=auth(project.admin_key)).status_code == 401
        assert other.get("/narratives").json()["total"] == 1


class TestWithdrawal:
    ITEMS: ClassVar[list[dict[str, str]]] = [
        {"text": "I waited four hours for a bed", "author": "Ana Duarte", "external_id": "a1"},
        {"text": "Nobody told me the plan", "author": "ana  duarte", "external_id": "a2"},
        {"text": "The nurses were kind", "author": "Ben Achterberg", "external_id": "b1"},
    ]

    def test_search_by_name_then_withdraw(
        self, project: ProjectHandle, engine: Engine, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        post_batch(project, self.ITEMS)
        found = project.post("/narratives/search-for-withdrawal", {"author": "Ana Duarte"})
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["total"] == 2
        assert sorted(n["external_id"] for n in body["narratives"]) == ["a1", "a2"]
        assert "text" not in body["narratives"][0]

        done = project.post("/withdrawals", {"author": "Ana Duarte"})
        assert done.status_code == 200, done.text
        assert done.json()["narratives"] == 2
        left = project.get("/narratives").json()["items"]
        assert [n["external_id"] for n in left] == ["b1"]
        again = project.post("/narratives/search-for-withdrawal", {"author": "Ana Duarte"})
        assert again.json()["total"] == 0
        (record,) = project.get("/audit").json()
        assert record["action"] == "withdrawal" and record["target"] == "author"
        with Session(engine) as session:
            stored = json.dumps(
                [
                    [getattr(r, c.name) for c in AuditRecord.__table__.c]
                    for r in session.scalars(select(AuditRecord))
                ],
                default=str,
            )
        assert "Ana" not in stored and "Duarte" not in stored
        assert "Duarte" not in caplog.text

    def test_search_by_external_id(self, project: ProjectHandle) -> None:
        post_batch(project, self.ITEMS)
        found = project.post("/narratives/search-for-withdrawal", {"external_id": "b1"}).json()
        assert [n["external_id"] for n in found["narratives"]] == ["b1"]
        assert project.post("/withdrawals", {"external_id": "b1"}).json()["narratives"] == 1
        assert project.get("/narratives").json()["total"] == 2

    def test_an_authors_reactions_go_too(self, project: ProjectHandle, engine: Engine) -> None:
        post_session(project)
        found = project.post("/narratives/search-for-withdrawal", {"author": "Chidi Eze"}).json()
        assert found["reactions"] >= 1
        summary = project.post("/withdrawals", {"author": "Chidi Eze"}).json()
        assert summary["reactions"] >= found["reactions"]
        with Session(engine) as session:
            name = pseudonym(session.get_one(Project, project.id), "Chidi Eze")
        assert count(engine, Reaction, author=name) == 0
        assert count(engine, Narrative, author=name) == 0
        assert project.post(
            "/narratives/search-for-withdrawal", {"author": "Chidi Eze"}
        ).json() == {"total": 0, "reactions": 0, "narratives": []}

    @pytest.mark.parametrize(
        "body", [{}, {"author": "A", "external_id": "x"}, {"author": ""}, {"name": "A"}]
    )
    def test_exactly_one_of_author_or_external_id(
        self, project: ProjectHandle, body: dict[str, str]
    ) -> None:
        response = project.post("/narratives/search-for-withdrawal", body)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "A" not in json.dumps(response.json().get("errors", []))

    def test_needs_an_admin_key(self, project: ProjectHandle) -> None:
        write = project.key("write")
        assert project.post("/withdrawals", {"external_id": "x"}, key=write).status_code == 403
        search = project.post("/narratives/search-for-withdrawal", {"external_id": "x"}, key=write)
        assert search.status_code == 403


class TestOneTransaction:
    def test_a_failure_half_way_leaves_everything(
        self,
        settings: Settings,
        embedder: CountingEmbedder,
        data_dir: Path,
        engine: Engine,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        configured = settings.model_copy(update={"data_dir": str(data_dir)})
        with TestClient(
            create_app(configured, embedder=embedder), raise_server_exceptions=False
        ) as client:
            project = make_project(client)
            body = upload(project)
            kept = data_dir / "uploads" / project.id / body["source"]["sha256"]

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("disk on fire")

            # the last step of both deletions: the rows are deleted by then
            monkeypatch.setattr(withdrawal, "drop_unshared_embeddings", broken)
            for path in (f"/uploads/{body['source']['id']}", ""):
                assert delete(project, path).status_code == 500
            assert project.get("/narratives").json()["total"] == 2
            assert project.get(f"/uploads/{body['source']['id']}").status_code == 200
            assert kept.is_file()
            assert count(engine, AuditRecord) == 0
