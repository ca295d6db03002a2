"""Hierarchy, soft membership, stable keys with lineage, and incremental placement, through
the API."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services import analyses as analysis_service
from app.services.theme_keys import PreviousAnalysis
from pipelines.embed import FloatMatrix, SentenceTransformerEmbedder
from tests.app.test_themes import TOPICS, TopicEmbedder, analyse, corpus, topic_of
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job


def _shared_titles(n: int = 400) -> list[str] | None:
    """A fixed sample of real StackOverflow titles from ../shared/data, when present."""
    base = os.environ.get("WEFT_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    path = root / "stackoverflow" / "data.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        titles = [row["text"] for row in csv.DictReader(handle)]
    picked = np.random.default_rng(0).choice(len(titles), n, replace=False)
    return [titles[i] for i in sorted(picked)]


TITLES = _shared_titles()
needs_titles = pytest.mark.skipif(
    TITLES is None,
    reason="shared StackOverflow titles not found (set WEFT_SHARED_DATA or check out ../shared)",
)


class LookupEmbedder:
    """Vectors of the packaged model, computed once for the whole module."""

    def __init__(self, vectors: dict[str, np.ndarray], dimension: int) -> None:
        self._vectors = vectors
        self._dimension = dimension

    @property
    def name(self) -> str:
        return "test/minilm-lookup"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        unit = np.ones(self._dimension) / np.sqrt(self._dimension)
        rows = [self._vectors.get(t, unit) for t in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)


@pytest.fixture(scope="module")
def title_vectors() -> tuple[dict[str, np.ndarray], int]:
    assert TITLES is not None
    model = SentenceTransformerEmbedder(batch_size=64)
    vectors = model.encode(TITLES)
    return dict(zip(TITLES, vectors, strict=True)), int(vectors.shape[1])


@pytest.fixture
def nested(
    settings: Settings, title_vectors: tuple[dict[str, np.ndarray], int]
) -> Iterator[ProjectHandle]:
    """400 real titles, analysed: real text has themes made of several sub-themes."""
    assert TITLES is not None
    embedder = LookupEmbedder(*title_vectors)
    with TestClient(create_app(settings, embedder=embedder)) as client:
        project = make_project(client)
        items = [
            {"text": t, "external_id": f"so-{i}", "attributes": {"half": "ab"[i % 2]}}
            for i, t in enumerate(TITLES)
        ]
        stored = project.post("/narratives", {"narratives": items})
        assert stored.status_code == 201, stored.text
        wait_for_job(client, project.admin_key, stored.json()["job"]["id"])
        analyse(project)
        yield project


@needs_titles
class TestHierarchy:
    def test_top_level_themes_have_children_covering_them(self, nested: ProjectHandle) -> None:
        body = nested.get("/themes", limit=500).json()
        assert body["level"] == "top" and body["total"] >= 3
        divided = [t for t in body["themes"] if t["children"]]
        assert divided, "real titles should give some themes with sub-themes"
        for theme in body["themes"]:
            assert theme["level"] == 0 and theme["parent"] is None
            assert len(theme["children"]) != 1
        for theme in divided:
            assert sum(c["size"] for c in theme["children"]) == theme["size"]

    def test_leaf_level_lists_subthemes_and_childless_themes(self, nested: ProjectHandle) -> None:
        top = nested.get("/themes", limit=500).json()
        leaf = nested.get("/themes", level="leaf", limit=500).json()
        assert leaf["level"] == "leaf"
        child_keys = {c["key"] for t in top["themes"] for c in t["children"]}
        childless = {t["key"] for t in top["themes"] if not t["children"]}
        assert {t["key"] for t in leaf["themes"]} == child_keys | childless
        assert sum(t["size"] for t in leaf["themes"]) == sum(t["size"] for t in top["themes"])
        parent_of = {c["key"]: t["key"] for t in top["themes"] for c in t["children"]}
        for theme in leaf["themes"]:
            assert theme["children"] == []
            if theme["key"] in child_keys:
                assert theme["level"] == 1 and theme["parent"] == parent_of[theme["key"]]
            else:
                assert theme["level"] == 0 and theme["parent"] is None

    def test_hiding_a_theme_hides_its_subthemes_at_leaf_level(self, nested: ProjectHandle) -> None:
        parent = next(t for t in nested.get("/themes").json()["themes"] if t["children"])
        answer = nested.client.patch(
            nested.url(f"/themes/{parent['key']}"),
            json={"hidden": True},
            headers=auth(nested.admin_key),
        )
        assert answer.status_code == 200, answer.text
        leaf = nested.get("/themes", level="leaf", limit=500).json()
        children = {c["key"] for c in parent["children"]}
        assert children and not children & {t["key"] for t in leaf["themes"]}
        assert leaf["hidden"] == len(children)

    def test_subtheme_detail_and_members(self, nested: ProjectHandle) -> None:
        parent = next(t for t in nested.get("/themes").json()["themes"] if t["children"])
        child = parent["children"][0]
        detail = nested.get(f"/themes/{child['key']}", limit=1000).json()
        assert detail["level"] == 1 and detail["parent"] == parent["key"]
        assert detail["members_total"] == child["size"] == len(detail["members"])
        parent_members = nested.get(f"/themes/{parent['key']}", limit=1000).json()["members"]
        assert {m["id"] for m in detail["members"]} < {m["id"] for m in parent_members}
        parent_detail = nested.get(f"/themes/{parent['key']}").json()
        assert [c["key"] for c in parent_detail["children"]] == [
            c["key"] for c in parent["children"]
        ]

    def test_leaf_level_within_a_filter(self, nested: ProjectHandle) -> None:
        listed = nested.get("/themes", level="leaf", limit=500).json()["themes"]
        whole = {t["key"]: t["size"] for t in listed}
        half = nested.get("/themes", level="leaf", attribute="half:a", limit=500).json()
        assert half["total_narratives"] == 200
        sizes = {t["key"]: t["size"] for t in half["themes"]}
        assert sum(sizes.values()) + half["unclustered"] == 200
        assert all(0 < sizes[k] <= whole[k] for k in sizes)
        assert sum(sizes.values()) < sum(whole.values())
        for theme in half["themes"]:
            assert theme["share"] == pytest.approx(theme["size"] / 200)

    def test_trends_count_subthemes_at_leaf_level(self, nested: ProjectHandle) -> None:
        listed = nested.get("/themes", level="leaf", limit=500).json()["themes"]
        body = nested.get("/trends", by="attribute:half", level="leaf").json()
        counts = {t["key"]: t["count"] for t in body["themes"]}
        assert counts == {t["key"]: t["size"] for t in listed}
        assert any(t["level"] == 1 for t in body["themes"])

    def test_unknown_level_is_422(self, nested: ProjectHandle) -> None:
        response = nested.get("/themes", level="middle")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_assignments_name_the_subtheme(self, nested: ProjectHandle) -> None:
        rows = nested.get("/assignments").json()["assignments"]
        listed = nested.get("/themes", level="leaf", limit=500).json()["themes"]
        parent_of = {t["key"]: t["parent"] for t in listed if t["level"] == 1}
        named = [r for r in rows if r["subtheme_key"] is not None]
        assert named
        for row in named:
            assert parent_of[row["subtheme_key"]] == row["theme_key"]


@needs_titles
class TestSoftMembership:
    def test_top_three_with_probabilities(self, nested: ProjectHandle) -> None:
        rows = nested.get("/assignments").json()["assignments"]
        for row in rows:
            soft = row["memberships"]
            if row["theme_key"] is None:
                assert soft == []
                continue
            assert 1 <= len(soft) <= 3
            assert soft[0]["theme_key"] == row["theme_key"]
            assert len({m["theme_key"] for m in soft}) == len(soft)
            assert sum(m["probability"] for m in soft) <= 1.0 + 1e-6
            assert all(soft[0]["probability"] >= m["probability"] > 0 for m in soft)

    def test_any_membership_counts_a_narrative_in_each_of_its_themes(
        self, nested: ProjectHandle
    ) -> None:
        rows = nested.get("/assignments").json()["assignments"]
        expected: dict[str, int] = {}
        for row in rows:
            for m in row["memberships"]:
                expected[m["theme_key"]] = expected.get(m["theme_key"], 0) + 1
        primary = {t["key"]: t["size"] for t in nested.get("/themes", limit=500).json()["themes"]}
        body = nested.get("/themes", membership="any", limit=500).json()
        assert body["membership"] == "any"
        soft = {t["key"]: t["size"] for t in body["themes"]}
        assert soft == expected
        assert all(soft[k] >= primary[k] for k in primary)
        secondaries = sum(len(r["memberships"]) > 1 for r in rows)
        assert sum(soft.values()) - sum(primary.values()) == sum(
            len(r["memberships"]) - 1 for r in rows if r["memberships"]
        )
        assert secondaries > 0, "some real titles touch more than one theme"

    def test_csv_export_flattens_the_second_and_third_themes(self, nested: ProjectHandle) -> None:
        as_json = {r["narrative_id"]: r for r in nested.get("/assignments").json()["assignments"]}
        response = nested.client.get(
            nested.url("/assignments"), params={"format": "csv"}, headers=auth(nested.admin_key)
        )
        for row in csv.DictReader(io.StringIO(response.text)):
            soft = as_json[int(row["narrative_id"])]["memberships"]
            second = soft[1]["theme_key"] if len(soft) > 1 else ""
            assert row["theme_2_key"] == second
            assert row["incremental"] == "false"

    def test_leaf_with_any_membership_is_refused(self, nested: ProjectHandle) -> None:
        response = nested.get("/themes", level="leaf", membership="any")
        assert response.status_code == 422
        assert "level=top" in response.json()["detail"]


@pytest.fixture
def topic_client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"data_dir": str(tmp_path / "var")})
    with TestClient(create_app(configured, embedder=TopicEmbedder())) as client:
        yield client


def seed_topics(client: TestClient, per_topic: int = 20) -> ProjectHandle:
    project = make_project(client)
    stored = project.post("/narratives", {"narratives": corpus(per_topic)})
    wait_for_job(client, project.admin_key, stored.json()["job"]["id"])
    return project


def keys_by_topic(project: ProjectHandle) -> dict[str, str]:
    themes = project.get("/themes").json()["themes"]
    return {topic_of(t["exemplars"][0]["snippet"]): t["key"] for t in themes}


class TestStableIdentity:
    def test_keys_kept_and_history_continues(self, topic_client: TestClient) -> None:
        project = seed_topics(topic_client)
        first = analyse(project)
        before = keys_by_topic(project)
        more = [
            {"text": f"{examples[0]} (later {i})", "external_id": f"later-{t}-{i}"}
            for t, examples in TOPICS.items()
            for i in range(4)
        ]
        stored = project.post("/narratives", {"narratives": more})
        wait_for_job(topic_client, project.admin_key, stored.json()["job"]["id"])
        second = analyse(project)
        assert keys_by_topic(project) == before
        history = project.get(f"/themes/{before['beds']}/history").json()
        assert [a["analysis_id"] for a in history["appearances"]] == [first["id"], second["id"]]
        # the four added before the second analysis joined the first one incrementally
        assert [a["size"] for a in history["appearances"]] == [24, 24]
        [event] = history["events"]
        assert event["kind"] == "continued"
        assert event["previous_analysis_id"] == first["id"]
        assert event["previous_keys"] == event["current_keys"] == [before["beds"]]
        assert event["flows"][0]["shared"] >= 20
        assert event["similarity"] > 0.9

    def test_split_is_recorded(self, topic_client: TestClient) -> None:
        project = seed_topics(topic_client)
        analyse(project, n_themes=2)
        merged = project.get("/themes").json()["themes"]
        two_topic = next(
            t
            for t in merged
            if len({topic_of(e["snippet"]) for e in t["exemplars"]}) == 2 or t["size"] == 40
        )
        second = analyse(project)
        history = project.get(f"/themes/{two_topic['key']}/history").json()
        split = [e for e in history["events"] if e["kind"] == "split"]
        assert len(split) == 1 and split[0]["analysis_id"] == second["id"]
        assert split[0]["previous_keys"] == [two_topic["key"]]
        assert len(split[0]["current_keys"]) == 2
        assert sum(f["shared"] for f in split[0]["flows"]) == 40

    def test_unknown_key_is_404(self, topic_client: TestClient) -> None:
        project = seed_topics(topic_client, per_topic=5)
        analyse(project)
        response = project.get("/themes/tnothere/history")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


NEW_TOPIC = [f"Volunteer drivers ferried patients home from clinic {i}" for i in range(20)]


class TestIncremental:
    def post_more(self, project: ProjectHandle, texts: list[str]) -> dict[str, Any]:
        stored = project.post(
            "/narratives",
            {"narratives": [{"text": t, "external_id": f"new-{i}"} for i, t in enumerate(texts)]},
        )
        assert stored.status_code == 201, stored.text
        job = wait_for_job(project.client, project.admin_key, stored.json()["job"]["id"])
        assert job["status"] == "succeeded", job
        result: dict[str, Any] = job["result"]
        return result

    def test_new_narratives_join_existing_themes_without_reclustering(
        self, topic_client: TestClient
    ) -> None:
        project = seed_topics(topic_client)
        analysis = analyse(project)
        keys = keys_by_topic(project)
        known = [f"{examples[1]} (session {i})" for examples in TOPICS.values() for i in range(3)]
        result = self.post_more(project, known)
        assert result["incremental"]["analysis_id"] == analysis["id"]
        assert result["incremental"]["placed"] == 9
        assert result["incremental"]["emerging"] == []
        assert len(project.get("/analyses").json()) == 1, "no new analysis was run"
        rows = project.get("/assignments").json()["assignments"]
        added = [r for r in rows if r["incremental"]]
        assert len(added) == 9
        texts = {n["id"]: n["text"] for n in project.get("/narratives", limit=500).json()["items"]}
        for row in added:
            assert row["theme_key"] == keys[topic_of(texts[row["narrative_id"]])]
        body = project.get("/themes").json()
        assert body["total_narratives"] == 69
        assert body["analysis"]["incremental_count"] == 9
        assert sum(t["size"] for t in body["themes"]) + body["unclustered"] == 69
        tensions = project.get("/tensions").json()
        assert tensions["placed_since"] == 9
        assert any("9 narratives placed" in note for note in tensions["notes"])

    def test_a_planted_new_group_becomes_an_emerging_theme(self, topic_client: TestClient) -> None:
        project = seed_topics(topic_client)
        analyse(project)
        known = [f"{examples[2]} (session {i})" for examples in TOPICS.values() for i in range(3)]
        result = self.post_more(project, NEW_TOPIC + known)
        [key] = result["incremental"]["emerging"]
        theme = project.get(f"/themes/{key}", limit=100).json()
        assert theme["emerging"] is True
        members = {m["snippet"] for m in theme["members"]}
        assert members == set(NEW_TOPIC)
        listed = {t["key"]: t for t in project.get("/themes").json()["themes"]}
        assert listed[key]["emerging"] and listed[key]["size"] == 20
        # 29 added to 60: over a quarter, so a full analysis is due and says why.
        reanalysis = project.get("/themes").json()["analysis"]["reanalysis"]
        assert reanalysis["due"] is True and "29 narratives added" in reanalysis["reason"]

    def test_full_reanalysis_keeps_the_emerging_key(self, topic_client: TestClient) -> None:
        project = seed_topics(topic_client)
        analyse(project)
        before = keys_by_topic(project)
        [key] = self.post_more(project, NEW_TOPIC)["incremental"]["emerging"]
        analyse(project)
        after = {t["key"] for t in project.get("/themes").json()["themes"]}
        assert key in after and set(before.values()) <= after
        detail = project.get(f"/themes/{key}").json()
        assert detail["emerging"] is False and detail["size"] == 20

    def test_auto_analysis_only_when_due(self, settings: Settings, tmp_path: Path) -> None:
        auto = settings.model_copy(update={"auto_analyze": True})
        with TestClient(create_app(auto, embedder=TopicEmbedder())) as client:
            project = make_project(client)
            stored = project.post("/narratives", {"narratives": corpus()}).json()
            first = wait_for_job(client, project.admin_key, stored["job"]["id"])["result"]
            analyses = project.get("/analyses").json()
            job_id = next(a["job_id"] for a in analyses if a["id"] == first["analysis_id"])
            wait_for_job(client, project.admin_key, job_id, 120)
            small = self.post_more(project, [f"{TOPICS['beds'][0]} (again {i})" for i in range(3)])
            assert small["incremental"]["reanalysis_due"] is False
            assert "analysis_id" not in small
            big = self.post_more(project, NEW_TOPIC)
            assert big["incremental"]["reanalysis_due"] is True
            assert big["analysis_id"] != first["analysis_id"]
            # the re-analysis it queued runs to the end before the app shuts down
            analyses = project.get("/analyses").json()
            again = next(a["job_id"] for a in analyses if a["id"] == big["analysis_id"])
            assert wait_for_job(client, project.admin_key, again, 120)["status"] == "succeeded"


class TestHeldLevel:
    def previous(self, chosen_at: int, resolution: float | None = 0.6) -> Any:
        return PreviousAnalysis(1, {}, {}, chosen_at, resolution, chosen_at)

    def test_kept_while_the_project_grows_by_at_most_half(self) -> None:
        params = analysis_service.AnalysisParams()
        assert analysis_service.held_resolution(self.previous(2000), 2900, params) == 0.6
        assert analysis_service.held_resolution(self.previous(2000), 3100, params) is None

    def test_chosen_afresh_when_asked_or_not_chosen_before(self) -> None:
        fresh = analysis_service.AnalysisParams(keep_level=False)
        told = analysis_service.AnalysisParams(n_themes=5)
        default = analysis_service.AnalysisParams()
        assert analysis_service.held_resolution(self.previous(2000), 2100, fresh) is None
        assert analysis_service.held_resolution(self.previous(2000), 2100, told) is None
        # small analyses merge at the standard resolution without choosing one
        assert analysis_service.held_resolution(self.previous(800), 900, default) is None
        assert analysis_service.held_resolution(self.previous(2000, None), 2100, default) is None
        assert analysis_service.held_resolution(None, 2100, default) is None
