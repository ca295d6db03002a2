"""The trends and tensions screens, server side: controls, answers, empty states, isolation."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, update

from app.config import Settings
from app.main import create_app
from models import Analysis
from models import Signal as SignalRow
from tests.app.test_tensions import load, planted
from tests.app.test_themes import TopicEmbedder, analyse
from tests.app.test_trends import add_sessions, seed
from tests.conftest import ProjectHandle, make_project
from tests.ui.helpers import sign_in


@pytest.fixture
def topic_client(database_url: str) -> Iterator[TestClient]:
    """Known themes (TopicEmbedder) and a quick signal step."""
    settings = Settings(
        database_url=database_url,
        job_poll_seconds=0.2,
        auto_analyze=False,
        signals_permutations=199,
    )
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


@pytest.fixture
def trend_project(topic_client: TestClient, engine: Engine) -> ProjectHandle:
    """Six monthly meetings; beds rising, staffing mostly nurses', records mostly managers'."""
    project = make_project(topic_client)
    seed(project, add_sessions(engine, project))
    return project


@pytest.fixture
def tension_project(topic_client: TestClient) -> ProjectHandle:
    """Planted tensions: split 'steer' in beds, 'trust' differing by site in records."""
    project = load(topic_client, planted())
    analyse(project)
    return project


def embedded(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def text_of(page: str) -> str:
    """The page's words, tags dropped and whitespace joined."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


class TestTrendsPage:
    def test_controls_and_the_answer_of_the_api(
        self, topic_client: TestClient, trend_project: ProjectHandle
    ) -> None:
        sign_in(topic_client, trend_project.key("read"))
        url = f"/ui/p/{trend_project.id}/trends"
        first = topic_client.get(url)
        assert first.status_code == 200
        # the project's attribute keys, its sessions and the periods are the choices
        for option in ("attribute:role", "attribute:trust", "session", "period:month"):
            assert f'value="{option}"' in first.text
        assert "Session (6 meetings)" in first.text
        # without a choice, the first attribute is shown
        assert embedded(first.text)["by"] == ["attribute:role"]
        assert 'src="/ui/static/vendor/plotly.min.js"' in first.text

        params = {"by": ["attribute:role", "period:month"], "level": "top"}
        crossed = topic_client.get(url, params=params)
        assert re.search(r'<option value="period:month"[^>]*selected', crossed.text)
        api = trend_project.get("/trends", **params).json()
        assert embedded(crossed.text) == api
        data = topic_client.get(f"/ui/api/p/{trend_project.id}/trends", params=params)
        assert data.status_code == 200 and data.json() == api
        # the narrowing filters are the API's too
        nurses = topic_client.get(
            f"/ui/api/p/{trend_project.id}/trends",
            params={"by": "period:month", "attribute": "role:nurse"},
        )
        assert (
            nurses.json()
            == trend_project.get("/trends", by="period:month", attribute="role:nurse").json()
        )

    def test_a_bad_by_is_explained_on_the_page(
        self, topic_client: TestClient, trend_project: ProjectHandle
    ) -> None:
        sign_in(topic_client, trend_project.admin_key)
        url = f"/ui/p/{trend_project.id}/trends"
        for by, words in (
            (["colour"], "'by=colour' is not understood"),
            (["session", "period:month"], "only one of 'by' may be a session or a period"),
        ):
            page = topic_client.get(url, params={"by": by})
            assert page.status_code == 200
            words_on_page = text_of(page.text)
            assert "Weft could not draw that comparison" in words_on_page
            assert words in words_on_page
            assert "Traceback" not in page.text
            # the controls stay, to choose again
            assert 'id="trend-controls"' in page.text
        data = topic_client.get(f"/ui/api/p/{trend_project.id}/trends", params={"by": "colour"})
        assert data.status_code == 422
        assert "is not understood" in data.json()["detail"]
        level = topic_client.get(url, params={"level": "everything"})
        assert level.status_code == 422 and "Something in what was sent" in level.text


class TestEmptyProject:
    def test_both_pages_say_what_to_do_first(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.admin_key)
        for path in ("trends", "tensions"):
            page = client.get(f"/ui/p/{project.id}/{path}")
            assert page.status_code == 200
            words = text_of(page.text)
            assert "This project has no narratives yet" in words
            assert f'<a href="/ui/p/{project.id}/upload">Upload a chat export</a>' in page.text
            assert "POST /v1" not in words
        data = client.get(f"/ui/api/p/{project.id}/trends", params={"by": "period:month"})
        assert data.status_code == 200 and data.json()["analysis"] is None

    def test_narratives_waiting_for_their_analysis(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        response = project.post("/narratives", {"narratives": [{"text": "One story"}]})
        assert response.status_code == 201
        sign_in(client, project.key("read"))
        page = client.get(f"/ui/p/{project.id}/trends")
        words = text_of(page.text)
        assert "holds 1 narratives" in words or "analysis is" in words
        # a read key cannot upload: the page does not send it there
        assert "Upload a chat export" not in words


class TestIsolation:
    def test_another_projects_session_gets_404_everywhere(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        other = make_project(client, name="Another council")
        sign_in(client, other.admin_key)
        for url in (
            f"/ui/p/{project.id}/trends",
            f"/ui/p/{project.id}/tensions",
            f"/ui/api/p/{project.id}/trends?by=period:month",
        ):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "Care system CoP" not in response.text

    def test_the_data_endpoint_needs_a_session_not_a_key(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        url = f"/ui/api/p/{project.id}/trends?by=period:month"
        bearer = client.get(url, headers={"Authorization": f"Bearer {project.admin_key}"})
        assert bearer.status_code == 401


class TestTensionsPage:
    def test_flagged_first_with_words_and_quotes(
        self, topic_client: TestClient, tension_project: ProjectHandle
    ) -> None:
        sign_in(topic_client, tension_project.key("read"))
        page = topic_client.get(f"/ui/p/{tension_project.id}/tensions")
        assert page.status_code == 200
        words = text_of(page.text)
        api = tension_project.get("/tensions").json()
        flagged = sum(s["flagged"] for s in api["signals"])
        assert f"{api['total']} readings match; {flagged} of them flagged" in words
        assert words.index("Flagged tensions") < words.index("Other readings")
        # a split scale: the poles, both sides' stories, the strength and the test in words
        assert "Opinions split to both ends of “steer”, between “follow the plan” and" in words
        assert "Some say (towards “follow the plan”)" in words
        assert "Others say (towards “work with emergence”)" in words
        assert re.search(r"Strength: (strong|moderate|weak) \(\d\.\d\d\)", words)
        assert re.search(r"unlikely to be chance: q (=|<) 0\.0\d+", words)
        # groups that see a theme differently, with their medians
        assert "Groups by “site” see “trust” differently" in words
        assert re.search(r"Some say \(site “(North|South)”\)", words)
        assert "The median of “trust” in each group: North 0.9" in words
        assert "No free beds on the ward" in words
        assert "placed since" not in words and 'id="placed-since"' not in page.text

    def test_filters_and_a_filter_that_leaves_none(
        self, topic_client: TestClient, tension_project: ProjectHandle
    ) -> None:
        sign_in(topic_client, tension_project.admin_key)
        url = f"/ui/p/{tension_project.id}/tensions"
        page = topic_client.get(url)
        for value in ("group_divergence", "dyad_polarised", "triad_shift"):
            assert f'<option value="{value}"' in page.text
        assert '<option value="site"' in page.text and '<option value="role"' in page.text
        by_kind = topic_client.get(url, params={"kind": "group_divergence", "theme": ""})
        api = tension_project.get("/tensions", kind="group_divergence").json()
        words = text_of(by_kind.text)
        assert f"{api['total']} readings match" in words
        assert "Opinions split" not in words
        assert re.search(r'<option value="group_divergence"\s*selected', by_kind.text)
        by_attribute = text_of(topic_client.get(url, params={"attribute": "site"}).text)
        assert "by “role”" not in by_attribute and "Groups by “site”" in by_attribute
        theme = api["signals"][0]["themes"][0]["key"]
        by_theme = topic_client.get(url, params={"theme": theme, "flagged_only": "true"})
        assert f"{len([s for s in api['signals'] if s['flagged']])}" in text_of(by_theme.text)
        assert re.search(r'id="flagged_only"[^>]*checked', by_theme.text)
        none = topic_client.get(url, params={"kind": "divisive_theme"})
        assert "No tension matches these filters" in text_of(none.text)
        assert f'href="/ui/p/{tension_project.id}/tensions"' in none.text

    def test_placed_since_and_an_analysis_without_signals(
        self, topic_client: TestClient, tension_project: ProjectHandle, engine: Engine
    ) -> None:
        sign_in(topic_client, tension_project.key("read"))
        url = f"/ui/p/{tension_project.id}/tensions"
        with engine.begin() as conn:
            conn.execute(update(Analysis).values(incremental_count=7))
        words = text_of(topic_client.get(url).text)
        assert "7 narratives were added after this analysis ran" in words
        assert "narratives placed into themes since" not in words
        with engine.begin() as conn:
            conn.execute(delete(SignalRow))
        page = topic_client.get(url)
        words = text_of(page.text)
        assert "No tensions to show" in words and "<h2>Flagged tensions" not in page.text
        with engine.begin() as conn:
            conn.execute(update(Analysis).values(timings={}))
        assert "did not look for tensions" in text_of(topic_client.get(url).text)
