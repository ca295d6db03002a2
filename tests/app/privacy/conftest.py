"""Each privacy test gets its own data directory, so files left behind can be counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import CountingEmbedder, ProjectHandle

#: The parsers' sample files.
FIXTURES = Path(__file__).resolve().parents[2] / "pipelines" / "ingest" / "fixtures"


def left_files(data_dir: Path) -> list[str]:
    """Every file under the data directory but the pseudonym secret."""
    if not data_dir.exists():
        return []
    return sorted(
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if p.is_file() and p.relative_to(data_dir).parts[0] != "secrets"
    )


def authors(project: ProjectHandle) -> list[str]:
    items = project.get("/narratives", limit=100).json()["items"]
    return [n["author"] for n in items]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def private_settings(settings: Settings, data_dir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": str(data_dir)})


@pytest.fixture
def client(private_settings: Settings, embedder: CountingEmbedder) -> Iterator[TestClient]:
    with TestClient(create_app(private_settings, embedder=embedder)) as test_client:
        yield test_client
