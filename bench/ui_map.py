"""The theme map screen on 20,000 stories: first render in headless Chromium, data-call latency.

    nice .venv/bin/python -m bench.ui_map [--data ../shared/data] [--out bench/results/ui_map.json]
                                          [--reloads 5] [--calls 50] [--screenshot map.png]

The 20,000 StackOverflow titles of the shared data are posted to a throwaway project as
narratives (with their tag as the ``tag`` attribute and dates over six months). Embeddings are
the bench cache's all-MiniLM-L6-v2 vectors when the cache holds them, else a deterministic
hash embedder: the map reads only stored x/y, so the vectors do not change what is measured.
The analysis is then written directly (one theme per tag, each a blob around a point on a
ring, one story in twelve fitting none), which takes a second where clustering 20,000 would
take minutes; the map reads the same tables either way.

The app is served by uvicorn on a loopback port and Debian's Chromium (through Playwright,
the flags of the browser tests) signs in with a read key. Figures:

- **first render**: navigation start to ``performance.mark("weft-map-drawn")`` (set by
  ``map.js`` once the canvas is drawn), over ``--reloads`` loads of the map page; with the
  points call's own duration and size from the browser's resource timing;
- **data call**: ``GET /ui/api/p/{id}/map/points`` ``--calls`` times over HTTP (httpx, the
  session cookie), median and 95th percentile, unfiltered and with a tag filter;
- **snippet call**: ``GET /ui/api/p/{id}/map/snippet/{id}`` 50 times, median and p95;
- **payload**: the points' JSON size, and what 200-character snippets of every story would
  add to it (the reason they are fetched per point instead).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import (
    CHROMIUM_FLAGS,
    RESULTS_DIR,
    CachedEmbedder,
    cache_path,
    chromium_path,
    load_set,
    migrate,
    service_settings,
    write_json,
)
from pipelines.embed import DEFAULT_MODEL_NAME, Embedder, HashEmbedder


def _embedder(texts: list[str]) -> tuple[Embedder, str]:
    if cache_path("stackoverflow", DEFAULT_MODEL_NAME, texts).is_file():
        return CachedEmbedder(texts, "stackoverflow"), "cached all-MiniLM-L6-v2"
    return HashEmbedder(16, name="bench/hash"), "hash embedder (bench cache absent)"


def _store_analysis(url: str, project_id: str, tags: list[str], labels: np.ndarray) -> int:
    """One theme per tag, each story near its tag's point on a ring; every 12th fits none."""
    from sqlalchemy import create_engine, insert, select
    from sqlalchemy.orm import Session

    from models import Analysis, AnalysisStatus, Narrative, Theme, ThemeAssignment
    from models.base import utcnow

    rng = np.random.default_rng(0)
    k = len(tags)
    angles = [2 * math.pi * t / k for t in range(k)]
    centres = [(0.75 * math.cos(a), 0.75 * math.sin(a)) for a in angles]
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        ids = list(
            session.scalars(
                select(Narrative.id)
                .where(Narrative.project_id == project_id)
                .order_by(Narrative.id)
            )
        )
        fits = np.array([i % 12 != 0 for i in range(len(ids))])
        analysis = Analysis(
            project_id=project_id,
            status=AnalysisStatus.succeeded,
            model_name="bench/map",
            narrative_count=len(ids),
            theme_count=k,
            unclustered_share=float(1 - fits.mean()),
            finished_at=utcnow(),
        )
        session.add(analysis)
        session.flush()
        analysis_id = analysis.id
        theme_ids = []
        for t, tag in enumerate(tags):
            size = int(((labels == t) & fits).sum())
            theme = Theme(
                analysis_id=analysis.id,
                key=f"t{t:08x}",
                label=f"Questions about {tag}",
                size=size,
                share=size / len(ids),
                x=centres[t][0],
                y=centres[t][1],
            )
            session.add(theme)
            session.flush()
            theme_ids.append(theme.id)
        noise = rng.normal(scale=0.09, size=(len(ids), 2))
        rows = []
        for i, narrative_id in enumerate(ids):
            t = int(labels[i])
            cx, cy = centres[t] if fits[i] else (0.0, 0.0)
            scale = 1.0 if fits[i] else 4.0
            rows.append(
                {
                    "analysis_id": analysis.id,
                    "narrative_id": narrative_id,
                    "theme_id": theme_ids[t] if fits[i] else None,
                    "probability": 0.9 if fits[i] else 0.0,
                    "x": float(np.clip(cx + scale * noise[i, 0], -1, 1)),
                    "y": float(np.clip(cy + scale * noise[i, 1], -1, 1)),
                }
            )
        session.execute(insert(ThemeAssignment), rows)
    engine.dispose()
    return analysis_id


class _Server:
    """The app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, url: str, workdir: Path, embedder: Embedder) -> None:
        import uvicorn

        from app.main import create_app

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        app = create_app(service_settings(url, workdir / "var"), embedder=embedder)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _wait(client: Any, key: str, job_id: str) -> None:
    while True:
        body = client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if body["status"] == "failed":
            raise RuntimeError(body["error"])
        if body["status"] == "succeeded":
            return
        time.sleep(0.5)


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
    }


def _timed(client: Any, path: str, calls: int, **params: Any) -> tuple[dict[str, float], int]:
    times, size = [], 0
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
        size = len(response.content)
    return _ms(times), size


def run(
    data: str | None, reloads: int, calls: int, screenshot: str | None = None
) -> dict[str, Any]:
    import httpx
    from playwright.sync_api import sync_playwright

    from app.services.themes import snippet

    stack = load_set("stackoverflow", data)
    texts = stack.texts
    embedder, embedding = _embedder(texts)
    start = np.datetime64("2026-01-01T09:00")
    items = [
        {
            "text": text,
            "external_id": f"so-{i}",
            "attributes": {"tag": stack.class_names[int(stack.labels[i])]},
            "occurred_at": f"{start + np.timedelta64(int(i * 13) % (180 * 24 * 60), 'm')}:00Z",
        }
        for i, text in enumerate(texts)
    ]
    with tempfile.TemporaryDirectory(prefix="weft-bench-map-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'weft.db'}"
        migrate(url)
        with (
            _Server(url, workdir, embedder) as served,
            httpx.Client(base_url=served.url, timeout=120) as client,
        ):
            created = client.post("/v1/projects", json={"name": "Map bench"}).json()
            project_id, admin = created["id"], created["admin_key"]["key"]
            headers = {"Authorization": f"Bearer {admin}"}
            started = time.perf_counter()
            for at in range(0, len(items), 10_000):
                answer = client.post(
                    f"/v1/projects/{project_id}/narratives",
                    json={"narratives": items[at : at + 10_000]},
                    headers=headers,
                )
                answer.raise_for_status()
                _wait(client, admin, answer.json()["job"]["id"])
            stored_seconds = time.perf_counter() - started
            _store_analysis(url, project_id, stack.class_names, stack.labels)
            read_key = client.post(
                f"/v1/projects/{project_id}/keys", json={"scope": "read"}, headers=headers
            ).json()["key"]

            map_url = f"{served.url}/ui/p/{project_id}/map"
            renders: list[float] = []
            fetches: list[float] = []
            transfer = 0
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
                )
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{served.url}/ui/sign-in")
                page.fill("#key", read_key)
                page.click("button[type=submit]")
                page.wait_for_url(f"**/ui/p/{project_id}/")
                page.goto(map_url)  # a first load warms the server's and browser's caches
                page.wait_for_selector("#map-canvas[data-drawn=true]", timeout=120_000)
                for _ in range(reloads):
                    page.reload()
                    page.wait_for_selector("#map-canvas[data-drawn=true]", timeout=120_000)
                    mark = page.evaluate(
                        "performance.getEntriesByName('weft-map-drawn')[0].startTime"
                    )
                    timing = page.evaluate(
                        "(() => { const e = performance.getEntriesByType('resource')"
                        ".find((r) => r.name.includes('/map/points'));"
                        " return [e.duration, e.encodedBodySize]; })()"
                    )
                    renders.append(float(mark))
                    fetches.append(float(timing[0]))
                    transfer = int(timing[1])
                if screenshot:
                    page.screenshot(path=screenshot, full_page=True)
                cookies = {c["name"]: c["value"] for c in context.cookies()}
                context.close()
                browser.close()

            session_client = httpx.Client(base_url=served.url, cookies=cookies, timeout=120)
            with session_client:
                points_path = f"/ui/api/p/{project_id}/map/points"
                points, size = _timed(session_client, points_path, calls)
                one_tag = f"tag:{stack.class_names[0]}"
                filtered, filtered_size = _timed(
                    session_client, points_path, calls, attribute=one_tag
                )
                body = session_client.get(points_path).json()
                ids = body["ids"]
                times = []
                for i in range(50):
                    started = time.perf_counter()
                    answer = session_client.get(
                        f"/ui/api/p/{project_id}/map/snippet/{ids[i * 397 % len(ids)]}"
                    )
                    times.append(1000 * (time.perf_counter() - started))
                    answer.raise_for_status()
                snippets = _ms(times)
    with_snippets = len(json.dumps([snippet(t, 200) for t in texts], separators=(",", ":")))
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(v, 2) for v in os.getloadavg()],
        },
        "narratives": len(texts),
        "themes": stack.n_classes,
        "embedding": embedding,
        "store_seconds": round(stored_seconds, 1),
        "first_render_ms": {**_ms(renders), "runs": [round(v, 1) for v in renders]},
        "points_fetch_in_browser_ms": _ms(fetches),
        "points_call": {**points, "calls": calls, "bytes": size, "bytes_in_browser": transfer},
        "points_call_one_tag": {**filtered, "calls": calls, "bytes": filtered_size},
        "snippet_call": {**snippets, "calls": 50},
        "snippets_inline_bytes": with_snippets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(RESULTS_DIR / "ui_map.json"))
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--screenshot", default=None, help="save the drawn map page as PNG")
    args = parser.parse_args()
    result = run(args.data, args.reloads, args.calls, args.screenshot)
    render, call = result["first_render_ms"], result["points_call"]
    rows = [
        ("first render (nav start -> drawn)", render, f"{args.reloads} reloads"),
        ("points fetch, in the browser", result["points_fetch_in_browser_ms"], ""),
        ("points call (httpx)", call, f"{call['bytes'] / 1024:.0f} KiB"),
        ("points call, one tag", result["points_call_one_tag"], ""),
        ("snippet call", result["snippet_call"], ""),
    ]
    print(f"theme map, {result['narratives']:,} stories in {result['themes']} themes")
    print(f"{'figure':36} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  note")
    for name, figures, note in rows:
        print(
            f"{name:36} {figures['median_ms']:>10} {figures['p95_ms']:>8} "
            f"{figures['max_ms']:>8}  {note}"
        )
    print(
        f"snippets inline would add {result['snippets_inline_bytes'] / 1024:.0f} KiB; "
        f"embedding: {result['embedding']}; load average {result['machine']['load_average']}"
    )
    write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
