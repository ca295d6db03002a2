"""The theme map page and its data endpoints, server side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from app.config import Settings
from app.main import create_app
from app.services.theme_map import MIN_POINTS, SCALE, TABLE_ROWS
from models import MeetingSession
from tests.app.test_themes import TOPICS, TopicEmbedder, analyse, corpus
from tests.conftest import ProjectHandle, make_project, wait_for_job
from tests.ui.helpers import sign_in


@pytest.fixture
def topic_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


def _seed(client: TestClient, engine: Engine, per_topic: int = 20) -> tuple[ProjectHandle, int]:
    """A project of three known topics (half nurses, dated Jan-Mar 2026), four of its stories
    in a meeting session, analysed."""
    project = make_project(client)
    with engine.begin() as conn:
        session_id = conn.execute(
            insert(MeetingSession)
            .values(project_id=project.id, name="March CoP", attributes={})
            .returning(MeetingSession.id)
        ).scalar_one()
    items = corpus(per_topic)
    for i in range(4):
        items.append({"text": f"{TOPICS['beds'][0]} (meeting {i})", "session_id": session_id})
    stored = project.post("/narratives", {"narratives": items})
    assert stored.status_code == 201, stored.text
    wait_for_job(client, project.admin_key, stored.json()["job"]["id"])
    analyse(project)
    return project, session_id


@pytest.fixture
def mapped(topic_client: TestClient, engine: Engine) -> tuple[ProjectHandle, int]:
    return _seed(topic_client, engine)


def _points(client: TestClient, project: ProjectHandle, **params: Any) -> dict[str, Any]:
    response = client.get(f"/ui/api/p/{project.id}/map/points", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestPage:
    def test_a_project_with_an_analysis_gets_its_map(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        page = topic_client.get(f"/ui/p/{project.id}/map")
        assert page.status_code == 200
        html = " ".join(page.text.split())
        assert 'aria-current="page">Theme map' in html
        assert 'id="map-canvas"' in html and "/ui/static/map.js" in html
        assert f'data-points="/ui/api/p/{project.id}/map/points"' in html
        assert "Showing 64 stories in 3 themes" in html
        themes = project.get("/themes").json()["themes"]
        for theme in themes:
            assert theme["label"] in html
        # the table view: themes with counts, then the first stories, each a link
        assert 'data-toggle-table="map-table"' in html
        assert html.count(f'href="/ui/p/{project.id}/narratives/') == TABLE_ROWS
        assert f"The first {TABLE_ROWS} of 64 stories" in html
        assert "no analysis" not in html.lower()

    def test_an_empty_project_says_what_to_do(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.admin_key)
        page = client.get(f"/ui/p/{project.id}/map")
        assert page.status_code == 200
        assert "There are no stories in this project yet" in page.text
        assert f'href="/ui/p/{project.id}/upload"' in page.text
        assert 'id="map-canvas"' not in page.text
        body = _points(client, project)
        assert body["analysis"] is None and body["ids"] == []

    def test_stories_without_an_analysis_say_so(
        self, topic_client: TestClient, engine: Engine
    ) -> None:
        project = make_project(topic_client)
        stored = project.post("/narratives", {"narratives": corpus(2)})
        wait_for_job(topic_client, project.admin_key, stored.json()["job"]["id"])
        sign_in(topic_client, project.key("read"))
        page = topic_client.get(f"/ui/p/{project.id}/map")
        assert "6 stories are stored, but Weft has not looked for themes yet" in page.text
        # a read key is not offered an upload it could not make
        assert f'href="/ui/p/{project.id}/upload">Upload stories' not in page.text

    def test_a_bad_date_is_explained(self, client: TestClient, project: ProjectHandle) -> None:
        sign_in(client, project.admin_key)
        page = client.get(f"/ui/p/{project.id}/map", params={"since": "last week"})
        assert page.status_code == 422
        assert "is not a date" in page.text
        data = client.get(f"/ui/api/p/{project.id}/map/points", params={"until": "soon"})
        assert data.status_code == 422 and "is not a date" in data.json()["detail"]


class TestPoints:
    def test_compact_arrays_matching_the_themes_counts(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        body = _points(topic_client, project)
        n = len(body["ids"])
        assert n == 64 and body["scale"] == SCALE
        assert len(body["xs"]) == len(body["ys"]) == len(body["theme"]) == n
        assert body["ids"] == sorted(body["ids"])
        assert all(isinstance(v, int) and -SCALE <= v <= SCALE for v in body["xs"] + body["ys"])
        counts = Counter(body["theme"])
        api = project.get("/themes").json()
        by_key = {t["key"]: t["size"] for t in api["themes"]}
        assert {body["themes"][i]["key"]: c for i, c in counts.items() if i >= 0} == by_key
        assert counts.get(-1, 0) == api["unclustered"]
        # colours follow size, largest first
        assert [t["key"] for t in body["themes"]] == [t["key"] for t in api["themes"]]

    def test_every_call_answers_the_same(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        first = topic_client.get(f"/ui/api/p/{project.id}/map/points").content
        assert topic_client.get(f"/ui/api/p/{project.id}/map/points").content == first

    def test_the_kept_answer_follows_new_stories_and_analyses(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        before = _points(topic_client, project)
        fresh = [
            {"text": f"{TOPICS['beds'][0]} (added later {i})", "external_id": f"later-{i}"}
            for i in range(2)
        ]
        stored = project.post("/narratives", {"narratives": fresh})
        wait_for_job(topic_client, project.admin_key, stored.json()["job"]["id"])
        placed = _points(topic_client, project)
        assert len(placed["ids"]) == len(before["ids"]) + 2
        analyse(project)
        again = _points(topic_client, project)
        assert again["analysis"] != before["analysis"]

    def test_filters_narrow_the_points_as_they_narrow_themes(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, session_id = mapped
        sign_in(topic_client, project.key("read"))
        everyone = set(_points(topic_client, project)["ids"])
        cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({"attribute": "role:nurse"}, {"attribute": "role:nurse"}),
            ({"session_id": str(session_id)}, {"session_id": session_id}),
            # the map's "until" day is included; the API's until is the next midnight
            (
                {"since": "2026-02-01", "until": "2026-02-28"},
                {"since": "2026-02-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            ),
        ]
        for params, api_params in cases:
            ids = _points(topic_client, project, **params)["ids"]
            api = project.get("/themes", **api_params).json()
            assert set(ids) < everyone
            assert len(ids) == api["total_narratives"] > 0, params
        nurses = _points(topic_client, project, attribute="role:nurse")["ids"]
        listed = project.get("/narratives", attribute="role:nurse", limit=500).json()["items"]
        assert set(nurses) == {n["id"] for n in listed}
        page = topic_client.get(
            f"/ui/p/{project.id}/map", params={"attribute": "role:nurse", "since": ""}
        )
        assert "Showing 30 stories" in " ".join(page.text.split())
        assert "/map/points?attribute=role%3Anurse" in page.text
        assert '<option value="role:nurse" selected>' in page.text
        assert "Clear the filters" in page.text

    def test_a_filter_that_leaves_too_few_stories_says_so(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        base = f"/ui/p/{project.id}/map"
        none = topic_client.get(base, params={"attribute": "role:surgeon"})
        assert "No story matches these filters" in none.text
        assert 'id="map-canvas"' not in none.text
        narrow = {"attribute": "role:nurse", "since": "2026-01-10", "until": "2026-01-10"}
        few = topic_client.get(base, params=narrow)
        assert few.status_code == 200
        shown = len(_points(topic_client, project, **narrow)["ids"])
        assert 0 < shown < MIN_POINTS
        text = " ".join(few.text.split())
        assert f"Only {shown} " in text and "too few to draw a map" in text

    def test_snippets_come_one_by_one(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        sign_in(topic_client, project.key("read"))
        first = _points(topic_client, project)["ids"][0]
        body = topic_client.get(f"/ui/api/p/{project.id}/map/snippet/{first}").json()
        text = project.get(f"/narratives/{first}").json()["text"]
        assert body == {"id": first, "snippet": text}


class TestIsolation:
    def test_another_projects_session_gets_404_everywhere(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        narrative = project.get("/narratives", limit=1).json()["items"][0]["id"]
        other = make_project(topic_client, name="Another council")
        sign_in(topic_client, other.admin_key)
        for path in (
            f"/ui/p/{project.id}/map",
            f"/ui/api/p/{project.id}/map/points",
            f"/ui/api/p/{project.id}/map/snippet/{narrative}",
            # its own project's path, with a story of the other project
            f"/ui/api/p/{other.id}/map/snippet/{narrative}",
        ):
            response = topic_client.get(path)
            assert response.status_code == 404, path
            assert "Care system CoP" not in response.text
            assert TOPICS["beds"][0] not in response.text

    def test_signed_out_data_calls_are_refused(
        self, topic_client: TestClient, mapped: tuple[ProjectHandle, int]
    ) -> None:
        project, _ = mapped
        response = topic_client.get(f"/ui/api/p/{project.id}/map/points")
        assert response.status_code == 401
