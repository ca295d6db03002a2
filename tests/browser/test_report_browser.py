"""A session's report in a real browser: reached from the overview, read, and its PDF."""

from __future__ import annotations

from typing import Any, cast

from playwright.sync_api import expect

from tests.app.test_report import UNANSWERED, _chat
from tests.browser.conftest import LiveServer, Watched
from tests.browser.test_overview_theme_browser import signed_in
from tests.conftest import ProjectHandle, auth, make_project, wait_for_job


def seeded(live_server: LiveServer) -> tuple[ProjectHandle, int]:
    """One session's chat with a question nobody answered, analysed."""
    project = make_project(cast(Any, live_server.client))
    data = _chat(["beds", "staffing", "records"], [("Ana", UNANSWERED)])
    posted = live_server.client.post(
        project.url("/sessions"),
        files={"file": ("chat.txt", data)},
        data={"name": "March circle", "held_on": "2026-03-04"},
        headers=auth(project.admin_key),
    )
    assert posted.status_code == 202, posted.text
    wait_for_job(project.client, project.admin_key, posted.json()["job"]["id"])
    queued = project.post("/analyses", {"n_themes": 3})
    job = wait_for_job(project.client, project.admin_key, queued.json()["job"]["id"], 180)
    assert job["status"] == "succeeded", job
    return project, int(posted.json()["session"]["id"])


def test_a_session_report_from_the_overview(live_server: LiveServer, watched: Watched) -> None:
    project, meeting = seeded(live_server)
    page = watched.page
    signed_in(page, live_server, project.key("read"))
    page.get_by_role("link", name="Reports of each session").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    watched.screenshot("reports")
    page.get_by_role("row", name="March circle").get_by_role("link", name="Read").click()
    assert page.url.endswith(f"/ui/p/{project.id}/sessions/{meeting}/report")
    for heading in ("What?", "So what?", "Now what?", "Also raised"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("#now-what")).to_contain_text(UNANSWERED)
    expect(page.locator("figure.chart svg rect")).not_to_have_count(0)
    watched.screenshot("report-session")
    href = page.get_by_role("link", name="Download as PDF").get_attribute("href")
    pdf = page.request.get(live_server.url + (href or ""))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()


def test_a_period_with_the_dates_swapped_says_what_to_do(
    live_server: LiveServer, watched: Watched
) -> None:
    project, _ = seeded(live_server)
    page = watched.page
    signed_in(page, live_server, project.key("read"))
    page.goto(f"{live_server.url}/ui/p/{project.id}/reports")
    page.fill("#since", "2026-05-01")
    page.fill("#until", "2026-03-01")
    page.get_by_role("button", name="Make the report").click()
    expect(page.locator("main")).to_contain_text("swap them")
    watched.screenshot("report-period-refused")
    # the refusal is a 422 page, which Chromium logs as a resource that failed to load
    expected = [e for e in watched.console_errors if "status of 422" in e]
    assert len(expected) == 1
    watched.console_errors.remove(expected[0])
