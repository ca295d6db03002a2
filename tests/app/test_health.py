from __future__ import annotations

from fastapi.testclient import TestClient


class TestHealth:
    def test_healthz(self, client: TestClient) -> None:
        assert client.get("/healthz").json() == {"status": "ok"}

    def test_readyz_reports_database_and_model(self, client: TestClient) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "database": "ok",
            "model": "test/counting",
            # an app built in-process runs jobs on its own threads
            "jobs": {"runner": "thread", "lanes": 2},
        }

    def test_unknown_route_is_problem_json(self, client: TestClient) -> None:
        response = client.get("/v1/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404
