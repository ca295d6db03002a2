"""The signifier explorer in a real browser, on the SenseMaker demonstration export."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, Watched

DEMO = Path("/work/shared/data/sensemaker_demo/raw_export")

pytestmark = pytest.mark.skipif(not DEMO.exists(), reason="the SenseMaker demo export is absent")


def _demo_project(live: LiveServer) -> dict[str, Any]:
    client = live.client
    made = client.post("/v1/projects", json={"name": "Safety stories"}).json()
    key = made["admin_key"]["key"]
    answer = client.post(
        f"/v1/projects/{made['id']}/uploads",
        headers={"Authorization": f"Bearer {key}"},
        files={
            "file": ("data.csv", (DEMO / "ADemo_Data.csv").read_bytes()),
            "definition": ("definition.json", (DEMO / "ADemo_Definition.json").read_bytes()),
        },
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()["job"]["id"]
    deadline = time.monotonic() + 30
    while client.get(f"/v1/jobs/{job}", headers={"Authorization": f"Bearer {key}"}).json()[
        "status"
    ] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return {"id": made["id"], "key": key}


def _open(live: LiveServer, watched: Watched, project: dict[str, Any]) -> None:
    page = watched.page
    page.goto(f"{live.url}/ui/sign-in?next=/ui/p/{project['id']}/signifiers")
    page.fill("#key", project["key"])
    page.click("button[type=submit]")
    page.wait_for_url(f"**/ui/p/{project['id']}/signifiers")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('A:')")


def test_the_explorer_draws_selects_a_region_and_compares(
    live_server: LiveServer, watched: Watched
) -> None:
    project = _demo_project(live_server)
    _open(live_server, watched, project)
    page = watched.page
    assert "A: 129 of 129 stories" in page.inner_text("#counts")
    assert page.locator(".plot-card .js-plotly-plot").count() >= 10
    assert "1\u201320 of 129" in page.inner_text("#stories-count")

    # a lasso on the first triangle: Plotly's own event, with the points it would carry
    card = page.locator('.plot-card[data-kind="triad"]').first
    chart_id = card.locator(".chart").get_attribute("id")
    page.evaluate(
        """(id) => {
            const div = document.getElementById(id);
            const trace = div.data.find((t) => t.name === "A");
            const points = trace.customdata.slice(0, 12).map((c) => ({customdata: c, data: trace}));
            div.emit("plotly_selected", {points});
        }""",
        chart_id,
    )
    page.wait_for_function("document.getElementById('stories-count').textContent.endsWith('of 12')")
    assert "A: 12 of 129 stories" in page.inner_text("#counts")
    assert page.locator("#story-list li a").count() == 12
    href = page.locator("#story-list li a").first.get_attribute("href")
    assert href is not None and href.startswith(f"/ui/p/{project['id']}/narratives/")
    assert page.locator("#group-a [data-region]").is_visible()

    # the table of that chart, instead of the chart
    toggle = card.locator("[data-toggle-table]")
    toggle.click()
    assert card.locator("table").is_visible() and not card.locator(".chart").is_visible()
    assert "Centre:" in card.locator("table").inner_text()
    toggle.click()
    assert card.locator(".chart").is_visible()

    page.click("[data-clear-region]")
    page.wait_for_function(
        "document.getElementById('stories-count').textContent.endsWith('of 129')"
    )

    # A: negative stories, against everyone else
    page.select_option("#a-answer", label="negative")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('A: 39 ')")
    page.click("#compare")
    page.wait_for_selector("#compare-table")
    results = page.inner_text("#compare-results")
    assert "permutations" in results and "Clear difference" in results
    watched.screenshot("signifiers")


def test_tab_order_follows_the_filters(live_server: LiveServer, watched: Watched) -> None:
    project = _demo_project(live_server)
    _open(live_server, watched, project)
    page = watched.page
    page.focus("#a-answer")
    order = ["a-answer"]
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.name"))
    # the theme filter is disabled before the first analysis, B's filters until B is chosen
    assert order == ["a-answer", "a-attribute", "use-b", "target", "compare"]
