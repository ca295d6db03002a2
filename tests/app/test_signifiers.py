from __future__ import annotations

from typing import Any

from tests.conftest import ProjectHandle

INSTRUMENT: list[dict[str, Any]] = [
    {
        "key": "influences",
        "kind": "triad",
        "label": "What shaped this?",
        "anchors": ["rules", "relationships", "resources"],
    },
    {"key": "control", "kind": "dyad", "poles": ["follow the plan", "work with emergence"]},
    {
        "key": "risk",
        "kind": "stones",
        "stones": [{"key": "people"}, {"key": "money"}],
        "axes": {"x": ["unlikely", "likely"], "y": ["minor", "severe"]},
    },
    {
        "key": "feelings",
        "kind": "mcq",
        "multiple": True,
        "options": [{"key": "hopeful"}, {"key": "worried"}, {"key": "angry"}],
    },
    {"key": "role", "kind": "mcq", "options": [{"key": "nurse"}, {"key": "manager"}]},
    {"key": "anything_else", "kind": "free_text"},
]


def declare(project: ProjectHandle) -> None:
    response = project.post("/signifiers", {"signifiers": INSTRUMENT})
    assert response.status_code == 200, response.text


class TestDeclareSignifiers:
    def test_declares_and_lists_in_order(self, project: ProjectHandle) -> None:
        declare(project)
        listed = project.get("/signifiers").json()["signifiers"]
        assert [s["key"] for s in listed] == [s["key"] for s in INSTRUMENT]
        assert listed[0]["definition"]["anchors"] == ["rules", "relationships", "resources"]

    def test_redeclaring_updates_by_key(self, project: ProjectHandle) -> None:
        declare(project)
        changed = {**INSTRUMENT[1], "label": "Who steers?"}
        project.post("/signifiers", {"signifiers": [changed]})
        listed = project.get("/signifiers").json()["signifiers"]
        assert len(listed) == len(INSTRUMENT)
        assert listed[1]["label"] == "Who steers?"

    def test_triad_needs_three_anchors(self, project: ProjectHandle) -> None:
        bad = {"key": "t", "kind": "triad", "anchors": ["a", "b"]}
        response = project.post("/signifiers", {"signifiers": [bad]})
        assert response.status_code == 422
        assert "3 anchors" in response.json()["detail"]
        assert project.get("/signifiers").json()["signifiers"] == []

    def test_kind_cannot_change_once_values_exist(self, project: ProjectHandle) -> None:
        declare(project)
        stored = project.post(
            "/narratives", {"narratives": [{"text": "a story", "signifiers": {"control": 0.3}}]}
        )
        assert stored.status_code == 201
        as_text = {"key": "control", "kind": "free_text"}
        response = project.post("/signifiers", {"signifiers": [as_text]})
        assert response.status_code == 409
        assert "stored values" in response.json()["detail"]
