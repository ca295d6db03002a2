"""The upload screen: the form for write keys, its /ui/api upload and progress read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Narrative, Source
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project
from tests.ui.helpers import sign_in

CHAT = (
    b"10:00:05\t From  Ana Duarte : Welcome back; today we review the new booking rule.\n"
    b"10:01:10\t From  Chidi Eze : The new booking rule cut the waits by half.\n"
    b"10:01:40\t From  Dana Morrow to Ana Duarte(Privately) : my camera is broken\n"
    b"10:02:00\t From  Chidi Eze : thanks!\n"
)
STORIES = b"id,story\ns-1,The porter stayed late so the patient got home.\ns-2,,\n"


@pytest.fixture
def client(settings: Settings, embedder: CountingEmbedder, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"data_dir": str(tmp_path / "var")})
    with TestClient(create_app(configured, embedder=embedder)) as test_client:
        yield test_client


def page_url(project: ProjectHandle) -> str:
    return f"/ui/p/{project.id}/upload"


def api_url(project: ProjectHandle, path: str = "") -> str:
    return f"/ui/api/p/{project.id}/uploads{path}"


def post_upload(
    client: TestClient,
    project: ProjectHandle,
    token: str | None,
    data: bytes = CHAT,
    filename: str = "meeting_saved_chat.txt",
    kind: str = "session",
    **fields: str,
) -> Any:
    headers = {"X-CSRF-Token": token} if token is not None else {}
    if kind == "session":
        fields.setdefault("name", "June practice circle")
    return client.post(
        api_url(project),
        params={"as": kind},
        files={"file": (filename, data)},
        data=fields,
        headers=headers,
    )


def settled(client: TestClient, project: ProjectHandle, source_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body: dict[str, Any] = client.get(api_url(project, f"/{source_id}")).json()
        if body["progress"]["stage"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body["progress"]
        time.sleep(0.05)


def narratives(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Narrative)) or 0)


class TestPage:
    def test_a_write_key_sees_the_form(self, client: TestClient, project: ProjectHandle) -> None:
        sign_in(client, project.key("write"))
        page = client.get(page_url(project))
        assert page.status_code == 200
        assert 'id="upload-form"' in page.text
        assert "This is a meeting's chat or transcript" in page.text
        assert "A file of narratives" in page.text
        assert 'aria-current="page">Upload' in page.text
        assert "/ui/static/upload.js" in page.text
        # an empty project has no earlier uploads to list
        assert "Earlier uploads" not in page.text

    def test_a_read_key_sees_why_there_is_no_form(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.key("read"))
        page = client.get(page_url(project))
        assert page.status_code == 200
        assert 'id="upload-form"' not in page.text
        assert "read key" in page.text and "write key" in page.text

    def test_earlier_uploads_are_listed_with_a_way_to_their_report(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        csrf = sign_in(client, project.admin_key)
        source_id = post_upload(client, project, csrf).json()["source"]["id"]
        settled(client, project, source_id)
        failed = post_upload(client, project, csrf, b"", "empty.csv", kind="file")
        settled(client, project, failed.json()["source"]["id"])
        page = client.get(page_url(project))
        assert "Earlier uploads" in page.text
        assert f"upload?source={source_id}" in page.text
        assert "meeting_saved_chat.txt" in page.text and "Meeting" in page.text
        assert "Not read:" in page.text


class TestUploadFromThePage:
    def test_a_meeting_chat_is_stored_and_followed_to_done(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        csrf = sign_in(client, project.key("write"))
        response = post_upload(client, project, csrf, held_on="2026-06-04", timezone="UTC")
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["session"]["name"] == "June practice circle"
        source = settled(client, project, body["source"]["id"])
        assert source["progress"]["stage"] == "done"
        assert source["report"]["stored"] == 3 and source["report"]["private_messages"] == 1
        assert source["report"]["low_content"] == 1
        # the same answer as the /v1 read
        v1 = client.get(
            f"/v1/projects/{project.id}/uploads/{source['id']}", headers=auth(project.admin_key)
        ).json()
        assert v1 == source
        assert narratives(engine) == 3

    def test_a_file_of_narratives(self, client: TestClient, project: ProjectHandle) -> None:
        csrf = sign_in(client, project.admin_key)
        response = post_upload(client, project, csrf, STORIES, "stories.csv", kind="file")
        assert response.status_code == 202, response.text
        assert response.json()["session"] is None
        source = settled(client, project, response.json()["source"]["id"])
        assert source["report"]["stored"] == 1 and source["report"]["skipped"] == 1

    def test_a_meeting_needs_its_name(self, client: TestClient, project: ProjectHandle) -> None:
        csrf = sign_in(client, project.admin_key)
        response = post_upload(client, project, csrf, name="")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"].startswith("name:")

    def test_a_chat_sent_as_a_file_of_narratives_fails_with_a_hint(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        csrf = sign_in(client, project.admin_key)
        response = post_upload(client, project, csrf, kind="file")
        source = settled(client, project, response.json()["source"]["id"])
        assert source["progress"]["stage"] == "failed"
        assert "/sessions" in source["progress"]["error"]


class TestWhoMayUpload:
    def test_a_read_key_cannot_upload(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        csrf = sign_in(client, project.key("read"))
        response = post_upload(client, project, csrf)
        assert response.status_code == 403
        assert "write key" in response.json()["detail"]
        with Session(engine) as session:
            assert session.scalars(select(Source.id)).all() == []

    def test_a_read_key_may_follow_an_upload(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        posted = client.post(
            project.url("/sessions"),
            files={"file": ("chat.txt", CHAT)},
            data={"name": "June"},
            headers=auth(project.admin_key),
        )
        sign_in(client, project.key("read"))
        source = settled(client, project, posted.json()["source"]["id"])
        assert source["progress"]["stage"] == "done"

    def test_the_csrf_header_is_needed(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        csrf = sign_in(client, project.admin_key)
        assert post_upload(client, project, None).status_code == 403
        assert post_upload(client, project, "forged").status_code == 403
        # the token as a form field is not enough for an upload: the script sends the header
        assert post_upload(client, project, None, csrf=csrf).status_code == 403
        assert narratives(engine) == 0
        with Session(engine) as session:
            assert session.scalars(select(Source.id)).all() == []

    def test_another_projects_session_gets_404_everywhere(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        posted = client.post(
            project.url("/sessions"),
            files={"file": ("chat.txt", CHAT)},
            data={"name": "June"},
            headers=auth(project.admin_key),
        )
        source_id = posted.json()["source"]["id"]
        other = make_project(client, name="Another council")
        csrf = sign_in(client, other.admin_key)
        page = client.get(page_url(project))
        assert page.status_code == 404 and "belongs to another project" in page.text
        assert post_upload(client, project, csrf).status_code == 404
        assert client.get(api_url(project, f"/{source_id}")).status_code == 404
        # nor through its own project's address
        assert client.get(api_url(other, f"/{source_id}")).status_code == 404

    def test_without_sign_in_the_api_is_401_and_the_page_asks_to_sign_in(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        assert client.get(api_url(project, "/1")).status_code == 401
        page = client.get(page_url(project), follow_redirects=False)
        assert page.status_code == 303 and "/ui/sign-in" in page.headers["location"]

    def test_a_file_over_the_limit_is_413_in_words(
        self, client: TestClient, project: ProjectHandle, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
        monkeypatch.setattr(settings, "max_upload_bytes", 200)
        csrf = sign_in(client, project.admin_key)
        page = client.get(page_url(project))
        assert 'data-max-bytes="200"' in page.text
        response = post_upload(client, project, csrf, CHAT * 3)
        assert response.status_code == 413
        assert "exceeds the limit" in response.json()["detail"]
