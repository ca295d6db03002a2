"""How long a session report takes, as a page and as a PDF, against reads the dashboard
already makes (the anchors, timed in the same run on the same store).

The seven Fab Academy 2020 chats of the shared data are posted in course order and analysed
with the packaged model; then each session's report (HTML, PDF), the project's report, and
the anchors `GET /themes?session_id=` and `GET /trends?by=session` are timed, `--repeat`
times each, the median kept::

    nice .venv/bin/python -m bench.report [--data DIR] [--repeat 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Project, Service, data_dir, real_embedder, write_json

SESSIONS = [
    ("8-wednesday", "2020-03-18"),
    ("8-thursday", "2020-03-19"),
    ("9-monday", "2020-03-23"),
    ("9-wednesday", "2020-03-25"),
    ("9-thursday", "2020-03-26"),
    ("10-wednesday", "2020-04-01"),
    ("10-thursday", "2020-04-02"),
]


def _post_sessions(service: Service, project: Project, chats: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, held_on in SESSIONS:
        answer = service.client.post(
            project.path("/sessions"),
            files={"file": (f"{name}.txt", (chats / f"{name}.txt").read_bytes())},
            data={"name": name, "held_on": held_on},
            headers=project.headers,
        )
        answer.raise_for_status()
        service.wait(project.key, answer.json()["job"]["id"])
        found[name] = int(answer.json()["session"]["id"])
    queued = project.post("/analyses", {"seed": 0})
    service.wait(project.key, queued["job"]["id"])
    return found


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        times.append(1000 * (time.perf_counter() - started))
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
    return round(statistics.median(times), 1)


def _timings(service: Service, project: Project, sessions: dict[str, int], repeat: int) -> Any:
    client, headers = service.client, project.headers

    def get(path: str, **params: Any) -> Callable[[], Any]:
        return lambda: client.get(project.path(path), params=params, headers=headers)

    rows = []
    for name, meeting in sessions.items():
        report = f"/sessions/{meeting}/report"
        rows.append(
            {
                "session": name,
                "anchor_themes_ms": _median_ms(get("/themes", session_id=meeting), repeat),
                "anchor_trends_ms": _median_ms(get("/trends", by="session"), repeat),
                "report_html_ms": _median_ms(get(report), repeat),
                "report_pdf_ms": _median_ms(get(report, format="pdf"), repeat),
            }
        )
    whole = {
        "report_html_ms": _median_ms(get("/report"), repeat),
        "report_pdf_ms": _median_ms(get("/report", format="pdf"), repeat),
    }
    return rows, whole


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="the shared data directory")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "report.json"))
    args = parser.parse_args(argv)
    chats = data_dir(args.data) / "zoom_chats" / "fab_academy_2020"
    with tempfile.TemporaryDirectory() as work, Service(Path(work), real_embedder()) as service:
        project = service.create_project("Fab Academy 2020")
        sessions = _post_sessions(service, project, chats)
        rows, whole = _timings(service, project, sessions, args.repeat)
    print(f"{'session':<14}{'themes':>9}{'trends':>9}{'html':>9}{'pdf':>9}   (median ms)")
    for r in rows:
        print(
            f"{r['session']:<14}{r['anchor_themes_ms']:>9}{r['anchor_trends_ms']:>9}"
            f"{r['report_html_ms']:>9}{r['report_pdf_ms']:>9}"
        )
    print(f"{'project':<14}{'':>9}{'':>9}{whole['report_html_ms']:>9}{whole['report_pdf_ms']:>9}")
    write_json(Path(args.out), {"repeat": args.repeat, "sessions": rows, "project": whole})


if __name__ == "__main__":
    main()
