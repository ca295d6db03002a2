from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import CountingEmbedder

LIMIT = 2048


@pytest.fixture
def small_client(settings: Settings, embedder: CountingEmbedder) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"max_request_bytes": LIMIT})
    with TestClient(create_app(limited, embedder=embedder)) as client:
        yield client


class TestBodyLimit:
    def test_declared_length_over_limit_is_413(self, small_client: TestClient) -> None:
        body = b'{"name": "' + b"x" * (LIMIT * 2) + b'"}'
        response = small_client.post(
            "/v1/projects", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert str(LIMIT) in response.json()["detail"]

    def test_streamed_body_over_limit_is_413(self, small_client: TestClient) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"name": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}'

        response = small_client.post(
            "/v1/projects", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["title"] == "Payload too large"

    def test_body_under_limit_passes(self, small_client: TestClient) -> None:
        response = small_client.post("/v1/projects", json={"name": "small"})
        assert response.status_code == 201
