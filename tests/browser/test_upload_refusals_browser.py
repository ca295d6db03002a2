"""A crafted spreadsheet sent from the upload screen is refused in words a convenor can act on."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tests.browser.conftest import LiveServer, Watched
from tests.conftest import make_project
from tests.pipelines.ingest.crafted_xlsx import huge_dimension, shared_strings_bomb

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("huge-dimension", huge_dimension, "save the sheet as CSV"),
        ("shared-strings-bomb", shared_strings_bomb, "more than 200 times its packed size"),
    ],
)
def test_a_crafted_spreadsheet_fails_fast_and_says_why(
    live_server: LiveServer, watched: Watched, name: str, make: Any, words: str
) -> None:
    project = make_project(cast(Any, live_server.client))
    page = watched.page
    page.goto(f"{live_server.url}/ui/sign-in?next=/ui/p/{project.id}/upload")
    page.fill("#key", project.admin_key)
    page.click("button[type=submit]")
    page.check("#as-file")
    page.set_input_files("#file", {"name": f"{name}.xlsx", "mimeType": XLSX, "buffer": make()})
    page.click("#send")
    # the job fails in seconds, where it used to hold the only job thread for minutes
    page.wait_for_selector("#upload-error:not([hidden])", timeout=20_000)
    error = page.inner_text("#upload-error")
    assert words in error, error
    assert "internal error" not in error.lower()
    watched.screenshot(f"upload-refused-{name}")
    # nothing was stored from it
    listed = live_server.client.get(
        f"/v1/projects/{project.id}/narratives",
        headers={"Authorization": f"Bearer {project.admin_key}"},
    )
    assert listed.json()["total"] == 0
