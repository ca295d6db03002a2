"""What stays of an uploaded file: chats deleted or redacted, retention, nothing kept on refusal."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Source
from models.base import utcnow
from tests.app.privacy.conftest import FIXTURES, authors, left_files
from tests.conftest import (
    CountingEmbedder,
    ProjectHandle,
    auth,
    make_project,
    wait_for_job,
)

ZOOM_CHAT = (FIXTURES / "zoom_chat_new.txt").read_bytes()
STORIES_CSV = b"id,story\ns1,The discharge lounge was calm today\ns2,Transport came late again\n"


# --- raw files -------------------------------------------------------------------------------


def post_session(project: ProjectHandle, data: bytes, **fields: str) -> Any:
    return project.client.post(
        project.url("/sessions"),
        files={"file": ("meeting_saved_chat.txt", data)},
        data={"name": "June circle", "held_on": "2026-06-04", **fields},
        headers=auth(project.admin_key),
    )


def post_upload(project: ProjectHandle, files: dict[str, Any], **fields: str) -> Any:
    return project.client.post(
        project.url("/uploads"), files=files, data=fields, headers=auth(project.admin_key)
    )


def settled(project: ProjectHandle, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    return wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])


class TestChatFiles:
    def test_chat_export_is_deleted_once_parsed_and_replay_keeps_no_copy(
        self, client: TestClient, data_dir: Path, engine: Engine
    ) -> None:
        project = make_project(client)
        assert settled(project, post_session(project, ZOOM_CHAT))["status"] == "succeeded"
        assert left_files(data_dir) == []
        again = post_session(project, ZOOM_CHAT)
        assert again.status_code == 202 and again.json()["duplicate"] is True
        assert left_files(data_dir) == []
        with Session(engine) as session:
            (entry,) = session.scalars(select(Source)).one().files
        assert entry["path"] is None and entry["removed"] == "parsed"
        assert entry["sha256"] == hashlib.sha256(ZOOM_CHAT).hexdigest()

    def test_a_kept_chat_holds_no_private_message(self, client: TestClient, data_dir: Path) -> None:
        project = make_project(client, keep_chat_files=True)
        assert project.get("").json()["keep_chat_files"] is True
        assert settled(project, post_session(project, ZOOM_CHAT))["status"] == "succeeded"
        (kept,) = left_files(data_dir)
        copy = (data_dir / kept).read_text()
        assert "Dana Morrow to Ana Duarte" not in copy
        assert "I need to leave at half past" not in copy
        assert "transport bookings that are made too late" in copy
        # the copy still reads as the same chat
        assert "Dana Morrow to Everyone" in copy

    def test_a_failed_parse_keeps_no_file(self, client: TestClient, data_dir: Path) -> None:
        project = make_project(client)
        response = post_session(project, b"\x00\x01 not a chat at all", format="zoom_chat")
        job = settled(project, response)
        assert job["status"] == "failed"
        assert left_files(data_dir) == []


class TestRetention:
    def test_batch_file_is_kept_for_the_retention_then_purged_at_start(
        self,
        settings: Settings,
        embedder: CountingEmbedder,
        data_dir: Path,
        engine: Engine,
    ) -> None:
        with TestClient(create_app(settings, embedder=embedder)) as client:
            project = make_project(client)
            response = post_upload(project, {"file": ("s.csv", STORIES_CSV)})
            assert settled(project, response)["status"] == "succeeded"
            sha = hashlib.sha256(STORIES_CSV).hexdigest()
            assert left_files(data_dir) == [f"uploads/{project.id}/{sha}"]
        with engine.begin() as conn:
            conn.execute(update(Source).values(finished_at=utcnow() - timedelta(days=8)))
        with TestClient(create_app(settings, embedder=embedder)) as client:
            assert left_files(data_dir) == []
            project.client = client
            again = post_upload(project, {"file": ("s.csv", STORIES_CSV)})
            assert again.status_code == 202 and again.json()["duplicate"] is True
            assert left_files(data_dir) == []

    def test_zero_days_deletes_the_file_once_stored(
        self, settings: Settings, embedder: CountingEmbedder, data_dir: Path
    ) -> None:
        at_once = settings.model_copy(update={"raw_retention_days": 0})
        with TestClient(create_app(at_once, embedder=embedder)) as client:
            project = make_project(client)
            response = post_upload(project, {"file": ("s.csv", STORIES_CSV)})
            assert settled(project, response)["status"] == "succeeded"
            assert left_files(data_dir) == []
            assert len(authors(project)) == 2


# --- refusals keep nothing -------------------------------------------------------------------

DEFINITION = (FIXTURES / "sensemaker_mini_definition.json").read_bytes()
SENSEMAKER = (FIXTURES / "sensemaker_mini_data.csv").read_bytes()
CSV = ("s.csv", STORIES_CSV)

REFUSED_UPLOADS: dict[str, tuple[dict[str, Any], dict[str, str], int]] = {
    "unexpected file field": ({"file": CSV, "photo": ("p.png", b"\x89PNG")}, {}, 422),
    "no 'file' field": ({"votes": ("votes.csv", b"a,b\n")}, {}, 422),
    "field given twice": ({"file": CSV}, {"format": "csv", "fromat": "csv"}, 422),
    "unknown form field": ({"file": CSV}, {"fromat": "csv"}, 422),
    "bad format": ({"file": CSV}, {"format": "docx"}, 422),
    "mapping not JSON": ({"file": CSV}, {"mapping": "{text: story"}, 422),
    "mapping names undeclared signifier": (
        {"file": CSV},
        {"mapping": json.dumps({"signifiers": {"mood": "mood"}})},
        422,
    ),
    "definition and votes": (
        {
            "file": ("d.csv", SENSEMAKER),
            "definition": ("def.json", DEFINITION),
            "votes": ("v.csv", b"a\n"),
        },
        {},
        422,
    ),
    "votes and participants votes": (
        {"file": CSV, "votes": ("v.csv", b"a\n"), "participants_votes": ("pv.csv", b"b\n")},
        {},
        422,
    ),
}


class TestRefusalsKeepNothing:
    @pytest.mark.parametrize("case", sorted(REFUSED_UPLOADS))
    def test_refused_upload(self, client: TestClient, data_dir: Path, case: str) -> None:
        files, fields, status = REFUSED_UPLOADS[case]
        project = make_project(client)
        response = post_upload(project, files, **fields)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert left_files(data_dir) == []

    @pytest.mark.parametrize(
        "fields",
        [{"name": ""}, {"held_on": "June"}, {"attributes": "[1]"}, {"format": "slack"}],
        ids=["empty name", "bad date", "attributes not an object", "bad format"],
    )
    def test_refused_session(
        self, client: TestClient, data_dir: Path, fields: dict[str, str]
    ) -> None:
        project = make_project(client)
        response = post_session(project, ZOOM_CHAT, **fields)
        assert response.status_code == 422, response.text
        assert left_files(data_dir) == []

    def test_session_without_a_name(self, client: TestClient, data_dir: Path) -> None:
        project = make_project(client)
        response = client.post(
            project.url("/sessions"),
            files={"file": ("chat.txt", ZOOM_CHAT)},
            headers=auth(project.admin_key),
        )
        assert response.status_code == 422
        assert left_files(data_dir) == []

    def test_definition_import_keeps_no_file_either_way(
        self, client: TestClient, data_dir: Path
    ) -> None:
        project = make_project(client)
        url, headers = project.url("/signifiers/import"), auth(project.admin_key)
        bad = client.post(url, files={"file": ("d.json", b"{not json")}, headers=headers)
        assert bad.status_code == 422, bad.text
        good = client.post(url, files={"file": ("d.json", DEFINITION)}, headers=headers)
        assert good.status_code == 200, good.text
        assert left_files(data_dir) == []

    def test_too_large_keeps_nothing(
        self, settings: Settings, embedder: CountingEmbedder, data_dir: Path
    ) -> None:
        small = settings.model_copy(update={"max_upload_bytes": 4096})
        with TestClient(create_app(small, embedder=embedder)) as client:
            project = make_project(client)
            big = b"id,story\n" + b"".join(b"%d,words words\n" % i for i in range(600))
            response = post_upload(project, {"file": ("big.csv", big)})
            assert response.status_code == 413
        assert left_files(data_dir) == []

    def test_a_refusal_leaves_the_same_bytes_of_a_stored_upload_alone(
        self, client: TestClient, data_dir: Path
    ) -> None:
        project = make_project(client)
        assert settled(project, post_upload(project, {"file": CSV}))["status"] == "succeeded"
        kept = left_files(data_dir)
        assert len(kept) == 1
        assert post_upload(project, {"file": CSV}, fromat="csv").status_code == 422
        assert left_files(data_dir) == kept
        assert os.path.getsize(data_dir / kept[0]) == len(STORIES_CSV)
