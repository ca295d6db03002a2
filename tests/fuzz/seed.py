"""A project worth fuzzing: signifiers, narratives with values, a chat session, a file
upload, declared polarity axes and a finished analysis; and real ids to aim at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ProjectHandle, auth, make_project, wait_for_job

SIGNIFIERS = [
    {"key": "steer", "kind": "dyad", "poles": ["follow the plan", "work with emergence"]},
    {"key": "forces", "kind": "triad", "anchors": ["rules", "relationships", "resources"]},
    {"key": "mood", "kind": "mcq", "options": [{"key": "hopeful"}, {"key": "worried"}]},
    {"key": "place", "kind": "stones", "stones": [{"key": "people"}, {"key": "money"}]},
    {"key": "note", "kind": "free_text"},
]

TOPICS = ("beds were blocked for days", "the rota changed every week", "the morning huddle helped")

CHAT = (
    b"10:00:05\t From  Ana Duarte : Welcome back; today we review the new booking rule.\n"
    b"10:01:10\t From  Chidi Eze : The new booking rule cut the waits by half.\n"
    b"10:01:40\t From  Dana Morrow to Ana Duarte(Privately) : my camera is broken\n"
    b"10:02:00\t From  Chidi Eze : thanks!\n"
    b"10:03:00\t From  Ben Achterberg : Night shifts still wait for beds on ward 4.\n"
)

CSV = (
    b"id,text,role,date\n"
    b"c1,Discharge letters were late again on Friday,nurse,2026-02-03\n"
    b"c2,The new form saved us an hour each morning,doctor,2026-02-10\n"
    b"c3,Families could not reach the ward by phone,nurse,2026-02-17\n"
)


@dataclass
class Seeded:
    project: ProjectHandle
    #: a real id or key for each path parameter the API names
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.project.admin_key)


def _narratives() -> list[dict[str, Any]]:
    items = []
    for i in range(45):
        month = 1 + i % 3
        items.append(
            {
                "text": f"Story {i}: {TOPICS[i % 3]} and {('we', 'they', 'I')[i % 3]} noticed it",
                "external_id": f"n-{i}",
                "author": f"Author {i % 7}",
                "occurred_at": f"2026-0{month}-{1 + i % 27:02d}T09:00:00Z",
                "attributes": {"role": ("nurse", "doctor", "porter")[i % 3], "site": f"S{i % 2}"},
                "signifiers": {
                    "steer": (i % 10) / 10,
                    "forces": [0.2, 0.3, 0.5],
                    "mood": ("hopeful", "worried")[i % 2],
                    "place": {"people": {"x": 0.2, "y": 0.7}},
                    "note": f"note {i}",
                },
            }
        )
    return items


def _upload(project: ProjectHandle, path: str, files: dict[str, Any], data: dict[str, str]) -> Any:
    response = project.client.post(
        project.url(path), files=files, data=data, headers=auth(project.admin_key)
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 60)
    assert job["status"] == "succeeded", job
    return response.json()


def seed(client: TestClient, name: str = "Fuzzed") -> Seeded:
    """Build the project and wait for every job it queues."""
    project = make_project(client, name)
    assert project.post("/signifiers", {"signifiers": SIGNIFIERS}).status_code == 200
    axes = {"axes": [{"key": "pace", "poles": ["move fast", "take time"]}]}
    assert project.post("/polarities", axes).status_code == 200
    stored = project.post("/narratives", {"narratives": _narratives()})
    assert stored.status_code == 201, stored.text
    session = _upload(
        project,
        "/sessions",
        {"file": ("meeting_saved_chat.txt", CHAT)},
        {"name": "Week 1", "held_on": "2026-03-02", "attributes": '{"group": "North"}'},
    )
    upload = _upload(project, "/uploads", {"file": ("stories.csv", CSV)}, {})
    queued = project.post("/analyses", {"seed": 0})
    assert queued.status_code == 202, queued.text
    job = wait_for_job(client, project.admin_key, queued.json()["job"]["id"], 120)
    assert job["status"] == "succeeded", job
    themes = project.get("/themes").json()["themes"]
    assert themes, "the analysis found no theme"
    spare_key = project.client.post(
        project.url("/keys"),
        json={"scope": "read", "name": "spare"},
        headers=auth(project.admin_key),
    ).json()
    renamed = project.client.patch(
        project.url(f"/themes/{themes[0]['key']}"),
        json={"label": "A name given by hand"},
        headers=auth(project.admin_key),
    )
    assert renamed.status_code == 200, renamed.text
    ids = {
        "edit_id": renamed.json()["edits"][0]["id"],
        "project_id": project.id,
        "narrative_id": stored.json()["narrative_ids"][0],
        "source_id": upload["source"]["id"],
        "session_id": session["session"]["id"],
        "analysis_id": queued.json()["analysis"]["id"],
        "job_id": job["id"],
        "key": themes[0]["key"],
        "key_id": spare_key["id"],
    }
    return Seeded(project, ids)
