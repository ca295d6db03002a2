"""Signing in and out in a real browser."""

from __future__ import annotations

from typing import Any, cast

from tests.browser.conftest import LiveServer, Watched
from tests.conftest import make_project


def test_sign_in_shows_the_overview_and_sign_out_ends_it(
    live_server: LiveServer, watched: Watched
) -> None:
    project = make_project(cast(Any, live_server.client))
    page = watched.page
    page.goto(live_server.url + "/")
    assert page.url.endswith("/ui/sign-in")
    watched.screenshot("sign-in")
    page.fill("#key", "weft_wrong")
    page.click("button[type=submit]")
    assert "That key was not recognised" in page.inner_text("[role=alert]")
    page.fill("#key", project.admin_key)
    page.click("button[type=submit]")
    assert page.url.endswith(f"/ui/p/{project.id}/")
    assert "Care system CoP" in page.inner_text("h1")
    watched.screenshot("overview-empty")
    page.click("text=Sign out")
    assert page.url.endswith("/ui/sign-in")
    page.goto(f"{live_server.url}/ui/p/{project.id}/")
    assert "/ui/sign-in" in page.url
