"""The signifier explorer: its page, its data endpoints and who may see them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ProjectHandle, make_project
from tests.ui.helpers import sign_in

SIGNIFIERS = [
    {
        "key": "forces",
        "kind": "triad",
        "label": "What shaped it",
        "anchors": ["rules", "relationships", "resources"],
    },
    {"key": "steer", "kind": "dyad", "label": "The plan", "poles": ["followed", "ignored"]},
    {
        "key": "mood",
        "kind": "mcq",
        "label": "It felt",
        "options": [{"key": "good", "label": "good"}, {"key": "bad", "label": "bad"}],
    },
    {
        "key": "canvas",
        "kind": "stones",
        "label": "Where it sits",
        "stones": [{"key": "risk", "label": "Risk"}],
    },
]


def _seed(project: ProjectHandle, n: int = 80) -> None:
    """Nurses (half) lean to "rules" and the left pole; the others to "resources"."""
    assert project.post("/signifiers", {"signifiers": SIGNIFIERS}).status_code in (200, 201)
    rng = np.random.default_rng(3)
    items: list[dict[str, Any]] = []
    for i in range(n):
        nurse = i % 2 == 0
        centre = [0.7, 0.2, 0.1] if nurse else [0.1, 0.2, 0.7]
        parts = rng.dirichlet(np.asarray(centre) * 20).round(3)
        parts[2] = round(1 - parts[0] - parts[1], 3)
        items.append(
            {
                "text": f"Story {i}: the ward <b>{'nurse' if nurse else 'porter'}</b> view",
                "external_id": f"s-{i}",
                "attributes": {"role": "nurse" if nurse else "porter"},
                "signifiers": {
                    "forces": [float(p) for p in np.clip(parts, 0, 1)] if i != 5 else None,
                    "steer": float(np.clip(rng.normal(0.25 if nurse else 0.75, 0.1), 0, 1)),
                    "mood": "good" if (nurse and i % 3) else "bad",
                    "canvas": {"risk": {"x": float(rng.random()), "y": float(rng.random())}},
                },
            }
        )
    answer = project.post("/narratives", {"narratives": items})
    assert answer.status_code in (200, 201, 202), answer.text


def _api(project: ProjectHandle, name: str) -> str:
    return f"/ui/api/p/{project.id}/signifiers/{name}"


@pytest.fixture
def seeded(client: TestClient, project: ProjectHandle) -> tuple[ProjectHandle, str]:
    _seed(project)
    return project, sign_in(client, project.key("read"))


def test_the_page_lists_signifiers_and_filters(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, _ = seeded
    page = client.get(f"/ui/p/{project.id}/signifiers")
    assert page.status_code == 200
    for text in ("What shaped it", "The plan", "It felt", "Where it sits", "role = nurse (40)"):
        assert text in page.text
    assert 'aria-current="page">Signifiers' in page.text
    assert page.text.count("data-toggle-table=") == 4
    assert "/ui/static/vendor/plotly.min.js" in page.text


def test_an_empty_project_explains_signifiers(client: TestClient, project: ProjectHandle) -> None:
    sign_in(client, project.key("read"))
    page = client.get(f"/ui/p/{project.id}/signifiers")
    assert page.status_code == 200
    assert "No signifiers are declared" in page.text
    assert "framework definition" in page.text and "needs a write key" in page.text
    assert "plotly" not in page.text


def test_selection_draws_groups_and_na_is_its_own_state(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, csrf = seeded
    body = {"a": {"attributes": ["role=nurse"]}}
    data = client.post(_api(project, "selection"), json=body, headers={"X-CSRF-Token": csrf}).json()
    assert (data["total"], data["a"], data["b"], data["b_is_rest"]) == (80, 40, 40, True)
    triad = data["charts"]["forces"]
    assert triad["answered"] == 79 and triad["groups"]["b"]["not_applicable"] == 1
    assert triad["groups"]["a"]["centre"][0] > 0.5 > triad["groups"]["b"]["centre"][0]
    assert sum(c["count"] for c in triad["density"]) == 79
    assert data["charts"]["steer"]["groups"]["a"]["bands"][4] == 0
    assert data["charts"]["mood"]["groups"]["b"]["shares"] == [0.0, 1.0]
    assert data["charts"]["canvas"]["stones"][0]["groups"]["a"]["n"] == 40
    stories = data["stories"]
    assert stories["total"] == 40 and len(stories["items"]) == 20
    assert "nurse" in stories["items"][0]["snippet"]


def test_a_region_narrows_the_stories(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, csrf = seeded
    headers = {"X-CSRF-Token": csrf}
    everyone = client.post(_api(project, "selection"), json={}, headers=headers).json()
    ids = everyone["charts"]["forces"]["ids"][:7]
    body = {"a": {"region": {"signifier": "forces", "ids": ids}}}
    data = client.post(_api(project, "selection"), json=body, headers=headers).json()
    assert data["a"] == 7
    assert [s["id"] for s in data["stories"]["items"]] == sorted(ids)
    # within the other filters of the selection
    body["a"]["answers"] = [{"signifier": "mood", "option": "bad"}]
    narrowed = client.post(_api(project, "selection"), json=body, headers=headers).json()
    assert narrowed["a"] < 7


def test_compare_runs_the_signal_tests_on_a_against_b(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, csrf = seeded
    body = {"a": {"attributes": ["role=nurse"]}, "b": {"attributes": ["role=porter"]}}
    result = client.post(_api(project, "compare"), json=body, headers={"X-CSRF-Token": csrf})
    assert result.status_code == 200, result.text
    data = result.json()
    assert data["enough"] and (data["a"], data["b"]) == (40, 40)
    assert 99 <= data["n_permutations"] <= 999 and data["correction"] == "holm"
    by_kind = {f["kind"]: f for f in data["findings"]}
    assert (
        by_kind["triad"]["flagged"] and by_kind["triad"]["test"] == "permutation_ilr_mean_distance"
    )
    assert by_kind["dyad"]["flagged"] and by_kind["dyad"]["detail"]["a"] < 0.5
    assert by_kind["mcq"]["flagged"]
    assert not by_kind["stones"]["flagged"]


def test_too_few_stories_say_how_many_and_the_minimum(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, csrf = seeded
    headers = {"X-CSRF-Token": csrf}
    few = {"a": {"region": {"signifier": "forces", "ids": []}}}
    data = client.post(_api(project, "selection"), json=few, headers=headers).json()
    assert data["a"] == 0 and not data["enough"]
    assert "0 stories" in data["notes"][0] and "5" in data["notes"][0]
    small = {"a": {"answers": [{"signifier": "steer", "low": 0.0, "high": 0.05}]}}
    compared = client.post(_api(project, "compare"), json=small, headers=headers).json()
    assert not compared["enough"] and compared["min_compare"] == 20 and compared["a"] < 20


def test_unsafe_calls_need_the_csrf_header_and_bad_filters_say_why(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, csrf = seeded
    assert client.post(_api(project, "selection"), json={}).status_code == 403
    bad = {"a": {"answers": [{"signifier": "mood", "option": "ecstatic"}]}}
    answer = client.post(_api(project, "selection"), json=bad, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 422 and "ecstatic" in answer.json()["detail"]


def test_another_projects_session_gets_404_everywhere(
    client: TestClient, seeded: tuple[ProjectHandle, str]
) -> None:
    project, _ = seeded
    other = make_project(client, "Elsewhere")
    csrf = sign_in(client, other.key("admin"))
    assert client.get(f"/ui/p/{project.id}/signifiers").status_code == 404
    for name in ("selection", "compare"):
        answer = client.post(_api(project, name), json={}, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 404
