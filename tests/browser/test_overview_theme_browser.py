"""The overview, a theme's page and a story's page in a real browser."""

from __future__ import annotations

from typing import Any, cast

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, Watched
from tests.conftest import ProjectHandle, make_project, wait_for_job
from tests.ui.test_overview_theme import GROUPS, ROLES

SITES = ("North", "South")


def seeded(live_server: LiveServer) -> ProjectHandle:
    """A project of 60 stories in three groups, with a role, a site and a date, analysed."""
    project = make_project(cast(Any, live_server.client))
    items = [
        {
            "text": f"{text} ({i})",
            "author": f"Person {i % 5}",
            "occurred_at": f"2026-0{1 + i % 3}-1{g}T10:00:00Z",
            "attributes": {"role": ROLES[i % 3], "site": SITES[(i + g) % 2]},
        }
        for g, text in enumerate(GROUPS.values())
        for i in range(20)
    ]
    posted = project.post("/narratives", {"narratives": items})
    assert posted.status_code == 201, posted.text
    wait_for_job(project.client, project.admin_key, posted.json()["job"]["id"])
    queued = project.post("/analyses", {"n_themes": 3})
    job = wait_for_job(project.client, project.admin_key, queued.json()["job"]["id"], 180)
    assert job["status"] == "succeeded", job
    return project


def signed_in(page: Page, live_server: LiveServer, key: str) -> None:
    page.goto(live_server.url + "/ui/sign-in")
    page.fill("#key", key)
    page.click("button[type=submit]")


def test_the_overview_lists_themes_and_its_table_toggles(
    live_server: LiveServer, watched: Watched
) -> None:
    project = seeded(live_server)
    page = watched.page
    signed_in(page, live_server, project.key("read"))
    assert page.url.endswith(f"/ui/p/{project.id}/")
    expect(page.locator("#themes-chart tbody tr")).to_have_count(3)
    expect(page.locator("#themes-chart svg.spark")).to_have_count(3)
    watched.screenshot("overview")
    toggle = page.locator('[data-toggle-table="themes-table"]')
    toggle.click()
    expect(page.locator("#themes-table")).to_be_visible()
    expect(page.locator("#themes-chart")).to_be_hidden()
    expect(page.locator("#themes-table thead th")).to_have_count(
        6
    )  # theme, stories, share, 3 months
    toggle.click()
    expect(page.locator("#themes-chart")).to_be_visible()


def test_the_theme_page_compares_groups_and_leads_to_similar_stories(
    live_server: LiveServer, watched: Watched
) -> None:
    project = seeded(live_server)
    page = watched.page
    signed_in(page, live_server, project.key("read"))
    page.locator("#themes-chart tbody a").first.click()
    assert "/themes/" in page.url

    chart, table = page.locator("#share-chart"), page.locator("#share-table")
    expect(chart).to_have_attribute("data-by", "attribute:role")
    expect(chart.locator("svg rect")).to_have_count(3)
    expect(table.locator("tbody th")).to_have_text(sorted(ROLES))
    expect(page.locator("#time-chart svg rect")).to_have_count(3)  # January to March

    page.select_option("#share-by", "attribute:site")
    expect(chart).to_have_attribute("data-by", "attribute:site")
    expect(chart.locator("svg rect")).to_have_count(2)
    expect(table.locator("tbody th")).to_have_text(list(SITES))
    expect(table.locator("caption")).to_contain_text("site group")

    toggle = page.locator('[data-toggle-table="share-table"]')
    toggle.click()
    expect(table).to_be_visible()
    expect(chart).to_be_hidden()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(chart).to_be_visible()

    # the controls in reading order: compare by, its table, over time, its table
    page.focus("#share-by")
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.dataset.toggleTable")
        )
    assert order == ["share-table", "time-by", "time-table"]
    watched.screenshot("theme")

    quote = page.locator(".quotes li").first
    story = quote.locator("blockquote").inner_text().strip("“”")
    quote.locator("a.more").click()
    assert "/narratives/" in page.url and page.url.endswith("#similar")
    expect(page.locator("blockquote.story")).to_have_text(story.rstrip("…"))
    expect(page.locator("#similar + ul.quotes li")).to_have_count(6)
    watched.screenshot("narrative")
