"""The signifier explorer's data calls at 20,000 narratives (a triad, a dyad, a question).

    nice .venv/bin/python -m bench.ui_signifiers [--n 20000] [--calls 20] [--out PATH]

Synthetic narratives are posted through the API of an in-process service (a fake, hashing
embedder: no model is loaded and no analysis runs), a dashboard session is opened with the
project key, and the explorer's endpoints are timed through the test client:

- the page (``GET /ui/p/{p}/signifiers``),
- the page's data call (``POST .../signifiers/selection``) cold (values loaded from the store)
  and warm (the cached arrays), 20 calls with alternating filters,
- the comparison (``POST .../signifiers/compare``) of one role against everyone else, 20
  calls: median and 95th percentile, and the permutations it chose.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import RESULTS_DIR, Service, write_json
from pipelines.embed import HashEmbedder

SIGNIFIERS: list[dict[str, Any]] = [
    {"key": "forces", "kind": "triad", "anchors": ["rules", "relationships", "resources"]},
    {"key": "steer", "kind": "dyad", "poles": ["follow the plan", "work with emergence"]},
    {"key": "mood", "kind": "mcq", "options": [{"key": k} for k in ("good", "mixed", "bad")]},
]
ROLES = ("nurse", "porter", "doctor", "manager")


def narratives(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    role = rng.integers(0, len(ROLES), n)
    centres = np.array([[6, 2, 2], [2, 6, 2], [2, 2, 6], [3, 3, 3]], dtype=float)
    parts = np.vstack([rng.dirichlet(centres[r]) for r in role]).round(3)
    dyad = np.clip(rng.normal(0.3 + 0.15 * role, 0.2), 0, 1).round(3)
    out = []
    for i in range(n):
        triad = parts[i].tolist()
        triad[2] = max(0.0, round(1 - triad[0] - triad[1], 3))
        out.append(
            {
                "text": f"Story {i}: on the ward the {ROLES[role[i]]} saw delay number {i % 97}",
                "external_id": f"b-{i}",
                "attributes": {"role": ROLES[role[i]]},
                "signifiers": {
                    "forces": None if i % 23 == 0 else triad,
                    "steer": None if i % 17 == 0 else float(dyad[i]),
                    "mood": ("good", "mixed", "bad")[int(rng.integers(0, 3))],
                },
            }
        )
    return out


def sign_in(service: Service, key: str) -> str:
    client = service.client
    form = client.get("/ui/sign-in").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    answer = client.post("/ui/sign-in", data={"key": key, "csrf": token.group(1)})
    found = re.search(r'name="csrf-token" content="([^"]+)"', answer.text)
    assert found is not None, answer.text[:500]
    return found.group(1)


def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = call()
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:500]}")
    return seconds * 1000, answer


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"median_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "ui_signifiers.json")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Service(Path(tmp), HashEmbedder(8, name="bench/hash")) as service,
    ):
        project = service.create_project("Explorer bench")
        project.post("/signifiers", {"signifiers": SIGNIFIERS})
        items = narratives(args.n)
        started = time.perf_counter()
        for start in range(0, len(items), 10_000):
            answer = project.post("/narratives", {"narratives": items[start : start + 10_000]})
            service.wait(project.key, answer["job"]["id"])
        seeding = time.perf_counter() - started
        csrf = sign_in(service, project.key)
        client, headers = service.client, {"X-CSRF-Token": csrf}
        api = f"/ui/api/p/{project.id}/signifiers"
        page_ms, _ = timed(lambda: client.get(f"/ui/p/{project.id}/signifiers"))
        cold_ms, first = timed(lambda: client.post(f"{api}/selection", json={}, headers=headers))
        bodies = [{"a": {"attributes": [f"role={r}"]}} for r in ROLES] + [
            {"a": {"answers": [{"signifier": "steer", "low": 0.0, "high": 0.2}]}},
            {
                "a": {
                    "region": {
                        "signifier": "forces",
                        "ids": first.json()["charts"]["forces"]["ids"][:500],
                    }
                }
            },
        ]
        warm = []
        for i in range(args.calls):
            body = bodies[i % len(bodies)]
            ms, _ = timed(lambda b=body: client.post(f"{api}/selection", json=b, headers=headers))
            warm.append(ms)
        compare, chosen, tests = [], 0, 0
        for i in range(args.calls):
            body = {"a": {"attributes": [f"role={ROLES[i % len(ROLES)]}"]}}
            ms, answer = timed(
                lambda b=body: client.post(f"{api}/compare", json=b, headers=headers)
            )
            compare.append(ms)
            chosen, tests = answer.json()["n_permutations"], answer.json()["n_tests"]
        result = {
            "benchmark": "ui_signifiers",
            "narratives": args.n,
            "signifiers": [s["kind"] for s in SIGNIFIERS],
            "calls": args.calls,
            "seeding_seconds": round(seeding, 1),
            "page_ms": round(page_ms, 1),
            "selection_cold_ms": round(cold_ms, 1),
            "selection_payload_kb": round(len(first.content) / 1024, 1),
            "selection_warm": figures(warm),
            "compare": {**figures(compare), "n_permutations": chosen, "n_tests": tests},
            "machine": {"python": platform.python_version(), "processor": platform.machine()},
        }
    print(
        f"{args.n} narratives: page {result['page_ms']} ms; selection cold {cold_ms:.0f} ms, "
        f"warm median {result['selection_warm']['median_ms']} / p95 "
        f"{result['selection_warm']['p95_ms']} ms; compare median "
        f"{result['compare']['median_ms']} / p95 {result['compare']['p95_ms']} ms "
        f"({chosen} permutations, {tests} tests)"
    )
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
