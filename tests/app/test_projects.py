from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project


class TestCreateProject:
    def test_returns_admin_key_once(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json={"name": "Frailty pathway"})
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "Frailty pathway"
        assert body["admin_key"]["scope"] == "admin"
        assert body["admin_key"]["key"].startswith("weft_")
        read = client.get(f"/v1/projects/{body['id']}", headers=auth(body["admin_key"]["key"]))
        assert read.status_code == 200
        assert "key" not in read.text
        keys = client.get(
            f"/v1/projects/{body['id']}/keys", headers=auth(body["admin_key"]["key"])
        ).json()
        assert [k["scope"] for k in keys] == ["admin"]
        assert all("key" not in k for k in keys)

    def test_missing_name_is_422_problem(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json={})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "name"

    def test_bootstrap_token_required_when_set(
        self, settings: Settings, embedder: CountingEmbedder
    ) -> None:
        guarded = settings.model_copy(update={"bootstrap_token": "let-me-in"})
        with TestClient(create_app(guarded, embedder=embedder)) as guarded_client:
            assert guarded_client.post("/v1/projects", json={"name": "x"}).status_code == 401
            ok = guarded_client.post("/v1/projects", json={"name": "x"}, headers=auth("let-me-in"))
            assert ok.status_code == 201

    def test_keep_chat_files_is_off_unless_asked(self, client: TestClient) -> None:
        default = client.post("/v1/projects", json={"name": "a"}).json()
        assert default["keep_chat_files"] is False
        kept = client.post("/v1/projects", json={"name": "b", "keep_chat_files": True}).json()
        read = client.get(f"/v1/projects/{kept['id']}", headers=auth(kept["admin_key"]["key"]))
        assert read.json()["keep_chat_files"] is True
        refused = client.post("/v1/projects", json={"name": "c", "keep_chat_files": "maybe"})
        assert refused.status_code == 422


class TestAccess:
    def test_no_key_is_401(self, client: TestClient, project: ProjectHandle) -> None:
        response = client.get(project.url())
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "Bearer" in response.json()["detail"]

    def test_unknown_key_is_401(self, client: TestClient, project: ProjectHandle) -> None:
        assert client.get(project.url(), headers=auth("weft_not-a-key")).status_code == 401

    def test_x_api_key_header_works(self, client: TestClient, project: ProjectHandle) -> None:
        response = client.get(project.url(), headers={"X-API-Key": project.admin_key})
        assert response.status_code == 200

    def test_other_projects_key_is_404(self, client: TestClient, project: ProjectHandle) -> None:
        other = make_project(client, "Another system")
        for path in ("", "/narratives", "/signifiers", "/keys"):
            response = client.get(project.url(path), headers=auth(other.admin_key))
            assert response.status_code == 404, path
        # and it looks exactly like a project that does not exist
        missing = client.get("/v1/projects/doesnotexist", headers=auth(other.admin_key))
        assert missing.status_code == 404

    def test_read_key_cannot_write(self, client: TestClient, project: ProjectHandle) -> None:
        read_key = project.key("read")
        response = project.post("/narratives", {"narratives": [{"text": "hi"}]}, key=read_key)
        assert response.status_code == 403
        assert "read key" in response.json()["detail"]
        assert project.get("/narratives", key=read_key).json()["total"] == 0

    def test_write_key_cannot_manage_keys(self, project: ProjectHandle) -> None:
        write_key = project.key("write")
        response = project.post("/keys", {"scope": "admin"}, key=write_key)
        assert response.status_code == 403

    def test_revoked_key_stops_working(self, client: TestClient, project: ProjectHandle) -> None:
        read_key = project.key("read")
        key_id = next(k["id"] for k in project.get("/keys").json() if k["scope"] == "read")
        revoked = client.delete(project.url(f"/keys/{key_id}"), headers=auth(project.admin_key))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert project.get("", key=read_key).status_code == 401
