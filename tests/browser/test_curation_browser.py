"""The theme page's curation controls in a real browser, with a screenshot to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import expect

from app.config import Settings
from tests.app.curation_data import CurationEmbedder, add, analyse, keys_by_topic
from tests.browser.conftest import LiveServer, Watched, serving
from tests.browser.test_overview_theme_browser import signed_in
from tests.conftest import make_project


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    served = settings.model_copy(update={"data_dir": str(tmp_path / "data")})
    with serving(served, CurationEmbedder()) as server:
        yield server


def test_a_convenor_renames_merges_and_undoes_on_the_theme_page(
    live_server: LiveServer, watched: Watched
) -> None:
    project = make_project(cast(Any, live_server.client))
    for topic in ("beds", "staff", "records", "food", "parking"):
        add(project, topic, 0, 20)
    analyse(project, n_themes=4)
    keys = keys_by_topic(project)
    page = watched.page
    signed_in(page, live_server, project.key("write"))

    page.goto(f"{live_server.url}/ui/p/{project.id}/themes/{keys['care']}")
    page.fill("#curate-label", "Beds and staffing")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1")).to_contain_text("Beds and staffing")
    expect(page.locator("[data-machine-label]")).to_be_visible()
    page.get_by_role("button", name="Pin: keep it a theme of its own").click()
    expect(page.locator("h1 .badge")).to_contain_text("pinned")

    page.goto(f"{live_server.url}/ui/p/{project.id}/themes/{keys['food']}")
    page.select_option("#merge-with", keys["parking"])
    page.fill("#merge-label", "Visiting")
    page.get_by_role("button", name="Merge").click()
    expect(page.locator("h1")).to_contain_text("Visiting")
    expect(page.locator(".curation-note").first).to_contain_text("merged by a curation edit")
    watched.screenshot("curation-theme-merged")

    page.goto(f"{live_server.url}/ui/p/{project.id}/themes/{keys['care']}")
    expect(page.locator('tr[data-status="applied"]')).to_have_count(2)
    watched.screenshot("curation-theme-renamed")
    page.locator('tr[data-status="applied"]').first.get_by_role("button", name="Undo").click()
    expect(page.locator('tr[data-status="undone"]')).to_have_count(1)
