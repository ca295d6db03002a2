"""Uploading a meeting's chat from the upload screen, in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from tests.browser.conftest import LiveServer, Watched
from tests.conftest import make_project

CHAT = Path("/work/shared/data/zoom_chats/fab_academy_2020/10-thursday.txt")
SYNTHETIC = (
    b"10:00:05\t From  Ana Duarte : Welcome back; today we review the new booking rule.\n"
    b"10:01:10\t From  Chidi Eze : The new booking rule cut the waits by half.\n"
    b"10:01:40\t From  Dana Morrow to Ana Duarte(Privately) : my camera is broken\n"
    b"10:02:00\t From  Chidi Eze : thanks!\n"
)


def chat_bytes() -> bytes:
    return CHAT.read_bytes() if CHAT.is_file() else SYNTHETIC


def test_a_meeting_chat_uploaded_from_the_page_ends_with_its_report(
    live_server: LiveServer, watched: Watched
) -> None:
    project = make_project(cast(Any, live_server.client))
    page = watched.page
    page.goto(f"{live_server.url}/ui/sign-in?next=/ui/p/{project.id}/upload")
    page.fill("#key", project.admin_key)
    page.click("button[type=submit]")
    assert page.url.endswith(f"/ui/p/{project.id}/upload")
    assert page.is_visible("#session-fields") and page.is_hidden("#file-fields")

    # the main controls in order; a date or time input takes several Tab presses
    page.focus("#as-session")
    order: list[str] = []
    for _ in range(14):
        current = page.evaluate("document.activeElement.id")
        if not order or order[-1] != current:
            order.append(current)
        page.keyboard.press("Tab")
    assert order[:7] == ["as-session", "file", "name", "held_on", "started", "timezone", "send"]

    # a file of narratives asks for other things
    page.check("#as-file")
    assert page.is_visible("#file-fields") and page.is_hidden("#session-fields")
    watched.screenshot("upload-file-kind")
    page.check("#as-session")
    watched.screenshot("upload")

    page.set_input_files(
        "#file",
        {"name": "meeting_saved_chat.txt", "mimeType": "text/plain", "buffer": chat_bytes()},
    )
    page.fill("#name", "Fab Academy, week 10")
    page.fill("#held_on", "2020-04-02")
    page.click("#send")
    page.wait_for_selector("#upload-report:not([hidden])", timeout=20_000)
    assert page.is_hidden("#upload-form")
    status = page.inner_text("#progress-status")
    assert status.startswith("Done") and "new stor" in status
    stages = page.eval_on_selector_all(".stage", "rows => rows.map(r => r.dataset.status)")
    assert stages == ["done", "done", "done", "skipped"]
    report = page.inner_text("#upload-report")
    assert "New stories stored" in report and "Private messages: never stored" in report
    assert "no themes yet" in report.lower()
    assert "source=" in page.url
    watched.screenshot("upload-done")

    # the address now names the upload: a reload shows its report again
    page.reload()
    page.wait_for_selector("#upload-report:not([hidden])", timeout=10_000)
    assert page.is_visible("#recent-uploads")
    watched.screenshot("upload-reloaded")


def test_a_chat_sent_as_a_file_of_narratives_says_what_to_choose(
    live_server: LiveServer, watched: Watched
) -> None:
    project = make_project(cast(Any, live_server.client))
    page = watched.page
    page.goto(f"{live_server.url}/ui/sign-in?next=/ui/p/{project.id}/upload")
    page.fill("#key", project.admin_key)
    page.click("button[type=submit]")
    page.set_input_files(
        "#file", {"name": "chat.txt", "mimeType": "text/plain", "buffer": SYNTHETIC}
    )
    # a .txt is taken for a meeting's chat; the convenor insists it is a file of narratives
    assert page.is_checked("#as-session")
    page.check("#as-file")
    page.click("#send")
    page.wait_for_selector("#upload-error:not([hidden])", timeout=20_000)
    error = page.inner_text("#upload-error")
    assert "This looks like a meeting's chat or transcript" in error
    stages = page.eval_on_selector_all(".stage", "rows => rows.map(r => r.dataset.status)")
    assert stages == ["failed", "waiting", "waiting", "waiting"]
    watched.screenshot("upload-failed")

    # the form is back as it was sent: choose the meeting, name it, send it again
    assert page.is_visible("#upload-form") and page.is_hidden("#upload-another")
    page.check("#as-session")
    page.fill("#name", "Booking rule review")
    page.click("#send")
    page.wait_for_selector("#upload-report:not([hidden])", timeout=20_000)
    assert page.inner_text("#progress-status").startswith("Done: 3 new stories")
    assert page.is_hidden("#upload-error") and page.is_visible("#upload-another")
