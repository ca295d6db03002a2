from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from models import Narrative, Reaction
from tests.conftest import CountingEmbedder, ProjectHandle, auth, make_project, wait_for_job

FIXTURES = Path(__file__).resolve().parents[1] / "pipelines" / "ingest" / "fixtures"
ZOOM_CHAT = (FIXTURES / "zoom_chat_new.txt").read_bytes()

# a second meeting of the same people, in the older Zoom layout
NEXT_CHAT = (
    b"10:00:05\t From  Ana Duarte : Welcome back; today we review the new booking rule.\n"
    b"10:01:10\t From  Chidi Eze : The new booking rule cut the waits by half.\n"
    b"10:01:40\t From  Dana Morrow to Ana Duarte(Privately) : my camera is broken\n"
    b"10:02:00\t From  Chidi Eze : thanks!\n"
    b"10:02:30\t From  Ben Achterberg : https://example.org/booking-rule\n"
)


@pytest.fixture
def client(settings: Settings, embedder: CountingEmbedder, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"data_dir": str(tmp_path / "var")})
    with TestClient(create_app(configured, embedder=embedder)) as test_client:
        yield test_client


def post_session(
    project: ProjectHandle, name: str, data: bytes, filename: str = "chat.txt", **fields: str
) -> Any:
    return project.client.post(
        project.url("/sessions"),
        files={"file": (filename, data)},
        data={"name": name, **fields},
        headers=auth(project.admin_key),
    )


def ingest_session(
    project: ProjectHandle, name: str, data: bytes, filename: str = "chat.txt", **fields: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    response = post_session(project, name, data, filename, **fields)
    assert response.status_code == 202, response.text
    body = response.json()
    job = wait_for_job(project.client, project.admin_key, body["job"]["id"])
    assert job["status"] == "succeeded", job
    return body, job


def narratives(project: ProjectHandle, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = project.get("/narratives", limit=1000, **params).json()["items"]
    return items


class TestZoomChat:
    def test_chat_becomes_narratives_of_the_session(self, project: ProjectHandle) -> None:
        body, job = ingest_session(
            project,
            "June practice circle",
            ZOOM_CHAT,
            "meeting_saved_chat.txt",
            held_on="2026-06-04",
            timezone="Europe/London",
            attributes=json.dumps({"group": "Discharge CoP"}),
        )
        meeting = body["session"]
        assert meeting["name"] == "June practice circle"
        assert meeting["held_on"] == "2026-06-04"
        assert meeting["attributes"] == {"group": "Discharge CoP"}
        assert project.get(f"/sessions/{meeting['id']}").json()["id"] == meeting["id"]

        report = job["result"]["report"]
        assert report["format"] == "zoom_chat"
        assert report["stored"] == 5
        stored = narratives(project, session_id=meeting["id"])
        assert [n["text"][:20] for n in stored] == [
            "Welcome to the June ",
            "On our ward the dela",
            "Did booking at admis",
            "+1",
            "A few, yes. We now c",
        ]
        # 10:00:03 in London in June is 09:00:03 UTC
        assert stored[0]["occurred_at"].startswith("2026-06-04T09:00:03")
        assert all(n["attributes"] == {"group": "Discharge CoP"} for n in stored)
        assert project.get("/narratives", attribute="group:Discharge CoP").json()["total"] == 5
        # low-content lines are kept, flagged
        assert [n["low_content"] for n in stored] == [False, False, False, True, False]

    def test_private_messages_are_never_stored(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        _, job = ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert job["result"]["report"]["private_messages"] == 1
        with Session(engine) as session:
            stored = session.scalars(select(Narrative.text)).all()
        assert stored and not any("half past" in text for text in stored)

    def test_reactions_and_replies_attach_to_their_target(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        _, job = ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        report = job["result"]["report"]
        assert report["reactions"] == 2
        issues = [i["reason"] for i in report["issues"]]
        assert any("Something nobody said" in reason for reason in issues)
        with Session(engine) as session:
            by_text = {n.text[:20]: n for n in session.scalars(select(Narrative))}
            reactions = session.execute(
                select(Narrative.text, Reaction.emoji, Reaction.author).join(
                    Narrative, Narrative.id == Reaction.narrative_id
                )
            ).all()
        # "Reacted to ..." lines are reactions on their target, not narratives
        assert not any(text.startswith("Reacted to") for text in by_text)
        assert sorted((text[:20], emoji) for text, emoji, _ in reactions) == [
            ("On our ward the dela", "👍"),
            ("Welcome to the June ", "❤️"),
        ]
        assert all(author and author.startswith("person-") for _, _, author in reactions)
        question = by_text["Did booking at admis"]
        answer = by_text["A few, yes. We now c"]
        assert question.replies_to_id == by_text["On our ward the dela"].id
        assert answer.replies_to_id == question.id

    def test_same_export_twice_is_not_duplicated(
        self, project: ProjectHandle, engine: Engine
    ) -> None:
        first, _ = ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        again = post_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert again.status_code == 202
        body = again.json()
        assert body["duplicate"] is True
        assert body["source"]["id"] == first["source"]["id"]
        assert body["session"]["id"] == first["session"]["id"]
        assert len(narratives(project)) == 5
        with Session(engine) as session:
            assert len(session.scalars(select(Reaction.id)).all()) == 2

    def test_chat_without_a_date_keeps_clock_times(self, project: ProjectHandle) -> None:
        ingest_session(project, "Undated", NEXT_CHAT)
        stored = narratives(project)
        assert stored[0]["occurred_at"] is None
        assert stored[0]["attributes"] == {"time": "10:00:05"}


class TestPseudonyms:
    def test_same_person_same_pseudonym_across_sessions(self, project: ProjectHandle) -> None:
        one, _ = ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        two, _ = ingest_session(project, "July", NEXT_CHAT, held_on="2026-07-02")
        assert one["session"]["id"] != two["session"]["id"]
        june = narratives(project, session_id=one["session"]["id"])
        july = narratives(project, session_id=two["session"]["id"])
        # Ana Duarte opens both meetings
        assert june[0]["author"] == july[0]["author"]
        assert june[0]["author"].startswith("person-")
        authors = {n["author"] for n in june + july}
        assert not any("Ana" in a or "Chidi" in a for a in authors)
        # Chidi Eze asked in June and reported back in July
        chidi_june = next(n["author"] for n in june if n["text"].startswith("Did booking"))
        chidi_july = next(n["author"] for n in july if n["text"].startswith("The new booking"))
        assert chidi_june == chidi_july
        # another project gives the same person another pseudonym
        other = make_project(project.client, "Other CoP")
        ingest_session(other, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert narratives(other)[0]["author"] != june[0]["author"]

    def test_project_can_keep_real_names(self, client: TestClient) -> None:
        project = make_project(client, "Named CoP", keep_author_names=True)
        ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert narratives(project)[0]["author"] == "Ana Duarte"

    def test_participants_named_in_messages_are_stored_as_their_pseudonyms(
        self, project: ProjectHandle, client: TestClient
    ) -> None:
        chat = (
            b"10:00:05\t From  Ana Duarte : Chidi, can you show the booking figures?\n"
            b"10:01:10\t From  Chidi Eze : Thanks Ana Duarte, the booking rule cut the waits.\n"
            b"10:02:00\t From  Ana Duarte : Ask Sam in transport as well.\n"
        )
        ingest_session(project, "August", chat, held_on="2026-08-06")
        stored = narratives(project)
        ana, chidi = stored[0]["author"], stored[1]["author"]
        assert [n["text"] for n in stored] == [
            f"@{chidi}, can you show the booking figures?",
            f"Thanks @{ana}, the booking rule cut the waits.",
            # only the session's own participants are known
            "Ask Sam in transport as well.",
        ]
        named = make_project(client, "Named CoP", keep_author_names=True)
        ingest_session(named, "August", chat, held_on="2026-08-06")
        assert narratives(named)[1]["text"] == "Thanks Ana Duarte, the booking rule cut the waits."

    def test_low_content_lines_are_flagged(self, project: ProjectHandle) -> None:
        ingest_session(project, "July", NEXT_CHAT, held_on="2026-07-02")
        flags = {n["text"]: n["low_content"] for n in narratives(project)}
        assert flags == {
            "Welcome back; today we review the new booking rule.": False,
            "The new booking rule cut the waits by half.": False,
            "thanks!": True,
            "https://example.org/booking-rule": True,
        }


class TestTranscriptsAndTeams:
    def test_transcript_turns_are_anchored_at_the_start(self, project: ProjectHandle) -> None:
        body, job = ingest_session(
            project,
            "Ward reports",
            (FIXTURES / "transcript_zoom.vtt").read_bytes(),
            "recording.vtt",
            started_at="2026-05-01T14:00:00+00:00",
        )
        assert body["session"]["held_on"] == "2026-05-01"
        assert job["result"]["report"]["format"].startswith("transcript")
        stored = narratives(project)
        assert [n["text"][:12] for n in stored] == [
            "Thanks for j",
            "Sure. Our ma",
            "Thank you.",
        ]
        assert stored[1]["occurred_at"].startswith("2026-05-01T14:00:10")
        assert stored[0]["low_content"] is False and stored[2]["low_content"] is True

    def test_teams_messages_with_reactions(self, project: ProjectHandle, engine: Engine) -> None:
        _, job = ingest_session(
            project, "Teams chat", (FIXTURES / "teams_messages.json").read_bytes(), "chat.json"
        )
        report = job["result"]["report"]
        assert report["format"] == "teams_json"
        assert report["system_messages"] == 1 and report["deleted_messages"] == 1
        with Session(engine) as session:
            assert len(session.scalars(select(Reaction.id)).all()) == report["reactions"]
            linked = session.scalars(
                select(Narrative).where(Narrative.replies_to_id.is_not(None))
            ).all()
        assert len(linked) == report["replies"]


class TestRefused:
    def test_a_batch_file_is_not_a_session(self, project: ProjectHandle, engine: Engine) -> None:
        response = post_session(project, "Oops", b"id,story\n1,This is a survey.\n", "survey.csv")
        assert response.status_code == 202
        job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        assert job["status"] == "failed"
        assert "not a chat export or transcript" in job["error"]
        with Session(engine) as session:
            assert session.scalars(select(Narrative.id)).all() == []

    def test_chat_posted_to_uploads_first_can_then_go_to_sessions(
        self, project: ProjectHandle
    ) -> None:
        response = project.client.post(
            project.url("/uploads"),
            files={"file": ("meeting_saved_chat.txt", ZOOM_CHAT)},
            headers=auth(project.admin_key),
        )
        job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        assert job["status"] == "failed" and "/sessions" in job["error"]
        body, _ = ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert body["duplicate"] is True  # the same bytes: the refused source, parsed again
        assert body["source"]["id"] == response.json()["source"]["id"]
        assert len(narratives(project, session_id=body["session"]["id"])) == 5

    def test_binary_file_fails_clearly(self, project: ProjectHandle) -> None:
        response = post_session(project, "Oops", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "a.png")
        job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        assert job["status"] == "failed"
        assert job["error"]

    def test_name_is_required_and_fields_checked(self, project: ProjectHandle) -> None:
        response = project.client.post(
            project.url("/sessions"),
            files={"file": ("chat.txt", ZOOM_CHAT)},
            data={"held_on": "2026-06-04"},
            headers=auth(project.admin_key),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "name"
        response = post_session(project, "June", ZOOM_CHAT, timezone="Mars/Olympus")
        assert response.status_code == 422
        assert "time zone" in response.json()["detail"]
        response = post_session(project, "June", ZOOM_CHAT, held_on="4 June")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "held_on"

    def test_sessions_are_listed(self, project: ProjectHandle) -> None:
        ingest_session(project, "July", NEXT_CHAT, held_on="2026-07-02")
        ingest_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert [s["name"] for s in project.get("/sessions").json()] == ["June", "July"]


class TestProgress:
    def test_a_session_export_has_the_same_progress_as_an_upload(
        self, project: ProjectHandle
    ) -> None:
        response = post_session(project, "June", ZOOM_CHAT, held_on="2026-06-04")
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["source"]["progress"]["stages"][0]["name"] == "parse"
        meeting = project.get(f"/sessions/{accepted['session']['id']}").json()
        assert meeting["source_id"] == accepted["source"]["id"]
        deadline = time.monotonic() + 30
        while True:
            source = project.get(f"/uploads/{meeting['source_id']}").json()
            if source["progress"]["stage"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, source["progress"]
            time.sleep(0.05)
        stages = {
            s["name"]: (s["status"], s["done"], s["total"]) for s in source["progress"]["stages"]
        }
        assert source["progress"]["stage"] == "done"
        assert stages["parse"] == ("done", 5, 5)
        assert stages["store"] == ("done", 5, 5)
        # the "+1" line is kept but it is text like any other: all five are embedded
        assert stages["embed"][0] == "done" and stages["embed"][2] == 5
        assert stages["place"][0] == "skipped"
