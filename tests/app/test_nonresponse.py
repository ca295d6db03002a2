"""Uploads store placeholders with a reason, leave them out of the themes and say so."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth, make_project, wait_for_job


def _upload(client: TestClient, project: Any, body: bytes, mapping: str | None = None) -> Any:
    data = {"mapping": mapping} if mapping else {}
    response = client.post(
        project.url("/uploads"),
        files={"file": ("survey.csv", body)},
        data=data,
        headers=auth(project.admin_key),
    )
    assert response.status_code == 202, response.text
    return wait_for_job(client, project.admin_key, response.json()["job"]["id"])


SURVEY = (
    b"id,Q,Antwort\n"
    b"1,What could we improve?,Did not answer\n"
    b"2,What could we improve?,Nothing.\n"
    b"3,What could we improve?,What could we improve?\n"
    b"4,What could we improve?,Bitte hier eingeben\n"
    b"5,What could we improve?,The wait on the phone was far too long\n"
)


def test_placeholders_are_stored_with_a_reason_and_counted(client: TestClient) -> None:
    project = make_project(client, placeholders=["Bitte hier eingeben"])
    job = _upload(client, project, SURVEY, '{"text": "Antwort", "question": "Q"}')
    left = job["result"]["report"]["left_out"]
    assert left["count"] == 3
    assert left["reasons"] == {
        "placeholder": 1,
        "repeats the question": 1,
        "project placeholder": 1,
    }
    items = client.get(project.url("/narratives"), headers=auth(project.admin_key)).json()["items"]
    reasons = {n["text"]: n["low_content_reason"] for n in items}
    assert reasons["Nothing."] is None
    assert reasons["Did not answer"] == "placeholder"


def test_the_analysis_says_how_many_and_which_strings_it_left_out(client: TestClient) -> None:
    project = make_project(client)
    _upload(client, project, SURVEY, '{"text": "Antwort", "question": "Q"}')
    queued = client.post(
        project.url("/analyses"), json={"seed": 0}, headers=auth(project.admin_key)
    ).json()
    wait_for_job(client, project.admin_key, queued["job"]["id"])
    page = client.get(project.url("/themes"), headers=auth(project.admin_key)).json()
    note = next(n for n in page["notes"] if "left out of the themes" in n)
    assert note.startswith("2 narratives") and "Did not answer" in note
    used = page["analysis"]["parameters"]["used"]["left_out"]
    assert used["count"] == 2
