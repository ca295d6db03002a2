"""Small data for the curation tests: five topics whose themes are known, two of them close
enough that with ``n_themes`` one less they form one theme with two sub-themes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from pipelines.embed import FloatMatrix
from tests.conftest import ProjectHandle, make_project, wait_for_job

#: topic -> the words its stories start with; beds and staff are the two halves of "care"
TOPICS = {
    "beds": "No free beds on the ward",
    "staff": "Rota gaps and nurses off sick",
    "records": "The records software crashed",
    "food": "Cold food reached the patients",
    "parking": "Visitors could not find parking",
}


class CurationEmbedder:
    """Vectors near one centre per topic; beds and staff near a shared one."""

    def __init__(self, dimension: int = 24) -> None:
        self._dimension = dimension
        rng = np.random.default_rng(11)
        care = rng.normal(size=dimension)
        self.centres = {t: rng.normal(size=dimension) for t in TOPICS}
        self.centres["beds"] = care + 0.4 * rng.normal(size=dimension)
        self.centres["staff"] = care + 0.4 * rng.normal(size=dimension)
        self.centres["misc"] = rng.normal(size=dimension)

    @property
    def name(self) -> str:
        return "test/curation"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        rows = []
        for text in texts:
            topic = next((t for t, start in TOPICS.items() if text.startswith(start)), "misc")
            centre = self.centres[topic]
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            scale = 0.5 * float(np.linalg.norm(centre)) / np.sqrt(self._dimension)
            vector = centre + np.random.default_rng(seed).normal(scale=scale, size=self._dimension)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)


@pytest.fixture
def curation_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=CurationEmbedder())) as client:
        yield client


@pytest.fixture
def curated(curation_client: TestClient) -> ProjectHandle:
    return make_project(curation_client)


def add(project: ProjectHandle, topic: str, start: int, count: int) -> int:
    """Post `count` stories of a topic as one batch; returns its source id."""
    items = [
        {
            "text": f"{TOPICS[topic]} (story {i})",
            "external_id": f"{topic}-{i}",
            "occurred_at": f"2026-0{1 + i % 3}-15T10:00:00Z",
        }
        for i in range(start, start + count)
    ]
    response = project.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    return int(response.json()["source_id"])


def analyse(project: ProjectHandle, n_themes: int) -> int:
    response = project.post("/analyses", {"n_themes": n_themes})
    assert response.status_code == 202, response.text
    job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 180)
    assert job["status"] == "succeeded", job
    return int(response.json()["analysis"]["id"])


def keys_by_topic(project: ProjectHandle) -> dict[str, str]:
    """Each topic's top-level theme key in the machine view (care: the beds+staff theme)."""
    themes = project.get("/themes", view="machine", limit=500).json()["themes"]
    found: dict[str, str] = {}
    for theme in themes:
        members = project.get(f"/themes/{theme['key']}", view="machine", limit=1000).json()
        topics = {
            next((t for t, s in TOPICS.items() if m["snippet"].startswith(s)), "misc")
            for m in members["members"]
        }
        name = "care" if topics >= {"beds", "staff"} else max(topics)
        found[name] = theme["key"]
    return found


def themes(project: ProjectHandle, key: str | None = None, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = project.get("/themes", key=key, limit=500, **params).json()
    return body
