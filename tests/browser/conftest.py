"""A live Weft on loopback and headless Chromium (Debian's) driven by Playwright.

Every page a test opens is watched: a console error, an uncaught exception or a request to
anywhere but the test server fails the test. Screenshots go to `.screenshots/` (git-ignored).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, Request, Route, sync_playwright

from app.config import Settings
from app.main import create_app
from bench.harness import CHROMIUM_FLAGS, chromium_path
from pipelines.embed import Embedder
from tests.conftest import ROOT, CountingEmbedder, free_port

SCREENSHOTS = ROOT / ".screenshots"

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a browser test (`-m "not browser"` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    client: httpx.Client


@contextmanager
def serving(settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    """The app served by uvicorn on a loopback port, with `embedder`."""
    app = create_app(settings, embedder=embedder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    # data is seeded through the API of the same server, over HTTP
    client = httpx.Client(base_url=url, timeout=60)
    try:
        yield LiveServer(url=url, client=client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """The app on loopback with the fake embedder and its own data directory."""
    served = settings.model_copy(update={"data_dir": str(tmp_path / "data")})
    with serving(served, CountingEmbedder()) as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
    )
    yield launched
    launched.close()


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def watched(browser: Browser, live_server: LiveServer) -> Iterator[Watched]:
    """A fresh browser context whose console and network are checked when the test ends."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = Watched(page=page)
    host = urlsplit(live_server.url).netloc

    def guard(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == host or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            found.outside_requests.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page.on(
        "console",
        lambda msg: found.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: found.console_errors.append(str(exc)))
    yield found
    context.close()
    assert found.outside_requests == [], "requests left the machine"
    assert found.console_errors == [], "the page logged errors"
