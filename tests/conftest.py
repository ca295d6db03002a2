"""Fixtures: a migrated throwaway database, a counting fake embedder, and a running app."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, delete

from app.config import Settings
from app.main import create_app
from models import Base
from pipelines.embed import FloatMatrix, HashEmbedder

ROOT = Path(__file__).resolve().parents[1]

# ONNX exports of the embedding model are made once and kept between runs, beside pytest's cache
os.environ.setdefault("WEFT_EMBEDDING_CACHE_DIR", str(ROOT / ".pytest_cache" / "weft-models"))
# job workers the tests start do not spend half a minute compiling the analysis code
os.environ.setdefault("WEFT_ANALYSIS_WARM_UP", "false")


def free_port() -> int:
    """A free TCP port on loopback, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """WEFT_TEST_DATABASE_URL (PostgreSQL in CI) or a fresh SQLite file, migrated to head."""
    url = os.environ.get("WEFT_TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'weft-test.db'}"
    )
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts from empty tables (jobs commit from their own threads, so a
    rolled-back outer transaction would not isolate them)."""
    uses_database = "database_url" in request.fixturenames
    eng: Engine | None = request.getfixturevalue("engine") if uses_database else None
    yield
    if eng is None:
        return
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


class CountingEmbedder(HashEmbedder):
    """Deterministic fake embeddings; counts every text it is asked to embed."""

    def __init__(self, dimension: int = 16) -> None:
        super().__init__(dimension, name="test/counting")
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    @property
    def texts_embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        with self.lock:
            self.calls.append(list(texts))
        return super().encode(texts)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Each test's own data directory: its uploads, spools and pseudonym secret."""
    return tmp_path / "var"


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Settings:
    # analyses are queued by hand in tests, except where a test turns this on
    return Settings(
        database_url=database_url,
        data_dir=str(data_dir),
        job_poll_seconds=0.2,
        auto_analyze=False,
    )


@pytest.fixture
def client(settings: Settings, embedder: CountingEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=embedder)) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class ProjectHandle:
    def __init__(self, client: TestClient, body: dict[str, Any]) -> None:
        self.client = client
        self.id: str = body["id"]
        self.admin_key: str = body["admin_key"]["key"]

    def key(self, scope: str) -> str:
        response = self.client.post(
            f"/v1/projects/{self.id}/keys", json={"scope": scope}, headers=auth(self.admin_key)
        )
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    def url(self, path: str = "") -> str:
        return f"/v1/projects/{self.id}{path}"

    def post(self, path: str, json: Any, key: str | None = None) -> Any:
        return self.client.post(self.url(path), json=json, headers=auth(key or self.admin_key))

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        return self.client.get(self.url(path), params=params, headers=auth(key or self.admin_key))


def make_project(client: TestClient, name: str = "Care system CoP", **fields: Any) -> ProjectHandle:
    response = client.post("/v1/projects", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return ProjectHandle(client, response.json())


@pytest.fixture
def project(client: TestClient) -> ProjectHandle:
    return make_project(client)


def wait_for_job(
    client: TestClient, key: str, job_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll a job until it ends; fail the test if it does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s")
        time.sleep(0.05)
