"""Signing in to the dashboard with a project key, and what a session may see."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import CountingEmbedder, ProjectHandle, make_project
from tests.ui.helpers import sign_in


class TestWayIn:
    def test_root_leads_to_the_dashboard_and_then_to_sign_in(self, client: TestClient) -> None:
        first = client.get("/", follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (307, "/ui/")
        second = client.get("/ui/", follow_redirects=False)
        assert second.headers["location"] == "/ui/sign-in"
        form = client.get("/ui/sign-in")
        assert form.status_code == 200 and "Project key" in form.text
        assert form.headers["content-type"].startswith("text/html")

    def test_a_page_without_sign_in_goes_to_the_form_and_back(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        response = client.get(f"/ui/p/{project.id}/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/ui/sign-in?next=/ui/p/{project.id}/"


class TestSignIn:
    def test_a_key_gives_a_strict_http_only_session(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.key("read"))
        cookie = next(c for c in client.cookies.jar if c.name == "weft_session")
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite") == "strict"
        page = client.get(f"/ui/p/{project.id}/")
        assert page.status_code == 200 and "Care system CoP" in page.text
        assert "read key" in page.text

    def test_a_wrong_key_says_so_without_telling_whether_a_project_exists(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        revoked = project.key("read")
        keys = client.get(
            project.url("/keys"), headers={"Authorization": f"Bearer {project.admin_key}"}
        )
        key_id = next(k["id"] for k in keys.json() if revoked.startswith(k["prefix"]))
        client.delete(
            project.url(f"/keys/{key_id}"), headers={"Authorization": f"Bearer {project.admin_key}"}
        )
        answers = []
        for key in ("weft_not-a-key", revoked):
            form = client.get("/ui/sign-in")
            token = form.text.split('name="csrf" value="')[1].split('"')[0]
            response = client.post("/ui/sign-in", data={"key": key, "csrf": token})
            answers.append((response.status_code, "That key was not recognised" in response.text))
        assert answers == [(200, True), (200, True)]
        assert "weft_session" not in client.cookies

    def test_the_form_needs_its_own_token(self, client: TestClient, project: ProjectHandle) -> None:
        response = client.post("/ui/sign-in", data={"key": project.admin_key, "csrf": "forged"})
        assert response.status_code == 403
        assert "weft_session" not in client.cookies

    def test_next_may_only_be_a_dashboard_path(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        form = client.get("/ui/sign-in", params={"next": "https://elsewhere.example/"})
        token = form.text.split('name="csrf" value="')[1].split('"')[0]
        response = client.post(
            "/ui/sign-in",
            data={"key": project.admin_key, "csrf": token, "next": "//elsewhere.example/"},
            follow_redirects=False,
        )
        assert response.headers["location"] == f"/ui/p/{project.id}/"


class TestSignOut:
    def test_sign_out_ends_the_session_and_needs_the_csrf_token(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        csrf = sign_in(client, project.admin_key)
        refused = client.post("/ui/sign-out", data={"csrf": "wrong"}, follow_redirects=False)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        assert client.get(f"/ui/p/{project.id}/").status_code == 200
        cookie = client.cookies["weft_session"]
        done = client.post("/ui/sign-out", data={"csrf": csrf}, follow_redirects=False)
        assert (done.status_code, done.headers["location"]) == (303, "/ui/sign-in")
        # the old cookie signs nobody in any more
        client.cookies.set("weft_session", cookie)
        after = client.get(f"/ui/p/{project.id}/", follow_redirects=False)
        assert after.status_code == 303

    def test_revoking_the_key_ends_its_sessions(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        key = project.key("read")
        sign_in(client, key)
        admin = {"Authorization": f"Bearer {project.admin_key}"}
        key_id = next(
            k["id"]
            for k in client.get(project.url("/keys"), headers=admin).json()
            if key.startswith(k["prefix"])
        )
        client.delete(project.url(f"/keys/{key_id}"), headers=admin)
        assert client.get(f"/ui/p/{project.id}/", follow_redirects=False).status_code == 303


class TestIsolation:
    def test_another_projects_session_sees_nothing(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        other = make_project(client, name="Another council")
        sign_in(client, other.admin_key)
        page = client.get(f"/ui/p/{project.id}/")
        assert page.status_code == 404
        assert "belongs to another project" in page.text
        assert "Care system CoP" not in page.text


class TestOverTls:
    def test_the_session_cookie_is_secure_over_https(
        self, settings: Settings, embedder: CountingEmbedder
    ) -> None:
        with TestClient(
            create_app(settings, embedder=embedder), base_url="https://testserver"
        ) as tls:
            project = make_project(tls)
            sign_in(tls, project.admin_key)
            cookie = next(c for c in tls.cookies.jar if c.name == "weft_session")
            assert cookie.secure
