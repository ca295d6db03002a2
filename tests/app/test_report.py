"""Session and project reports on small chats whose themes are known (TopicEmbedder)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.config import Settings
from app.main import create_app
from app.services.report.chat import is_action, is_question
from tests.app.test_themes import TOPICS, TopicEmbedder, analyse
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job
from tests.ui.helpers import sign_in

UNANSWERED = "Who is covering the night shift next week?"
ANSWERED = "Has anyone seen the new bed board?"
ACTION = "Next time we should invite the bed managers"


def _chat(topics: list[str], extra: list[tuple[str, str]] = (), *, minutes: int = 0) -> bytes:
    """A Zoom chat (current layout): six lines of each topic, then the `extra` lines."""
    lines: list[tuple[str, str]] = []
    for topic in topics:
        for i in range(6):
            lines.append((f"p{i}", f"{TOPICS[topic][i % 3]} (said {topic} {i})"))
    lines += list(extra)
    out = []
    for n, (who, text) in enumerate(lines):
        clock = f"10:{(minutes + n) // 60:02d}:{(minutes + n) % 60:02d}"
        out.append(f"{clock} From {who} to Everyone:\n\t{text}\n")
    return "".join(out).encode()


def _post(project: ProjectHandle, name: str, held_on: str, data: bytes, **fields: str) -> int:
    answer = project.client.post(
        project.url("/sessions"),
        files={"file": ("chat.txt", data)},
        data={"name": name, "held_on": held_on, **fields},
        headers=auth(project.admin_key),
    )
    assert answer.status_code == 202, answer.text
    job = wait_for_job(project.client, project.admin_key, answer.json()["job"]["id"])
    assert job["status"] == "succeeded", job
    return int(answer.json()["session"]["id"])


@pytest.fixture
def topic_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, embedder=TopicEmbedder())) as client:
        yield client


@pytest.fixture
def circle(topic_client: TestClient) -> tuple[ProjectHandle, list[int]]:
    """Two sessions: beds and staffing, then staffing and records; analysed."""
    project = make_project(topic_client, "Discharge CoP")
    first = _chat(
        ["beds", "staffing"],
        [
            ("Ana", UNANSWERED),
            ("Ben", ANSWERED),
            ("Cy", 'Replying to "Has anyone seen the..." Yes, it is on the ward wall now'),
            ("Ana", ACTION),
        ],
    )
    second = _chat(["staffing", "records"], minutes=30)
    ids = [
        _post(project, "March circle", "2026-03-04", first, attributes='{"group": "North"}'),
        _post(project, "April circle", "2026-04-01", second, attributes='{"group": "South"}'),
    ]
    analyse(project)
    return project, ids


def _section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end)]


class TestSessionReport:
    def test_questions_without_a_linked_reply_are_under_now_what(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        page = project.get(f"/sessions/{ids[0]}/report")
        assert page.status_code == 200, page.text
        now_what = _section(page.text, "Now what?", "Also raised")
        assert UNANSWERED in now_what
        assert ANSWERED not in now_what
        assert "records no replies" not in now_what

    def test_action_like_messages_with_who_and_when(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        now_what = _section(project.get(f"/sessions/{ids[0]}/report").text, "Now what?", "Also")
        actions = now_what[now_what.index("Actions and suggestions") :]
        assert ACTION in actions
        assert "person-" in actions and "10:00" in actions
        assert "Ana" not in actions

    def test_themes_new_since_the_previous_session_and_gone_quiet(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        labels = {t["key"]: t["label"] for t in project.get("/themes").json()["themes"]}
        page = project.get(f"/sessions/{ids[1]}/report").text
        changed = _section(page, "What changed", "So what?")
        assert "Compared with the previous session, March circle" in changed
        new = changed[changed.index("New:") : changed.index("Went quiet:")]
        quiet = changed[changed.index("Went quiet:") :]
        records = _label_of(project, labels, "records")
        beds = _label_of(project, labels, "beds")
        assert records in new and beds not in new
        assert beds in quiet

    def test_the_report_shows_the_curated_view(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        themes = project.get("/themes").json()["themes"]
        labels = {t["key"]: t["label"] for t in themes}
        staffing = next(k for k in labels if _label_of(project, labels, "staffing") == labels[k])
        beds = next(k for k in labels if _label_of(project, labels, "beds") == labels[k])
        renamed = project.client.patch(
            project.url(f"/themes/{staffing}"),
            json={"label": "Who covers the rota"},
            headers=auth(project.key("write")),
        )
        assert renamed.status_code == 200, renamed.text
        hidden = project.client.patch(
            project.url(f"/themes/{beds}"),
            json={"hidden": True},
            headers=auth(project.key("write")),
        )
        assert hidden.status_code == 200, hidden.text
        what = _section(project.get(f"/sessions/{ids[0]}/report").text, "What?", "So what?")
        assert "Who covers the rota" in what
        assert labels[beds] not in what
        assert "Hidden: 1 theme" in what

    def test_the_first_session_has_nothing_to_compare_with(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        assert "first session of the project" in project.get(f"/sessions/{ids[0]}/report").text

    def test_what_was_set_aside_is_said_in_words_and_no_question_is_no_question(
        self, topic_client: TestClient
    ) -> None:
        project = make_project(topic_client, "Set aside")
        extra = [("Ana", "thanks, very useful!"), ("Ben", "+1"), ("Cy", "hahaha")]
        session = _post(project, "May circle", "2026-05-06", _chat(["beds"], extra))
        analyse(project)
        page = project.get(f"/sessions/{session}/report").text
        # nobody asked anything: the report does not say every question has a reply
        now_what = _section(page, "Now what?", "<h2>Also raised")
        assert "No message in the chat asks a question." in now_what
        assert "has a reply" not in now_what and "records no replies" not in now_what
        footer = page[page.index("About this report") :]
        assert "Pleasantries (such as “thanks!” or “+1”): 2;" in footer
        assert "Laughter: 1." in footer
        assert "pleasantry (" not in footer and "laughter (" not in footer

    def test_a_read_key_reads_it_as_pdf(self, circle: tuple[ProjectHandle, list[int]]) -> None:
        project, ids = circle
        answer = project.get(f"/sessions/{ids[0]}/report", key=project.key("read"), format="pdf")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF")
        text = " ".join(
            " ".join(
                p.extract_text() or "" for p in PdfReader(io.BytesIO(answer.content)).pages
            ).split()
        )
        assert "What?" in text and UNANSWERED in text

    def test_unknown_or_foreign_session_is_404(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        other = make_project(project.client, "Another CoP")
        for answer in (
            project.get(f"/sessions/{max(ids) + 100}/report"),
            other.get(f"/sessions/{ids[0]}/report"),
            project.client.get(
                f"/v1/projects/{project.id}/sessions/{ids[0]}/report",
                headers=auth(other.admin_key),
            ),
        ):
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"

    def test_an_unknown_format_says_which_there_are(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        answer = project.get(f"/sessions/{ids[0]}/report", format="docx")
        assert answer.status_code == 422
        assert "html" in answer.text and "pdf" in answer.text


def _label_of(project: ProjectHandle, labels: dict[str, str], topic: str) -> str:
    """The label of the theme that holds the topic's first example."""
    wanted = TOPICS[topic][0]
    for key, label in labels.items():
        members = project.get(f"/themes/{key}", limit=1000).json()["members"]
        if any(m["snippet"].startswith(wanted) for m in members):
            return label
    raise AssertionError(f"no theme holds {topic!r}")


class TestProjectReport:
    def test_groups_by_attribute_with_a_warning_for_small_ones(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, _ = circle
        page = project.get("/report").text
        table = _section(page, "Groups and themes", "Now what?")
        assert "by group" in table and "North" in table and "South" in table
        footer = page[page.index("About this report") :]
        assert "too few to say" not in footer  # each group has 12 or more messages

    def test_a_period_holds_only_its_sessions(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, _ = circle
        page = project.get("/report", since="2026-03-20T00:00:00Z", until="2026-05-01T00:00:00Z")
        assert page.status_code == 200
        assert UNANSWERED not in page.text
        assert "Compared with the same length of time before it" in page.text

    def test_since_after_until_is_refused(self, circle: tuple[ProjectHandle, list[int]]) -> None:
        project, _ = circle
        answer = project.get("/report", since="2026-05-01T00:00:00Z", until="2026-03-01T00:00:00Z")
        assert answer.status_code == 422
        assert "must be before until" in answer.json()["detail"]


class TestNotYet:
    def test_a_session_without_an_analysis_says_so_and_what_is_running(
        self, topic_client: TestClient
    ) -> None:
        project = make_project(topic_client)
        meeting = _post(project, "May circle", "2026-05-06", _chat(["beds"]))
        page = project.get(f"/sessions/{meeting}/report").text
        assert "This report is not ready yet" in page
        assert "no analysis has run yet" in page
        assert "What?" not in page and "About this report" in page
        pdf = project.get(f"/sessions/{meeting}/report", format="pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        # no lane runs jobs from here on, so the analysis stays queued
        topic_client.app.state.runtime.runner.stop()
        assert project.post("/analyses", {}).status_code == 202
        waiting = project.get(f"/sessions/{meeting}/report").text
        assert "An analysis is waiting to start." in waiting
        assert "Running now: finding themes (waiting to start)." in waiting

    def test_a_session_still_being_read_says_so(
        self, circle: tuple[ProjectHandle, list[int]], topic_client: TestClient
    ) -> None:
        project, _ = circle
        topic_client.app.state.runtime.runner.stop()
        meeting = _post_queued(project, "May circle", "2026-05-06", _chat(["records"]))
        page = project.get(f"/sessions/{meeting}/report").text
        assert "This report is not ready yet" in page
        assert "Running now: reading an upload (waiting to start)." in page
        assert "no analysis has run yet" not in page
        # messages stored (a JSON batch is stored by its request) but not yet placed
        line = {"text": "Beds again tonight", "session_id": meeting}
        assert project.post("/narratives", {"narratives": [line]}).status_code == 201
        page = project.get(f"/sessions/{meeting}/report").text
        assert "This report is not ready yet" in page
        assert "1 message is stored for it." in page
        assert "not in the themes of analysis" in page
        assert "Running now: reading an upload (waiting to start)." in page


def _post_queued(project: ProjectHandle, name: str, held_on: str, data: bytes) -> int:
    answer = project.client.post(
        project.url("/sessions"),
        files={"file": ("chat.txt", data)},
        data={"name": name, "held_on": held_on},
        headers=auth(project.admin_key),
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["session"]["id"])


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Which programmer did you make?", True),
        ("how do we book the room", True),
        ("Can someone share the slides", True),
        ("what?", False),
        ("The form is slow.", False),
        ("Thanks, that answers it", False),
        ("when I click on the link I get this page", False),
    ],
)
def test_questions(text: str, question: bool) -> None:
    assert is_question(text) is question


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("We should write this up", True),
        ("Next time, bring the data", True),
        ("Action: Ana to email the wards", True),
        ("can someone send the link?", True),
        ("I'll share my notes", True),
        ("We shared a lot today", False),
        ("Lettuce is green", False),
    ],
)
def test_actions(text: str, action: bool) -> None:
    assert is_action(text) is action


class TestOnTheDashboard:
    def test_the_reports_page_links_each_session_and_its_pdf(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        client = project.client
        sign_in(client, project.key("read"))
        overview = client.get(f"/ui/p/{project.id}/")
        assert f'href="/ui/p/{project.id}/reports"' in overview.text
        listing = client.get(f"/ui/p/{project.id}/reports")
        assert "March circle" in listing.text and "April circle" in listing.text
        page = client.get(f"/ui/p/{project.id}/sessions/{ids[0]}/report")
        assert page.headers["content-type"].startswith("text/html")
        assert "Back to the dashboard" in page.text and UNANSWERED in page.text
        pdf = client.get(f"/ui/p/{project.id}/sessions/{ids[0]}/report", params={"format": "pdf"})
        assert pdf.content.startswith(b"%PDF")

    def test_a_period_by_day_and_a_missing_session_in_plain_words(
        self, circle: tuple[ProjectHandle, list[int]]
    ) -> None:
        project, ids = circle
        client = project.client
        sign_in(client, project.key("read"))
        april = client.get(f"/ui/p/{project.id}/report", params={"since": "2026-04-01"})
        assert april.status_code == 200 and "since 01 April 2026" in april.text
        assert UNANSWERED not in april.text
        missing = client.get(f"/ui/p/{project.id}/sessions/{max(ids) + 100}/report")
        assert missing.status_code == 404
        assert "There is nothing here, or it belongs to another project." in missing.text
