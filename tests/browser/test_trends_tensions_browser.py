"""The trends and tensions screens in a real browser: charts, their tables, filters, tab order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import Page

from app.config import Settings
from tests.app.test_tensions import SIGNIFIERS, planted
from tests.app.test_themes import TopicEmbedder, analyse
from tests.app.test_trends import plan_corpus
from tests.browser.conftest import LiveServer, Watched, serving
from tests.conftest import ProjectHandle, make_project, wait_for_job


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """As the shared fixture, but with known themes (TopicEmbedder) and quick signals."""
    served = settings.model_copy(
        update={"data_dir": str(tmp_path / "data"), "signals_permutations": 199}
    )
    with serving(served, TopicEmbedder()) as server:
        yield server


def seeded(live_server: LiveServer, items: list[dict[str, Any]], **body: Any) -> ProjectHandle:
    project = make_project(cast(Any, live_server.client))
    if body:
        assert project.post("/signifiers", body).status_code == 200
    response = project.post("/narratives", {"narratives": items})
    assert response.status_code == 201, response.text
    wait_for_job(project.client, project.admin_key, response.json()["job"]["id"])
    analyse(project)
    return project


def theme_named_by(project: ProjectHandle, keyword: str) -> str:
    """The name of the theme whose keywords hold `keyword`."""
    themes = project.get("/themes").json()["themes"]
    return next(t["label"] for t in themes if keyword in [k["term"] for k in t["keywords"]])


def sign_in(page: Page, live_server: LiveServer, key: str) -> None:
    page.goto(live_server.url + "/ui/sign-in")
    page.fill("#key", key)
    page.click("button[type=submit]")


def tab_order(page: Page, first: str, count: int) -> list[str]:
    """The ids (or names) focus visits from `first`, pressing Tab `count` times."""
    page.focus(first)
    visited = []
    for _ in range(count):
        page.keyboard.press("Tab")
        visited.append(
            page.evaluate(
                "() => document.activeElement.id || document.activeElement.name || "
                "document.activeElement.dataset.toggleTable"
            )
        )
    return visited


def headers(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#trend-table thead th", "cells => cells.map(c => c.textContent)"
    )


def test_trends_redraw_on_a_new_by_with_their_table(
    live_server: LiveServer, watched: Watched
) -> None:
    project = seeded(live_server, plan_corpus())
    page = watched.page
    sign_in(page, live_server, project.key("read"))
    page.goto(f"{live_server.url}/ui/p/{project.id}/trends")
    page.wait_for_selector("#trend-chart .main-svg")
    assert headers(page) == ["Theme", "manager", "nurse"]
    assert page.evaluate("document.getElementById('trend-chart').data[0].type") == "heatmap"
    words = page.inner_text("#distinctive")
    staffing = theme_named_by(project, "agency")
    assert f"People with role “nurse” talk about “{staffing}” more than others" in words
    assert page.is_hidden("#readings-section") and page.is_hidden("#view-choice")
    watched.screenshot("trends")

    # the controls in order: compare by, crossing, level, then show, then the table toggle
    assert tab_order(page, "#by", 4) == ["cross", "level", "trend-show", "trend-table"]

    page.select_option("#by", "attribute:trust")
    page.wait_for_function(
        "() => document.querySelector('#trend-table thead th:nth-child(2)')"
        "?.textContent === 'North'"
    )
    assert page.evaluate("document.getElementById('trend-chart').data[0].x")[0].startswith("North")
    assert "People with trust “North”" in page.inner_text("#distinctive")
    assert "by=attribute%3Atrust" in page.url

    toggle = page.locator('[data-toggle-table="trend-table"]')
    toggle.click()
    assert page.is_visible("#trend-table") and page.is_hidden("#trend-chart")
    assert toggle.get_attribute("aria-pressed") == "true"
    assert toggle.inner_text() == "Show chart"
    toggle.click()
    assert page.is_hidden("#trend-table") and page.is_visible("#trend-chart")

    page.select_option("#by", "period:month")
    page.wait_for_selector("#readings-section:not([hidden])")
    assert page.is_visible("#view-choice")
    assert "▲ rising" in page.inner_text("#readings")
    page.check('input[name="view"][value="lines"]')
    page.wait_for_selector("#trend-chart .multiple .main-svg")
    themes = page.evaluate("JSON.parse(document.getElementById('trend-data').textContent)")
    assert page.locator("#trend-chart .multiple").count() == len(themes["themes"])
    assert "view=lines" in page.url
    watched.screenshot("trends-lines")


def test_tensions_list_flagged_signals_and_filter(
    live_server: LiveServer, watched: Watched
) -> None:
    project = seeded(live_server, planted(), signifiers=SIGNIFIERS)
    page = watched.page
    sign_in(page, live_server, project.key("read"))
    page.goto(f"{live_server.url}/ui/p/{project.id}/tensions")
    first = page.locator("article.signal.flagged").first
    assert "Some say" in first.inner_text() and "Others say" in first.inner_text()
    watched.screenshot("tensions")

    assert tab_order(page, "#kind", 4) == ["theme", "attribute", "flagged_only", "filter-go"]

    page.select_option("#kind", "group_divergence")
    page.click("#filter-go")
    page.wait_for_url("**kind=group_divergence**")
    kinds = page.locator("article.signal .badge").all_text_contents()
    assert kinds and set(kinds) == {"Groups disagree"}
    others = page.locator("details.other")
    if others.count():
        others.first.locator("summary").click()
        assert others.first.locator("article.signal").is_visible()
