"""Session and project reports of a real class: the seven Fab Academy 2020 chats of the
shared data, posted in course order and analysed with the packaged model. Built once for
the module (marker `reports`, left out of the PostgreSQL pass: it tests reading, not the
store)."""

from __future__ import annotations

import html
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.config import Settings
from app.main import create_app
from pipelines.embed import SentenceTransformerEmbedder
from tests.app.test_themes import analyse
from tests.conftest import ROOT, ProjectHandle, alembic_config, auth, make_project, wait_for_job

pytestmark = [pytest.mark.reports, pytest.mark.slow]


def _shared_chats() -> Path:
    base = os.environ.get("WEFT_SHARED_DATA")
    root = Path(base) if base else ROOT.parent / "shared" / "data"
    return root / "zoom_chats" / "fab_academy_2020"


CHATS = _shared_chats()
#: Course order; the files hold clock times only, so each is posted with a date.
SESSIONS = [
    ("8-wednesday", "2020-03-18"),
    ("8-thursday", "2020-03-19"),
    ("9-monday", "2020-03-23"),
    ("9-wednesday", "2020-03-25"),
    ("9-thursday", "2020-03-26"),
    ("10-wednesday", "2020-04-01"),
    ("10-thursday", "2020-04-02"),
]
ARTEFACTS = ROOT / ".screenshots" / "report"

if not CHATS.is_dir():
    pytest.skip(
        "the Fab Academy chats of the shared data are not here (set WEFT_SHARED_DATA)",
        allow_module_level=True,
    )


class Fab:
    def __init__(self, project: ProjectHandle, sessions: dict[str, int]) -> None:
        self.project = project
        self.sessions = sessions
        self.pages: dict[tuple[str, str], Any] = {}

    def report(self, name: str, fmt: str = "html") -> Any:
        """The session's report, fetched once per format for the module."""
        if (name, fmt) not in self.pages:
            path = f"/sessions/{self.sessions[name]}/report"
            self.pages[(name, fmt)] = self.project.get(path, format=fmt)
        return self.pages[(name, fmt)]


@pytest.fixture(scope="module")
def fab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fab]:
    """The seven sessions posted in course order to a database of the module's own."""
    root = tmp_path_factory.mktemp("fab")
    url = f"sqlite:///{root / 'fab.db'}"
    command.upgrade(alembic_config(url), "head")
    settings = Settings(database_url=url, data_dir=str(root / "var"), auto_analyze=False)
    with TestClient(create_app(settings, embedder=SentenceTransformerEmbedder())) as client:
        project = make_project(client, "Fab Academy 2020")
        sessions: dict[str, int] = {}
        for name, held_on in SESSIONS:
            posted = client.post(
                project.url("/sessions"),
                files={"file": (f"{name}.txt", (CHATS / f"{name}.txt").read_bytes())},
                data={"name": name, "held_on": held_on, "timezone": "UTC"},
                headers=auth(project.admin_key),
            )
            assert posted.status_code == 202, posted.text
            job = wait_for_job(client, project.admin_key, posted.json()["job"]["id"], 60)
            assert job["status"] == "succeeded", job
            sessions[name] = int(posted.json()["session"]["id"])
        # a project's jobs run one at a time: the analysis starts after the embedding
        analyse(project)
        yield Fab(project, sessions)


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)


def _save(name: str, body: bytes) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / name).write_bytes(body)


def _top_labels(fab: Fab, name: str) -> list[str]:
    themes = fab.project.get("/themes", session_id=fab.sessions[name], limit=3).json()
    return [t["label"] for t in themes["themes"] if t["size"] >= 3]


class TestSessionReportPage:
    def test_every_session_has_a_page_with_the_four_sections(self, fab: Fab) -> None:
        for name, _ in SESSIONS:
            page = fab.report(name)
            assert page.status_code == 200, page.text
            assert page.headers["content-type"].startswith("text/html")
            for heading in ("What?", "So what?", "Now what?", "Also raised", "About this report"):
                assert heading in page.text, (name, heading)
            _save(f"{name}.html", page.content)

    def test_top_themes_are_listed_with_quotes(self, fab: Fab) -> None:
        page = fab.report("8-wednesday").text
        labels = _top_labels(fab, "8-wednesday")
        assert labels
        for label in labels:
            assert label.replace("'", "&#39;") in page
        assert page.count("<blockquote>") >= 2

    def test_the_first_session_has_nothing_to_compare_with(self, fab: Fab) -> None:
        assert "first session of the project" in fab.report("8-wednesday").text

    def test_later_sessions_are_compared_with_the_one_before(self, fab: Fab) -> None:
        page = fab.report("8-thursday").text
        assert "Compared with the previous session, 8-wednesday" in page
        assert "<strong>New:</strong>" in page and "<strong>Went quiet:</strong>" in page

    def test_questions_without_a_reply_are_under_now_what(self, fab: Fab) -> None:
        page = fab.report("8-wednesday").text
        now_what = page[page.index("Now what?") : page.index("Also raised")]
        # asked at 16:25 in the chat, and no message is stored as a reply to it
        assert "Which programmer did you make?" in now_what
        assert "records no replies" in now_what

    def test_private_messages_are_counted_never_shown(self, fab: Fab) -> None:
        pages = [fab.report(name).text for name, _ in SESSIONS]
        assert any("private messages are never stored (" in p for p in pages)
        assert all("(Privately)" not in p and "(privately)" not in p for p in pages)


class TestSessionReportPdf:
    def test_pdf_holds_the_top_themes_and_a_quote(self, fab: Fab) -> None:
        answer = fab.report("8-wednesday", "pdf")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.content.startswith(b"%PDF")
        _save("8-wednesday.pdf", answer.content)
        text = " ".join(_pdf_text(answer.content).split())
        for label in _top_labels(fab, "8-wednesday"):
            assert label in text
        page = fab.report("8-wednesday").text
        quote = page[page.index("<blockquote>") + len("<blockquote>") :].split("</blockquote>")[0]
        assert html.unescape(quote)[:40] in text

    def test_pdf_pages_are_a4(self, fab: Fab) -> None:
        reader = PdfReader(io.BytesIO(fab.report("9-wednesday", "pdf").content))
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)


class TestProjectReport:
    def test_the_whole_class_by_session(self, fab: Fab) -> None:
        page = fab.project.get("/report")
        assert page.status_code == 200
        assert "by session" in page.text
        for name, _ in SESSIONS:
            assert name in page.text
        _save("project.html", page.content)

    def test_a_period_is_compared_with_the_time_before(self, fab: Fab) -> None:
        page = fab.project.get(
            "/report", since="2020-03-23T00:00:00Z", until="2020-04-03T00:00:00Z"
        ).text
        assert "Compared with the same length of time before it" in page
        assert "8-wednesday" not in page

    def test_project_pdf(self, fab: Fab) -> None:
        answer = fab.project.get("/report", format="pdf")
        assert answer.content.startswith(b"%PDF")
        _save("project.pdf", answer.content)
