from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from app.config import Settings
from app.main import create_app
from models import MeetingSession
from pipelines.embed import FloatMatrix
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

TOPICS = {
    "beds": [
        "No free beds on the ward again tonight",
        "Bed capacity ran out and patients waited in corridors",
        "We spent the shift hunting for an empty bed",
    ],
    "staffing": [
        "Two nurses off sick and no agency staff to cover",
        "Rota gaps meant one nurse for twelve patients",
        "Staff shortages left the night shift exhausted",
    ],
    "records": [
        "The new records software crashed during handover",
        "Discharge letters stuck in the IT system for days",
        "Password resets locked us out of patient records",
    ],
}


class TopicEmbedder:
    """Vectors near one centre per topic word, so the true themes are known."""

    def __init__(self, dimension: int = 24) -> None:
        self._dimension = dimension
        rng = np.random.default_rng(7)
        self.centres = {t: rng.normal(size=dimension) for t in [*TOPICS, "misc"]}

    @property
    def name(self) -> str:
        return "test/topics"

    @property
    def dimension(self) -> int:
        return self._dimension

    def topic(self, text: str) -> str:
        for topic, examples in TOPICS.items():
            if any(text.startswith(e) for e in examples):
                return topic
        return "misc"

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            noise = np.random.default_rng(seed).normal(scale=0.25, size=self._dimension)
            vector = self.centres[self.topic(text)] + noise
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)


NO_ANALYSIS_NOTE = (
    "no analysis yet: POST /v1/projects/{project_id}/analyses to run one (with "
    "auto-analysis on, one starts when the first upload has been embedded)"
)
CSV_HEADER = (
    "narrative_id,external_id,theme_key,subtheme_key,probability,incremental,"
    "theme_2_key,theme_2_probability,theme_3_key,theme_3_probability,"
    "curated_key,curated_label,hidden"
)


def corpus(per_topic: int = 20) -> list[dict[str, Any]]:
    items = []
    for t_index, (topic, examples) in enumerate(TOPICS.items()):
        for i in range(per_topic):
            items.append(
                {
                    "text": f"{examples[i % 3]} (note {i})",
                    "external_id": f"{topic}-{i}",
                    "occurred_at": f"2026-0{1 + i % 3}-1{t_index}T10:00:00Z",
                    "attributes": {"role": "nurse" if i % 2 else "manager"},
                }
            )
    return items


@pytest.fixture
def topic_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


@pytest.fixture
def seeded(topic_client: TestClient) -> ProjectHandle:
    project = make_project(topic_client)
    response = project.post("/narratives", {"narratives": corpus()})
    assert response.status_code == 201, response.text
    wait_for_job(topic_client, project.admin_key, response.json()["job"]["id"])
    return project


def analyse(project: ProjectHandle, **body: Any) -> dict[str, Any]:
    response = project.post("/analyses", body)
    assert response.status_code == 202, response.text
    job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 120)
    assert job["status"] == "succeeded", job
    analysis: dict[str, Any] = project.get(f"/analyses/{response.json()['analysis']['id']}").json()
    return analysis


def topic_of(text: str) -> str:
    return TopicEmbedder().topic(text)


class TestAnalysisJob:
    def test_records_how_it_was_made(self, seeded: ProjectHandle) -> None:
        analysis = analyse(seeded, seed=3)
        assert analysis["status"] == "succeeded"
        assert analysis["seed"] == 3
        assert analysis["model_name"] == "test/topics"
        assert analysis["narrative_count"] == 60
        assert analysis["theme_count"] == 3
        assert analysis["parameters"]["requested"] == {
            "n_themes": None,
            "seed": 3,
            "include_low_content": False,
            "keep_level": True,
        }
        assert analysis["parameters"]["used"]["min_theme_size_used"] >= 3
        # the themes' candidate names were ranked with the analysis's own model
        assert analysis["parameters"]["used"]["names_embedded"] is True
        assert {"numpy", "scikit-learn", "hdbscan"} <= set(analysis["versions"])
        assert analysis["timings"]["total_seconds"] > 0
        assert 0 <= analysis["unclustered_share"] <= 0.1

    def test_n_themes_is_respected(self, seeded: ProjectHandle) -> None:
        assert analyse(seeded, n_themes=2)["theme_count"] == 2

    def test_bad_request_is_422(self, seeded: ProjectHandle) -> None:
        response = seeded.post("/analyses", {"n_themes": 0})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "n_themes"

    def test_read_key_cannot_start_one(self, seeded: ProjectHandle) -> None:
        assert seeded.post("/analyses", {}, key=seeded.key("read")).status_code == 403

    def test_tiny_project_ends_with_a_clear_result(self, topic_client: TestClient) -> None:
        project = make_project(topic_client)
        project.post("/narratives", {"narratives": corpus(per_topic=2)[:5]})
        analysis = analyse(project)
        assert analysis["status"] == "succeeded"
        assert analysis["narrative_count"] == 5
        assert analysis["notes"] and "5 narratives" in " ".join(analysis["notes"])
        themes = project.get("/themes").json()
        assert themes["total_narratives"] == 5
        assert sum(t["size"] for t in themes["themes"]) + themes["unclustered"] == 5

    def test_empty_project(self, topic_client: TestClient) -> None:
        project = make_project(topic_client)
        analysis = analyse(project)
        assert analysis["theme_count"] == 0
        assert analysis["notes"] == ["no narratives to analyse yet"]

    def test_same_data_and_seed_give_identical_results(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        first = seeded.get("/assignments").json()["assignments"]
        keys_first = [t["key"] for t in seeded.get("/themes").json()["themes"]]
        analyse(seeded)
        second = seeded.get("/assignments").json()["assignments"]
        assert second == first
        assert [t["key"] for t in seeded.get("/themes").json()["themes"]] == keys_first

    def test_auto_analysis_after_ingest(self, settings: Settings) -> None:
        auto = settings.model_copy(update={"auto_analyze": True})
        with TestClient(create_app(auto, embedder=TopicEmbedder())) as client:
            project = make_project(client)
            stored = project.post("/narratives", {"narratives": corpus()}).json()
            embed = wait_for_job(client, project.admin_key, stored["job"]["id"])
            analysis_id = embed["result"]["analysis_id"]
            analyses = project.get("/analyses").json()
            job_id = next(a["job_id"] for a in analyses if a["id"] == analysis_id)
            assert wait_for_job(client, project.admin_key, job_id, 120)["status"] == "succeeded"
            assert project.get("/themes").json()["analysis"]["id"] == analysis_id


class TestListThemes:
    def test_before_any_analysis(self, seeded: ProjectHandle) -> None:
        body = seeded.get("/themes").json()
        assert body["analysis"] is None and body["themes"] == []

    def test_notes_say_why_there_is_no_analysis(self, seeded: ProjectHandle) -> None:
        body = seeded.get("/themes").json()
        assert body["notes"] == [NO_ANALYSIS_NOTE.format(project_id=seeded.id)]
        assert body["total"] == 0 and body["total_narratives"] == 0

    def test_notes_are_the_analysis_notes(self, seeded: ProjectHandle) -> None:
        analysis = analyse(seeded)
        assert seeded.get("/themes").json()["notes"] == analysis["notes"]

    def test_themes_match_the_planted_topics(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        body = seeded.get("/themes", key=seeded.key("read")).json()
        assert body["total"] == 3 and body["total_narratives"] == 60
        for theme in body["themes"]:
            assert theme["size"] >= 18
            assert theme["share"] == pytest.approx(theme["size"] / 60)
            assert theme["label"] and theme["keywords"]
            assert 1 <= len(theme["exemplars"]) <= 5
            topics = {topic_of(e["snippet"]) for e in theme["exemplars"]}
            assert len(topics) == 1, theme
        assert {topic_of(t["exemplars"][0]["snippet"]) for t in body["themes"]} == set(TOPICS)

    def test_attribute_filter_recounts(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        body = seeded.get("/themes", attribute="role:nurse").json()
        assert body["total_narratives"] == 30
        assert sum(t["size"] for t in body["themes"]) + body["unclustered"] == 30
        for theme in body["themes"]:
            assert theme["share"] == pytest.approx(theme["size"] / 30)

    def test_time_window_filter(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        body = seeded.get(
            "/themes", since="2026-02-01T00:00:00Z", until="2026-03-01T00:00:00Z"
        ).json()
        assert body["total_narratives"] == 21  # every third note of each topic is in February

    def test_session_filter(self, seeded: ProjectHandle, engine: Engine) -> None:
        with engine.begin() as conn:
            session_id = conn.execute(
                insert(MeetingSession)
                .values(project_id=seeded.id, name="March CoP", attributes={})
                .returning(MeetingSession.id)
            ).scalar_one()
        extra = [
            {"text": TOPICS["beds"][0] + f" (meeting {i})", "session_id": session_id}
            for i in range(4)
        ]
        assert seeded.post("/narratives", {"narratives": extra}).status_code == 201
        analyse(seeded)
        body = seeded.get("/themes", session_id=session_id).json()
        assert body["total_narratives"] == 4
        assert len(body["themes"]) == 1
        assert topic_of(body["themes"][0]["exemplars"][0]["snippet"]) == "beds"

    def test_pagination(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        everything = seeded.get("/themes").json()["themes"]
        page = seeded.get("/themes", limit=1, offset=1).json()
        assert page["total"] == 3
        assert [t["key"] for t in page["themes"]] == [everything[1]["key"]]


class TestThemeDetail:
    def test_keywords_exemplars_and_members(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        theme = seeded.get("/themes").json()["themes"][0]
        detail = seeded.get(f"/themes/{theme['key']}", limit=5).json()
        assert detail["key"] == theme["key"]
        weights = [k["weight"] for k in detail["keywords"]]
        assert weights == sorted(weights, reverse=True) and weights[0] > 0
        assert len(detail["members"]) == 5 and detail["members_total"] == theme["size"]
        probabilities = [m["probability"] for m in detail["members"]]
        assert probabilities == sorted(probabilities, reverse=True)
        rest = seeded.get(f"/themes/{theme['key']}", limit=100, offset=5).json()["members"]
        assert len(rest) == theme["size"] - 5
        topic = topic_of(detail["exemplars"][0]["snippet"])
        assert all(topic_of(m["snippet"]) == topic for m in detail["members"] + rest)

    def test_unknown_key_is_404(self, seeded: ProjectHandle) -> None:
        assert seeded.get("/themes/tnothing").status_code == 404
        analyse(seeded)
        response = seeded.get("/themes/tnothing")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestSimilar:
    def test_nearest_are_from_the_same_topic(self, seeded: ProjectHandle) -> None:
        narratives = seeded.get("/narratives", limit=100).json()["items"]
        target = next(n for n in narratives if n["external_id"] == "records-4")
        body = seeded.get(f"/narratives/{target['id']}/similar", limit=8).json()
        assert len(body["items"]) == 8
        assert target["id"] not in [i["id"] for i in body["items"]]
        assert all(topic_of(i["snippet"]) == "records" for i in body["items"])
        similarities = [i["similarity"] for i in body["items"]]
        assert similarities == sorted(similarities, reverse=True)

    def test_other_projects_narrative_is_404(
        self, seeded: ProjectHandle, topic_client: TestClient
    ) -> None:
        narrative_id = seeded.get("/narratives").json()["items"][0]["id"]
        other = make_project(topic_client, "Other")
        assert other.get(f"/narratives/{narrative_id}/similar").status_code == 404


class TestAssignments:
    def test_json_and_csv_agree(self, seeded: ProjectHandle) -> None:
        analyse(seeded)
        as_json = seeded.get("/assignments").json()
        rows = as_json["assignments"]
        assert len(rows) == 60
        assert {r["external_id"] for r in rows} == {n["external_id"] for n in corpus()}
        response = seeded.client.get(
            seeded.url("/assignments"), params={"format": "csv"}, headers=auth(seeded.admin_key)
        )
        assert response.headers["content-type"].startswith("text/csv")
        parsed = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["narrative_id"] for r in parsed] == [str(r["narrative_id"]) for r in rows]
        assert [r["theme_key"] or None for r in parsed] == [r["theme_key"] for r in rows]

    def test_before_any_analysis_is_empty_with_notes(self, seeded: ProjectHandle) -> None:
        response = seeded.get("/assignments")
        assert response.status_code == 200
        assert response.json() == {
            "analysis_id": None,
            "analysis": None,
            "notes": [NO_ANALYSIS_NOTE.format(project_id=seeded.id)],
            "assignments": [],
        }
        as_csv = seeded.client.get(
            seeded.url("/assignments"), params={"format": "csv"}, headers=auth(seeded.admin_key)
        )
        assert as_csv.status_code == 200
        assert as_csv.text.splitlines() == [CSV_HEADER]


class TestReadsDuringAnalysis:
    def test_themes_answer_while_an_analysis_runs(
        self, seeded: ProjectHandle, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import threading

        import app.services.analyses as analyses_module

        analyse(seeded)
        before = seeded.get("/themes").json()
        entered, release = threading.Event(), threading.Event()
        real = analyses_module.find_themes

        def slow_find_themes(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            release.wait(20)
            return real(*args, **kwargs)

        monkeypatch.setattr(analyses_module, "find_themes", slow_find_themes)
        job_id = seeded.post("/analyses", {}).json()["job"]["id"]
        try:
            assert entered.wait(20)
            # the analysis is held inside clustering: a read that waited for it would hang
            during = seeded.get("/themes").json()
            assert during["analysis"]["id"] == before["analysis"]["id"]
            assert during["themes"] == before["themes"]
        finally:
            release.set()
        assert wait_for_job(seeded.client, seeded.admin_key, job_id, 60)["status"] == "succeeded"
        assert seeded.get("/themes").json()["analysis"]["id"] != before["analysis"]["id"]
