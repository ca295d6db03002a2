"""Uploads of crafted or broken files: refused clearly and fast, one row at a time where the
rest of the file is good, and never stored changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import MeetingSession, Narrative
from pipelines.ingest.guards import INVISIBLE_TEXT, NON_FINITE, OUT_OF_RANGE, TOO_DEEP
from tests.conftest import CountingEmbedder, ProjectHandle, auth, wait_for_job
from tests.pipelines.ingest import crafted_xlsx


@pytest.fixture
def client(settings: Settings, embedder: CountingEmbedder, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"data_dir": str(tmp_path / "var")})
    with TestClient(create_app(configured, embedder=embedder)) as test_client:
        yield test_client


def _post(project: ProjectHandle, path: str, filename: str, data: bytes, **fields: str) -> Any:
    response = project.client.post(
        project.url(path),
        files={"file": (filename, data)},
        data=fields,
        headers=auth(project.admin_key),
    )
    assert response.status_code == 202, response.text
    return wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 60)


def upload(project: ProjectHandle, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    job: dict[str, Any] = _post(project, "/uploads", name, data, **fields)
    return job


def session_upload(project: ProjectHandle, name: str, data: bytes, **fields: str) -> Any:
    return _post(project, "/sessions", name, data, name=fields.pop("session", "Circle"), **fields)


def stored(project: ProjectHandle) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = project.get("/narratives", limit=1000).json()["items"]
    return items


def issues(job: dict[str, Any]) -> dict[str, str]:
    return {i["location"]: i["reason"] for i in job["result"]["report"]["issues"]}


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestCraftedWorkbooks:
    def test_a_huge_declared_dimension_fails_in_seconds(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = upload(project, "crafted.xlsx", crafted_xlsx.huge_dimension())
        assert job["status"] == "failed"
        assert "declares 1048576 rows (A1:XFD1048576)" in job["error"]
        assert "save the sheet as CSV" in job["error"]
        assert "internal error" not in job["error"]
        assert count(engine, Narrative) == 0

    def test_a_shared_strings_bomb_fails_in_seconds(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = upload(project, "bomb.xlsx", crafted_xlsx.shared_strings_bomb())
        assert job["status"] == "failed"
        assert "sharedStrings.xml' would unpack from" in job["error"]
        assert count(engine, Narrative) == 0


class TestRecordsRefusedAlone:
    def test_jsonl_nested_10000_deep(self, project: ProjectHandle) -> None:
        deep = "[" * 10_000 + "]" * 10_000
        lines = ['{"text": "A kept story"}', '{"text": "deep", "meta": ' + deep + "}"]
        job = upload(project, "deep.jsonl", "\n".join(lines).encode())
        assert job["status"] == "succeeded", job
        assert issues(job)["line 2"] == f"the record {TOO_DEEP}"
        assert [n["text"] for n in stored(project)] == ["A kept story"]

    def test_json_document_nested_10000_deep(self, project: ProjectHandle) -> None:
        deep = "[" * 10_000 + "]" * 10_000
        job = upload(project, "deep.json", ('[{"text": "x", "meta": ' + deep + "}]").encode())
        assert job["status"] == "failed"
        assert TOO_DEEP in job["error"]
        assert "internal error" not in job["error"]

    def test_non_finite_attributes_are_never_stored(self, project: ProjectHandle) -> None:
        lines = [
            '{"text": "First story", "age": NaN, "site": "North"}',
            '{"text": "Second story", "age": Infinity}',
            '{"text": "Third story", "age": 1e309}',
            '{"text": "Fourth story", "age": 41}',
        ]
        job = upload(project, "numbers.jsonl", "\n".join(lines).encode())
        assert job["status"] == "succeeded", job
        attributes = {n["text"]: n["attributes"] for n in stored(project)}
        assert attributes == {
            "First story": {"site": "North"},
            "Second story": {},
            "Third story": {},
            "Fourth story": {"age": "41"},
        }
        for line in ("line 1", "line 2", "line 3"):
            assert issues(job)[line] == f"attribute 'age' {NON_FINITE}; not stored"

    def test_edge_dates_refuse_only_their_rows(self, project: ProjectHandle) -> None:
        rows = (
            "id,story,date\n"
            "a,A story of 2024,2024-03-01T10:00:00+00:00\n"
            "b,A story of year one,0001-01-01T00:00:00+01:00\n"
            "c,A story of the last year,9999-12-31T23:59:59-01:00\n"
            "d,Another story of 2024,2024-03-02\n"
        )
        job = upload(project, "dates.csv", rows.encode())
        assert job["status"] == "succeeded", job
        assert sorted(n["external_id"] for n in stored(project)) == ["a", "d"]
        assert issues(job)["row 3"] == f"column 'date': '0001-01-01T00:00:00+01:00' {OUT_OF_RANGE}"
        assert issues(job)["row 4"] == f"column 'date': '9999-12-31T23:59:59-01:00' {OUT_OF_RANGE}"
        assert job["result"]["report"]["skipped"] == 2

    def test_zero_width_text_is_refused(self, project: ProjectHandle) -> None:
        rows = "story\n\u200b\u200d\u2060\nA visible story\n"
        job = upload(project, "invisible.csv", rows.encode())
        assert job["status"] == "succeeded", job
        assert [n["text"] for n in stored(project)] == ["A visible story"]
        assert issues(job)["row 2"] == f"the text {INVISIBLE_TEXT}"

    def test_a_row_cut_inside_a_quote_is_refused_not_merged(self, project: ProjectHandle) -> None:
        rows = (
            b"id,story,site\n"
            b'1,"A story that was cut,North\n'
            b'2,"Second story",South\n'
            b"3,Third story,East\n"
        )
        job = upload(project, "cut.csv", rows)
        assert job["status"] == "succeeded", job
        assert [n["text"] for n in stored(project)] == ["Third story"]
        assert "is not closed" in issues(job)["row 2 (lines 2-3)"]


class TestNothingChangedQuietly:
    def test_mixed_encodings_are_read_line_by_line_and_reported(
        self, project: ProjectHandle
    ) -> None:
        data = b"story\n" + "déjà vu in the ward\n".encode() + "café on level 2\n".encode("cp1252")
        job = upload(project, "mixed.csv", data)
        assert job["status"] == "succeeded", job
        assert sorted(n["text"] for n in stored(project)) == [
            "café on level 2",
            "déjà vu in the ward",
        ]
        report = job["result"]["report"]
        assert report["encoding"] == "utf-8+cp1252"
        assert "mixes UTF-8 and Windows-1252" in issues(job)["file"]

    def test_duplicate_columns_fail_with_how_to_fix(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = upload(project, "dup.csv", b"story,site,site\nA story,North,South\n")
        assert job["status"] == "failed"
        assert "'site' (columns 2, 3)" in job["error"]
        assert "Rename the columns" in job["error"]
        assert count(engine, Narrative) == 0


VTT = (
    b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nAna: We start with the handover.\n\n"
    b"99:99:99.999 --> 99:99:99.999\nBen: This cue cannot be placed.\n"
)
DIRECT_ONLY = (
    b"10:00:00 From Ana Silva to Ben Okoro(Direct Message):\n\tsee you at 3\n"
    b"10:01:00 From Ben Okoro to Ana Silva(Direct Message):\n\tok\n"
)


class TestSessions:
    def test_a_cue_at_99_99_99_is_refused(self, project: ProjectHandle) -> None:
        job = session_upload(project, "rec.vtt", VTT, started_at="2026-06-04T10:00:00+01:00")
        assert job["status"] == "succeeded", job
        assert [n["text"] for n in stored(project)] == ["We start with the handover."]
        assert "minutes and seconds run from 00 to 59" in issues(job)["line 6"]

    def test_a_chat_of_direct_messages_only_fails_and_leaves_no_session(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = session_upload(project, "meeting_saved_chat.txt", DIRECT_ONLY, held_on="2026-06-04")
        assert job["status"] == "failed"
        assert "only direct messages (2)" in job["error"]
        assert project.get("/sessions").json() == []
        assert count(engine, MeetingSession) == 0

    def test_a_failed_parse_leaves_no_empty_session(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        job = session_upload(project, "garbage.vtt", b"WEBVTT\n\nnothing to read here\n")
        assert job["status"] == "failed"
        assert project.get("/sessions").json() == []
        assert count(engine, MeetingSession) == 0

    def test_a_session_another_export_filled_is_kept(self, project: ProjectHandle) -> None:
        good = session_upload(project, "rec.vtt", VTT, session="June circle")
        assert good["status"] == "succeeded", good
        bad = session_upload(project, "chat.txt", DIRECT_ONLY, session="June circle")
        assert bad["status"] == "failed"
        (meeting,) = project.get("/sessions").json()
        assert meeting["name"] == "June circle"
        assert meeting["id"] == good["result"]["session_id"]

    def test_a_meeting_dropped_by_a_failed_parse_meanwhile_is_made_again(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        from app.services import meetings as meeting_service
        from models import Project

        with Session(engine) as session, session.begin():
            session.add(MeetingSession(project_id=project.id, name="Race", held_on=None))
        with Session(engine) as request:
            owner = request.get_one(Project, project.id)
            found = request.scalars(select(MeetingSession).where(MeetingSession.name == "Race"))
            meeting = found.one()
            # the failed parse of an earlier export of it drops it before this request writes
            with Session(engine) as job, job.begin():
                assert meeting_service.drop_if_empty(job, meeting.id, failed_source_id=0)
            assert not meeting_service.claim_existing(request, meeting, {"group": "North"})
            again = meeting_service.find_or_create(request, owner, "Race", None, {"g": "N"})
            made_id = again.id
            request.commit()
        with Session(engine) as session:
            (made,) = session.scalars(select(MeetingSession).where(MeetingSession.name == "Race"))
            assert made.id == made_id and made.attributes == {"g": "N"}

    def test_a_failed_parse_leaves_a_meeting_a_newer_export_claimed(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        from app.services import meetings as meeting_service
        from models import Source, SourceStatus

        with Session(engine) as session, session.begin():
            meeting = MeetingSession(project_id=project.id, name="Claimed", held_on=None)
            sources = [
                Source(project_id=project.id, kind="session", sha256=c * 64, status=status)
                for c, status in (("a", SourceStatus.failed), ("b", SourceStatus.queued))
            ]
            session.add_all([meeting, *sources])
            session.flush()
            meeting_id, failed, newer = meeting.id, sources[0].id, sources[1].id
        with Session(engine) as session, session.begin():
            # the newer export has claimed the meeting; its source names it nowhere else yet
            session.get_one(MeetingSession, meeting_id).source_id = newer
        with Session(engine) as job, job.begin():
            assert not meeting_service.drop_if_empty(job, meeting_id, failed_source_id=failed)
        with Session(engine) as session:
            assert session.get(MeetingSession, meeting_id) is not None

    def test_a_session_with_a_failed_export_can_be_posted_again(
        self, project: ProjectHandle
    ) -> None:
        failed = session_upload(project, "chat.txt", DIRECT_ONLY, session="Retry")
        assert failed["status"] == "failed"
        chat = DIRECT_ONLY + b"10:02:00 From Ana Silva to Everyone:\n\tThe lift is fixed now.\n"
        again = session_upload(project, "chat.txt", chat, session="Retry")
        assert again["status"] == "succeeded", again
        (meeting,) = project.get("/sessions").json()
        assert [n["session_id"] for n in stored(project)] == [meeting["id"]]
        assert json.dumps(meeting)  # the session answers as JSON
