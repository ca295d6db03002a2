"""The theme map in a real browser: drawn, hover, click, reload, table view, tab order."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from playwright.sync_api import Page, Route
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from models import Analysis, AnalysisStatus, Narrative, Theme, ThemeAssignment
from models.base import utcnow
from tests.browser.conftest import LiveServer, Watched
from tests.conftest import ProjectHandle, make_project, wait_for_job

THEMES = (
    "Waiting for a bed",
    "Short-staffed nights",
    "Records that get lost",
    "Families kept informed",
)
ROLES = ("nurse", "manager", "porter")


def _seed(live_server: LiveServer, engine: Engine, n: int = 300) -> ProjectHandle:
    """A project of `n` stories, and an analysis stored directly: four themes in blobs, one
    story in seven fitting none (the fake embedder has no topics for clustering to find)."""
    client = cast(Any, live_server.client)
    project = make_project(client)
    items = [
        {
            "text": f"Story {i}: {THEMES[i % 4].lower()} was what the shift was about.",
            "external_id": f"s-{i}",
            "attributes": {"role": ROLES[i % 3]},
            "occurred_at": f"2026-0{1 + i % 3}-15T10:00:00Z",
        }
        for i in range(n)
    ]
    stored = project.post("/narratives", {"narratives": items})
    assert stored.status_code == 201, stored.text
    wait_for_job(client, project.admin_key, stored.json()["job"]["id"])
    rng = np.random.default_rng(0)
    with Session(engine) as session, session.begin():
        ids = list(
            session.scalars(
                select(Narrative.id)
                .where(Narrative.project_id == project.id)
                .order_by(Narrative.id)
            )
        )
        analysis = Analysis(
            project_id=project.id,
            status=AnalysisStatus.succeeded,
            model_name="test/counting",
            narrative_count=n,
            theme_count=len(THEMES),
            finished_at=utcnow(),
        )
        session.add(analysis)
        session.flush()
        centres = [(0.7 * math.cos(a), 0.7 * math.sin(a)) for a in (0.3, 1.9, 3.4, 5.0)]
        themes = []
        for t, label in enumerate(THEMES):
            theme = Theme(
                analysis_id=analysis.id,
                key=f"t{t:08d}",
                label=label,
                size=sum(1 for i in range(n) if i % 4 == t and i % 7),
                x=centres[t][0],
                y=centres[t][1],
            )
            session.add(theme)
            session.flush()
            themes.append(theme.id)
        rows = []
        for i, narrative_id in enumerate(ids):
            fits = bool(i % 7)
            cx, cy = centres[i % 4] if fits else (0.0, 0.0)
            dx, dy = rng.normal(scale=0.12 if fits else 0.4, size=2)
            rows.append(
                {
                    "analysis_id": analysis.id,
                    "narrative_id": narrative_id,
                    "theme_id": themes[i % 4] if fits else None,
                    "probability": 0.9 if fits else 0.0,
                    "x": float(np.clip(cx + dx, -1, 1)),
                    "y": float(np.clip(cy + dy, -1, 1)),
                }
            )
        session.execute(insert(ThemeAssignment), rows)
    return project


def _sign_in(page: Page, live_server: LiveServer, key: str) -> None:
    page.goto(live_server.url + "/ui/sign-in")
    page.fill("#key", key)
    page.click("button[type=submit]")


#: A coloured pixel of the canvas (a theme's point, not grey, ink or white), in CSS pixels.
FIND_POINT = """() => {
  const canvas = document.getElementById("map-canvas");
  const ratio = canvas.width / canvas.clientWidth;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let coloured = 0, found = null;
  for (let p = 0; p < pixels.length; p += 4) {
    const r = pixels[p], g = pixels[p + 1], b = pixels[p + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 90) {
      coloured += 1;
      const x = (p / 4) % canvas.width, y = Math.floor(p / 4 / canvas.width);
      if (!found && x > 40 && y > 40) found = { x: x / ratio + 0.5, y: y / ratio + 0.5 };
    }
  }
  return { coloured, found };
}"""


def test_the_map_draws_hovers_opens_and_reloads_the_same(
    live_server: LiveServer, watched: Watched, engine: Engine
) -> None:
    project = _seed(live_server, engine)
    page = watched.page
    # the story's own page belongs to another screen: answer it here, so only the URL counts
    page.route(
        "**/narratives/*",
        lambda route: cast(Route, route).fulfill(
            status=200, content_type="text/html", body="<title>story</title><p>story</p>"
        ),
    )
    _sign_in(page, live_server, project.key("read"))
    map_url = f"{live_server.url}/ui/p/{project.id}/map"
    page.goto(map_url)
    page.wait_for_selector("#map-canvas[data-drawn=true]")
    assert page.evaluate("performance.getEntriesByName('weft-map-drawn').length") == 1
    pixels = page.evaluate(FIND_POINT)
    assert pixels["coloured"] > 1000 and pixels["found"], pixels
    for label in THEMES:
        assert label in page.inner_text(".map-legend")
    watched.screenshot("map")

    # hovering a point shows its story, fetched for that point
    box = page.locator("#map-canvas").bounding_box()
    assert box is not None
    x, y = box["x"] + pixels["found"]["x"], box["y"] + pixels["found"]["y"]
    page.mouse.move(x, y)
    page.wait_for_function(
        "() => !document.getElementById('map-tip').hidden && "
        "!document.querySelector('.map-tip-text').textContent.startsWith('Loading')"
    )
    story = int(page.get_attribute("#map-tip", "data-id") or 0)
    text = project.get(f"/narratives/{story}").json()["text"]
    assert page.inner_text(".map-tip-text") == text
    assert page.inner_text("#map-tip strong") in THEMES
    watched.screenshot("map-hover")

    # reload: the same data and the same picture
    points_url = f"/ui/api/p/{project.id}/map/points"
    fetch = f"async () => await (await fetch('{points_url}')).text()"
    picture = "() => document.getElementById('map-canvas').toDataURL()"
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    first_data, first_picture = page.evaluate(fetch), page.evaluate(picture)
    page.reload()
    page.wait_for_selector("#map-canvas[data-drawn=true]")
    assert page.evaluate(fetch) == first_data
    assert page.evaluate(picture) == first_picture

    # a click opens the story
    page.mouse.click(x, y)
    page.wait_for_url(f"**/ui/p/{project.id}/narratives/{story}")


def test_filters_table_view_and_tab_order(
    live_server: LiveServer, watched: Watched, engine: Engine
) -> None:
    project = _seed(live_server, engine, n=120)
    page = watched.page
    _sign_in(page, live_server, project.key("read"))
    page.goto(f"{live_server.url}/ui/p/{project.id}/map")
    page.wait_for_selector("#map-canvas[data-drawn=true]")

    # Tab walks the filters in order, then the table toggle
    page.focus("main")
    order: list[str] = []
    for _ in range(25):
        page.keyboard.press("Tab")
        current = page.evaluate("document.activeElement.id")
        if current and (not order or order[-1] != current):
            order.append(current)
        if current == "map-toggle":
            break
    assert order == [
        "map-group",
        "map-session",
        "map-since",
        "map-until",
        "map-apply",
        "map-toggle",
    ]

    # the table view lists the themes with counts, and the first stories
    page.keyboard.press("Enter")
    assert page.is_hidden("#map-chart") and page.is_visible("#map-table")
    rows = page.locator("#map-table table").first.locator("tbody tr")
    assert rows.count() == len(THEMES) + 1
    assert page.get_attribute("#map-toggle", "aria-pressed") == "true"
    watched.screenshot("map-table")
    page.click("#map-toggle")
    assert page.is_visible("#map-chart")

    # a group filter, applied by the server, narrows the map
    page.select_option("#map-group", "role:nurse")
    page.click("#map-apply")
    page.wait_for_selector("#map-canvas[data-drawn=true]")
    assert "attribute=role%3Anurse" in page.url
    assert "Showing 40 stories" in page.inner_text("#map-summary")
