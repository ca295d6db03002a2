"""The overview, theme and narrative pages, and their data endpoints, server side."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update

from app.schemas.signals import SignalExemplar, SignalRead
from app.services.dashboard import tensions_in_words
from models import (
    Analysis,
    AnalysisStatus,
    Job,
    JobStatus,
    MeetingSession,
    Narrative,
    ThemeLineage,
)
from models.base import utcnow
from tests.conftest import ProjectHandle, make_project, wait_for_job
from tests.ui.helpers import sign_in

GROUPS = {
    "beds": "No free beds on the ward tonight",
    "staff": "Nobody was there to cover the night rota",
    "records": "The records system crashed at handover",
}
ROLES = ("nurse", "manager", "porter")


def stories(per_group: int = 20) -> list[dict[str, Any]]:
    """Stories in three groups, with a role and a date in one of three months."""
    return [
        {
            "text": f"{text} ({i})",
            "author": f"Person {i % 5}",
            "occurred_at": f"2026-0{1 + i % 3}-1{g}T10:00:00Z",
            "attributes": {"role": ROLES[i % 3]},
        }
        for g, text in enumerate(GROUPS.values())
        for i in range(per_group)
    ]


def post_stories(project: ProjectHandle) -> list[int]:
    response = project.post("/narratives", {"narratives": stories()})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    return list(response.json()["narrative_ids"])


def analyse(project: ProjectHandle) -> None:
    response = project.post("/analyses", {"n_themes": 3})
    assert response.status_code == 202, response.text
    job = wait_for_job(project.client, project.admin_key, response.json()["job"]["id"], 180)
    assert job["status"] == "succeeded", job


def text_of(html: str) -> str:
    """The page's main content as text, one space between words."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest.fixture
def analysed(project: ProjectHandle) -> dict[str, Any]:
    ids = post_stories(project)
    analyse(project)
    themes = project.get("/themes").json()["themes"]
    return {"ids": ids, "themes": themes}


class TestEmptyStates:
    def test_an_empty_project_says_to_upload(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.key("read"))
        page = client.get(f"/ui/p/{project.id}/")
        assert page.status_code == 200
        assert "No stories yet" in page.text
        assert f'href="/ui/p/{project.id}/upload"' in page.text
        assert "Find themes now" not in page.text

    def test_stories_without_an_analysis_offer_one_to_a_write_key_only(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        post_stories(project)
        read_csrf = sign_in(client, project.key("read"))
        page = text_of(client.get(f"/ui/p/{project.id}/").text)
        assert "No themes yet" in page and "60 stories are in" in page
        assert "Ask someone with a write key" in page and "Find themes now" not in page
        refused = client.post(f"/ui/p/{project.id}/analyses", data={"csrf": read_csrf})
        assert refused.status_code == 403 and "read key" in refused.text
        assert project.get("/analyses").json() == []

        csrf = sign_in(client, project.key("write"))
        assert "Find themes now" in client.get(f"/ui/p/{project.id}/").text
        forged = client.post(f"/ui/p/{project.id}/analyses", data={"csrf": "forged"})
        assert forged.status_code == 403
        started = client.post(
            f"/ui/p/{project.id}/analyses", data={"csrf": csrf}, follow_redirects=False
        )
        assert (started.status_code, started.headers["location"]) == (303, f"/ui/p/{project.id}/")
        queued = project.get("/analyses").json()
        assert len(queued) == 1 and queued[0]["parameters"]["requested"]["n_themes"] is None
        wait_for_job(client, project.admin_key, queued[0]["job_id"], 180)

    def test_running_and_failed_analyses_are_said_in_words(
        self, client: TestClient, project: ProjectHandle, engine: Engine
    ) -> None:
        post_stories(project)
        sign_in(client, project.key("read"))
        with engine.begin() as conn:
            conn.execute(
                insert(Job).values(
                    id="job-running",
                    project_id=project.id,
                    kind="analyze",
                    status=JobStatus.running,
                    progress_done=4,
                    progress_total=10,
                    # another worker's, its lease live: no sweeper takes it back meanwhile
                    run_token="another-worker",
                    started_at=utcnow(),
                    lease_expires_at=utcnow() + timedelta(hours=1),
                )
            )
            conn.execute(
                insert(Analysis).values(
                    project_id=project.id,
                    status=AnalysisStatus.running,
                    model_name="test/counting",
                    job_id="job-running",
                )
            )
        page = text_of(client.get(f"/ui/p/{project.id}/").text)
        assert "Weft is working" in page and "Finding themes: 40%" in page
        assert "No themes yet" not in page
        progress = client.get(f"/ui/api/p/{project.id}/progress").json()
        assert progress == {
            "busy": True,
            "work": [
                {"kind": "analyze", "words": "Finding themes", "status": "running", "percent": 40}
            ],
        }
        with engine.begin() as conn:
            conn.execute(
                Job.__table__.update().values(status=JobStatus.failed, error="out of memory")
            )
            conn.execute(
                Analysis.__table__.update().values(
                    status=AnalysisStatus.failed, error="out of memory"
                )
            )
        page = text_of(client.get(f"/ui/p/{project.id}/").text)
        assert "failed: out of memory" in page and "Someone with a write key" in page
        assert client.get(f"/ui/api/p/{project.id}/progress").json()["busy"] is False

    def test_theme_and_shares_before_an_analysis_are_404_in_words(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        sign_in(client, project.admin_key)
        page = client.get(f"/ui/p/{project.id}/themes/t123")
        assert page.status_code == 404 and "There is no theme “t123”" in page.text
        data = client.get(f"/ui/api/p/{project.id}/themes/t123/shares", params={"by": "session"})
        assert data.status_code == 404
        assert data.headers["content-type"].startswith("application/problem+json")


class TestWithThemes:
    def test_the_overview_shows_counts_analysis_and_themes(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any], engine: Engine
    ) -> None:
        themes = analysed["themes"]
        with engine.begin() as conn:
            latest = conn.scalar(select(Analysis.id).where(Analysis.project_id == project.id))
            conn.execute(
                insert(ThemeLineage).values(
                    analysis_id=latest, kind="new", current_keys=[themes[0]["key"]]
                )
            )
        sign_in(client, project.key("read"))
        html = client.get(f"/ui/p/{project.id}/").text
        page = text_of(html)
        assert "60 stories" in page and "1 upload" in page and "sessions" not in page
        assert "You asked for 3 themes; it found 3" in page
        assert "No stories have arrived since, so no fresh analysis is needed" in page
        for theme in themes:
            assert f'href="/ui/p/{project.id}/themes/{theme["key"]}"' in html
        # one sparkline per theme, month by month, and the numbers behind them in a table
        assert html.count('class="spark"') == len(themes)
        assert "Month by month" in page and "January 2026" in page
        assert 'data-toggle-table="themes-table" data-chart="themes-chart"' in html
        assert re.search(r"<span class=\"badge\">new</span>\s*<a [^>]+>", html)
        assert "Find themes now" not in html and "Analyse all the stories again" not in html

    def test_what_is_left_out_is_counted_by_what_it_is(
        self, client: TestClient, project: ProjectHandle
    ) -> None:
        body = {"narratives": [*stories(4), {"text": "Did not answer"}]}
        response = project.post("/narratives", body)
        assert response.status_code == 201, response.text
        wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
        chat = (
            "10:00:01\t From Ana : thanks everyone!\n"
            "10:00:09\t From Ben : https://fabacademy.org/2020/schedule.html\n"
            "10:00:15\t From Cy : can you hear me?\n"
            "10:00:30\t From Ana : the laser cutter is booked until Friday\n"
        )
        sent = project.client.post(
            project.url("/sessions"),
            files={"file": ("meeting_saved_chat.txt", chat.encode())},
            data={"name": "Huddle"},
            headers={"Authorization": f"Bearer {project.admin_key}"},
        )
        assert sent.status_code == 202, sent.text
        wait_for_job(project.client, project.admin_key, sent.json()["job"]["id"])
        analyse(project)
        sign_in(client, project.key("read"))
        page = text_of(client.get(f"/ui/p/{project.id}/").text)
        # a survey's placeholder is not called a chat line; each kind is counted in words
        assert "4 stories and lines are left out of the themes: they say too little" in page
        assert "Placeholders instead of an answer (such as “Did not answer”): 1" in page
        assert "Pleasantries (such as “thanks!” or “+1”): 1" in page
        assert "Bare links: 1" in page
        assert "Lines about the call itself (such as “can you hear me?”): 1" in page
        assert "short chat lines" not in page
        assert "“Did not answer” (1)" in page and "“thanks everyone!” (1)" in page
        assert "as no answer or low content" not in page  # said once, not again as a note
        placeholder = response.json()["narrative_ids"][-1]
        story = text_of(client.get(f"/ui/p/{project.id}/narratives/{placeholder}").text)
        assert "It says too little to group (a placeholder instead of an answer)" in story

    def test_meeting_data_is_followed_session_by_session(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any], engine: Engine
    ) -> None:
        ids = analysed["ids"]
        with engine.begin() as conn:
            for n, held in enumerate(("2026-01-05", "2026-02-05")):
                session_id = conn.execute(
                    insert(MeetingSession)
                    .values(
                        project_id=project.id,
                        name=f"Huddle {n + 1}",
                        held_on=date.fromisoformat(held),
                    )
                    .returning(MeetingSession.id)
                ).scalar_one()
                conn.execute(
                    update(Narrative)
                    .where(Narrative.id.in_(ids[n::2]))
                    .values(session_id=session_id)
                )
            # stories never change session once stored; this one is moved by hand, so it
            # raises the analysis's revision as every change to its results does, and the
            # reads load the analysis's facts again
            conn.execute(
                update(Analysis)
                .where(Analysis.project_id == project.id)
                .values(revision=Analysis.revision + 1)
            )
        sign_in(client, project.key("read"))
        html = client.get(f"/ui/p/{project.id}/").text
        page = text_of(html)
        assert "2 sessions" in page and "Session by session" in page
        assert "Huddle 1 (2026-01-05)" in page and "Huddle 2 (2026-02-05)" in page
        key = analysed["themes"][0]["key"]
        theme = client.get(f"/ui/p/{project.id}/themes/{key}").text
        assert '<option value="session">Session by session</option>' in theme
        shares = client.get(
            f"/ui/api/p/{project.id}/themes/{key}/shares", params={"by": "session"}
        ).json()
        assert [r["total"] for r in shares["rows"]] == [30, 30]
        story = client.get(f"/ui/p/{project.id}/narratives/{ids[0]}").text
        assert "Huddle 1 (05 Jan 2026)" in story

    def test_the_theme_page_and_its_shares(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any]
    ) -> None:
        theme = analysed["themes"][0]
        sign_in(client, project.key("read"))
        html = client.get(f"/ui/p/{project.id}/themes/{theme['key']}").text
        page = text_of(html)
        assert theme["label"] in page and f"{theme['size']} stories" in page
        quotes = re.findall(r"<blockquote>“([^”]+)”</blockquote>", html)
        assert 3 <= len(quotes) <= 5
        assert all(any(q.startswith(t[:20]) for t in GROUPS.values()) for q in quotes)
        links = re.findall(rf'href="/ui/p/{project.id}/narratives/(\d+)#similar"', html)
        assert links and all(int(i) in analysed["ids"] for i in links)
        assert '<option value="attribute:role">role</option>' in html
        assert '<option value="period:month">Month by month</option>' in html
        assert "This is the first analysis to find it" in page

        url = f"/ui/api/p/{project.id}/themes/{theme['key']}/shares"
        by_role = client.get(url, params={"by": "attribute:role"}).json()
        assert [r["label"] for r in by_role["rows"]] == sorted(ROLES)
        assert sum(r["count"] for r in by_role["rows"]) == theme["size"]
        assert [r["total"] for r in by_role["rows"]] == [21, 21, 18]
        for row in by_role["rows"]:
            assert row["low"] <= row["share"] <= row["high"]
        assert by_role["overall"] == pytest.approx(theme["share"])
        by_month = client.get(url, params={"by": "period:month"}).json()
        assert [r["label"] for r in by_month["rows"]] == [
            "January 2026",
            "February 2026",
            "March 2026",
        ]
        unknown = client.get(url, params={"by": "attribute:site"})
        assert unknown.status_code == 404 and "site" in unknown.json()["detail"]
        assert client.get(url, params={"by": "colour"}).status_code == 422

    def test_an_unknown_theme_is_a_page_in_words(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any]
    ) -> None:
        sign_in(client, project.key("read"))
        page = client.get(f"/ui/p/{project.id}/themes/tnothere")
        assert page.status_code == 404
        assert "There is no theme “tnothere” in the latest analysis" in page.text
        assert "overview" in page.text

    def test_the_narrative_page(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any]
    ) -> None:
        sign_in(client, project.key("read"))
        story = project.get(f"/narratives/{analysed['ids'][0]}").json()
        html = client.get(f"/ui/p/{project.id}/narratives/{story['id']}").text
        page = text_of(html)
        assert story["text"] in page
        assert story["author"] in page and "(a pseudonym)" in page
        assert "Person 0" not in page  # authors are stored as pseudonyms
        assert "10 Jan 2026, 10:00 UTC" in page and "role nurse" in page
        theme_links = re.findall(rf'href="/ui/p/{project.id}/themes/(\w+)"', html)
        keys = {t["key"] for t in analysed["themes"]}
        keys |= {k["key"] for t in analysed["themes"] for k in t["children"]}
        assert theme_links and set(theme_links) <= keys
        similar = re.findall(rf'href="/ui/p/{project.id}/narratives/(\d+)">Read this story', html)
        assert len(similar) == 6 and str(story["id"]) not in similar
        missing = client.get(f"/ui/p/{project.id}/narratives/999999")
        assert missing.status_code == 404 and "narrative 999999 not found" in missing.text

    def test_another_projects_session_gets_404_everywhere(
        self, client: TestClient, project: ProjectHandle, analysed: dict[str, Any]
    ) -> None:
        other = make_project(client, name="Another council")
        csrf = sign_in(client, other.admin_key)
        key, story = analysed["themes"][0]["key"], analysed["ids"][0]
        base = f"/ui/p/{project.id}"
        api = f"/ui/api/p/{project.id}"
        for url in (
            f"{base}/",
            f"{base}/themes/{key}",
            f"{base}/narratives/{story}",
            f"{api}/progress",
            f"{api}/themes/{key}/shares?by=attribute:role",
        ):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "Care system CoP" not in response.text
        refused = client.post(f"{base}/analyses", data={"csrf": csrf})
        assert refused.status_code == 404


def signal(kind: str, exemplars: dict[str, list[int]], **fields: Any) -> SignalRead:
    return SignalRead(
        id=1,
        kind=kind,
        themes=[],
        subject=fields.get("subject"),
        attribute=fields.get("attribute"),
        strength=0.4,
        strength_name="x",
        flagged=fields.get("flagged", True),
        test=None,
        p_value=None,
        p_adjusted=None,
        correction=None,
        interval=None,
        evidence=fields.get("evidence", {}),
        exemplars={
            side: [SignalExemplar(id=i, snippet=f"quote {i}") for i in ids]
            for side, ids in exemplars.items()
        },
    )


def test_tensions_are_two_sides_with_a_quote_each() -> None:
    found = tensions_in_words(
        [
            signal("sentiment_summary", {"positive": [1], "negative": [2]}),
            signal(
                "dyad_polarised",
                {"left": [3, 4], "right": [5]},
                subject="steer",
                evidence={"poles": ["follow the plan", "work with emergence"]},
            ),
            signal("group_divergence", {"nurse": [6], "manager": [7]}, attribute="role"),
            signal("opposing_sides", {"a": [8], "b": []}, flagged=False),
            signal("dyad_shift", {"theme": [9]}),
        ]
    )
    assert [(t.heading, [(s.name, s.quote, s.narrative_id) for s in t.sides]) for t in found] == [
        (
            "Stories pull to both ends of “steer”",
            [("follow the plan", "quote 3", 3), ("work with emergence", "quote 5", 5)],
        ),
        (
            "Groups by role see it differently",
            [("role: nurse", "quote 6", 6), ("role: manager", "quote 7", 7)],
        ),
    ]
