"""The dashboard on real data, as a convenor and a researcher meet it.

The seven Fab Academy 2020 sessions of ``zoom_chats/`` are posted one after another (each is
read, embedded and placed before the next), then analysed in full; the SenseMaker demo export
is uploaded with its framework definition and analysed. Everything runs with the packaged
model on a fresh SQLite store served on loopback. Headless Chromium then signs in and opens
every screen: a screenshot of each is saved, its load time and console errors recorded, and
every data call the pages made is timed again ``--repeats`` times (p50 and p95).

A second part (``large``) does the same at scale: 20,000 StackOverflow titles with a group
attribute and dates over twelve months, embedded by the packaged model (cached by the bench)
and analysed; it times every page and data call (targets: p95 at most 300 ms each) and the
theme map's first render (navigation start to the map drawn, at most 2 s) over five reloads.

    python -m bench.ui [--data DIR] [--out .screenshots/real] [--repeats 20]
                       [--sections small,large]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import (
    CHROMIUM_FLAGS,
    RESULTS_DIR,
    CachedEmbedder,
    LiveService,
    chromium_path,
    data_dir,
    load_set,
    real_embedder,
    write_json,
)

LARGE_N = 20_000

#: The sessions in the order they were held. The exports carry clock times only; the dates
#: are the course's weeks counted from its first Wednesday, 22 January 2020.
FAB_SESSIONS = (
    ("8-wednesday", "Week 8, Wednesday", date(2020, 3, 11)),
    ("8-thursday", "Week 8, Thursday", date(2020, 3, 12)),
    ("9-monday", "Week 9, Monday", date(2020, 3, 16)),
    ("9-wednesday", "Week 9, Wednesday", date(2020, 3, 18)),
    ("9-thursday", "Week 9, Thursday", date(2020, 3, 19)),
    ("10-wednesday", "Week 10, Wednesday", date(2020, 3, 25)),
    ("10-thursday", "Week 10, Thursday", date(2020, 3, 26)),
)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _project(service: LiveService, name: str) -> tuple[str, str]:
    created = service.client.post("/v1/projects", json={"name": name})
    created.raise_for_status()
    body = created.json()
    return str(body["id"]), str(body["admin_key"]["key"])


def _settle(service: LiveService, project: str, key: str, timeout: float = 1800) -> None:
    """Wait until the project has no queued or running job left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        analyses = service.client.get(f"/v1/projects/{project}/analyses", headers=_bearer(key))
        busy = any(a["status"] in ("queued", "running") for a in analyses.json())
        if not busy:
            return
        time.sleep(0.5)
    raise RuntimeError("the project's analyses did not finish")


def _wait_upload(service: LiveService, key: str, job_id: str) -> dict[str, Any]:
    ingest = service.wait(key, job_id)
    embed_id = ingest["result"].get("embed_job_id")
    if embed_id:
        service.wait(key, embed_id)
    return ingest


def post_fab_sessions(service: LiveService, root: Path) -> tuple[str, str, list[dict[str, Any]]]:
    project, key = _project(service, "Fab Academy 2020")
    folder = root / "zoom_chats" / "fab_academy_2020"
    timings: list[dict[str, Any]] = []
    for stem, name, held_on in FAB_SESSIONS:
        path = folder / f"{stem}.txt"
        started = time.perf_counter()
        response = service.client.post(
            f"/v1/projects/{project}/sessions",
            headers=_bearer(key),
            files={"file": (path.name, path.read_bytes(), "text/plain")},
            data={"name": name, "held_on": held_on.isoformat(), "timezone": "UTC"},
        )
        response.raise_for_status()
        ingest = _wait_upload(service, key, response.json()["job"]["id"])
        _settle(service, project, key)
        report = ingest["result"]["report"]
        timings.append(
            {
                "session": name,
                "stored": report["stored"],
                "private_messages": report["private_messages"],
                "low_content": report["low_content"],
                "seconds_to_placed": round(time.perf_counter() - started, 2),
            }
        )
    queued = service.client.post(
        f"/v1/projects/{project}/analyses", headers=_bearer(key), json={"seed": 0}
    )
    queued.raise_for_status()
    service.wait(key, queued.json()["job"]["id"])
    return project, key, timings


def upload_sensemaker(service: LiveService, root: Path) -> tuple[str, str]:
    project, key = _project(service, "SenseMaker demo")
    folder = root / "sensemaker_demo" / "raw_export"
    response = service.client.post(
        f"/v1/projects/{project}/uploads",
        headers=_bearer(key),
        files={
            "file": ("ADemo_Data.csv", (folder / "ADemo_Data.csv").read_bytes(), "text/csv"),
            "definition": (
                "ADemo_Definition.json",
                (folder / "ADemo_Definition.json").read_bytes(),
                "application/json",
            ),
        },
    )
    response.raise_for_status()
    _wait_upload(service, key, response.json()["job"]["id"])
    _settle(service, project, key)
    queued = service.client.post(
        f"/v1/projects/{project}/analyses", headers=_bearer(key), json={"seed": 0}
    )
    queued.raise_for_status()
    service.wait(key, queued.json()["job"]["id"])
    return project, key


def _first_theme(service: LiveService, project: str, key: str) -> str | None:
    themes = service.client.get(f"/v1/projects/{project}/themes", headers=_bearer(key)).json()
    return themes["themes"][0]["key"] if themes["themes"] else None


def _first_narrative(service: LiveService, project: str, key: str) -> int | None:
    page = service.client.get(
        f"/v1/projects/{project}/narratives", headers=_bearer(key), params={"limit": 1}
    ).json()
    return page["items"][0]["id"] if page["items"] else None


def screens(service: LiveService, project: str, key: str) -> list[tuple[str, str]]:
    """(name, path) of every screen of a project, with a real theme and narrative."""
    base = f"/ui/p/{project}"
    found = [
        ("overview", f"{base}/"),
        ("map", f"{base}/map"),
        ("trends", f"{base}/trends"),
        ("tensions", f"{base}/tensions"),
        ("signifiers", f"{base}/signifiers"),
        ("upload", f"{base}/upload"),
    ]
    theme = _first_theme(service, project, key)
    if theme:
        found.insert(1, ("theme", f"{base}/themes/{theme}"))
    narrative = _first_narrative(service, project, key)
    if narrative is not None:
        found.append(("narrative", f"{base}/narratives/{narrative}"))
    return found


def visit(
    service: LiveService, label: str, key: str, pages: list[tuple[str, str]], out: Path
) -> tuple[list[dict[str, Any]], set[str], list[dict[str, str]]]:
    """Sign in, open each page, screenshot it; the data URLs the pages called; the cookie."""
    from playwright.sync_api import Request, Route, sync_playwright

    host = urlsplit(service.url).netloc
    visits: list[dict[str, Any]] = []
    data_calls: set[str] = set()
    map_renders: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        def guard(route: Route, request: Request) -> None:
            if urlsplit(request.url).netloc == host:
                route.continue_()
            else:
                outside.append(request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "request",
            # GET data calls are timed again below; POSTs (the signifier explorer's) have
            # their own benchmark, bench/ui_signifiers.py
            lambda r: data_calls.add(r.url) if "/ui/api/" in r.url and r.method == "GET" else None,
        )
        page.goto(service.url + "/ui/sign-in")
        page.fill("#key", key)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for name, path in pages:
            if name == "map":
                map_renders = _map_renders(page, service.url + path)
            errors.clear()
            started = time.perf_counter()
            response = page.goto(service.url + path)
            page.wait_for_load_state("networkidle")
            seconds = time.perf_counter() - started
            shot = out / f"{label}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            visits.append(
                {
                    "screen": name,
                    "path": path,
                    "status": response.status if response else None,
                    "seconds_to_idle": round(seconds, 3),
                    "console_errors": list(errors),
                    "screenshot": str(shot),
                }
            )
        cookies = [
            {"name": str(c["name"]), "value": str(c["value"])}
            for c in context.cookies()
            if c.get("name") == "weft_session"
        ]
        browser.close()
    if outside:
        raise RuntimeError(f"pages asked for outside addresses: {outside[:5]}")
    if map_renders:
        visits.append({"screen": "map first render (ms, 5 reloads)", "renders_ms": map_renders})
    return visits, data_calls, cookies


def _map_renders(page: Any, url: str, reloads: int = 5) -> list[float]:
    """Milliseconds from navigation start to the map drawn (its script's performance mark)."""
    found: list[float] = []
    for _ in range(reloads):
        page.goto(url)
        page.wait_for_function(
            "performance.getEntriesByName('weft-map-drawn').length > 0", timeout=60_000
        )
        found.append(
            round(page.evaluate("performance.getEntriesByName('weft-map-drawn')[0].startTime"), 1)
        )
    return found


def time_calls(
    service: LiveService, urls: list[str], cookies: list[dict[str, str]], repeats: int
) -> list[dict[str, Any]]:
    """p50 and p95 of each page and data call, over ``repeats`` requests, signed in."""
    import httpx

    jar = {c["name"]: c["value"] for c in cookies}
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=service.url, cookies=jar, timeout=60) as client:
        for url in urls:
            path = url.removeprefix(service.url)
            client.get(path)  # warm
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                response = client.get(path)
                samples.append(1000 * (time.perf_counter() - started))
            samples.sort()
            rows.append(
                {
                    "path": path,
                    "status": response.status_code,
                    "p50_ms": round(statistics.median(samples), 1),
                    "p95_ms": round(samples[max(0, int(0.95 * len(samples)) - 1)], 1),
                }
            )
    return rows


def post_large(service: LiveService, root: Path) -> tuple[str, str, float]:
    """20,000 titles with a group and a month each, stored, embedded and analysed."""
    titles = load_set("stackoverflow", root).texts[:LARGE_N]
    project, key = _project(service, "StackOverflow titles (20,000)")
    items = [
        {
            "text": text,
            "external_id": f"so-{i}",
            "attributes": {"forum": f"forum {1 + i % 4}"},
            "occurred_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
        }
        for i, text in enumerate(titles)
    ]
    for start in range(0, len(items), 10_000):
        response = service.client.post(
            f"/v1/projects/{project}/narratives",
            headers=_bearer(key),
            json={"narratives": items[start : start + 10_000]},
        )
        response.raise_for_status()
        service.wait(key, response.json()["job"]["id"])
    started = time.perf_counter()
    queued = service.client.post(
        f"/v1/projects/{project}/analyses", headers=_bearer(key), json={"seed": 0}
    )
    queued.raise_for_status()
    service.wait(key, queued.json()["job"]["id"])
    return project, key, time.perf_counter() - started


def _report(label: str, part: dict[str, Any]) -> None:
    print(f"\n{label}: screen, status, seconds to idle, console errors")
    for v in part["visits"]:
        if "renders_ms" in v:
            print(f"  {v['screen']}: {v['renders_ms']}")
            continue
        errors = "; ".join(v["console_errors"]) or "none"
        print(f"  {v['screen']:<11} {v['status']}  {v['seconds_to_idle']:>6}  {errors}")
    print(f"{label}: p50 ms, p95 ms, status, path")
    for row in part["latency"]:
        print(f"  {row['p50_ms']:>7} {row['p95_ms']:>7}  {row['status']}  {row['path'][:100]}")


def _browse(
    service: LiveService, label: str, project: str, key: str, out: Path, repeats: int
) -> dict[str, Any]:
    pages = screens(service, project, key)
    visits, data_calls, cookies = visit(service, label, key, pages, out)
    page_urls = [service.url + path for _, path in pages]
    return {
        "visits": visits,
        "latency": time_calls(service, page_urls + sorted(data_calls), cookies, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the shared data folder")
    parser.add_argument("--out", default=".screenshots/real", help="where screenshots go")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sections", default="small,large", help="small, large or both")
    args = parser.parse_args()
    root = data_dir(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections = set(args.sections.split(","))
    results: dict[str, Any] = {}
    if "small" in sections:
        with (
            tempfile.TemporaryDirectory() as tmp,
            LiveService(Path(tmp), real_embedder(), auto_analyze=True) as service,
        ):
            fab, fab_key, sessions = post_fab_sessions(service, root)
            results["fab_sessions"] = sessions
            demo, demo_key = upload_sensemaker(service, root)
            results["fab"] = _browse(service, "fab", fab, fab_key, out, args.repeats)
            results["sensemaker"] = _browse(
                service, "sensemaker", demo, demo_key, out, args.repeats
            )
        for label in ("fab", "sensemaker"):
            _report(label, results[label])
        print("\nFab sessions, posted one after another:")
        for row in results["fab_sessions"]:
            print(f"  {row}")
    if "large" in sections:
        titles = load_set("stackoverflow", root).texts[:LARGE_N]
        embedder = CachedEmbedder(titles, "stackoverflow")
        with (
            tempfile.TemporaryDirectory() as tmp,
            LiveService(Path(tmp), embedder, auto_analyze=False) as service,
        ):
            project, key, seconds = post_large(service, root)
            results["large"] = _browse(service, "large", project, key, out, args.repeats)
            results["large"]["analysis_seconds"] = round(seconds, 1)
        _report("large (20,000 narratives)", results["large"])
    write_json(RESULTS_DIR / "ui.json", results)


if __name__ == "__main__":
    main()
