"""Reads under load: `/themes` and `/trends?by=attribute:...` latencies from 16 clients on loopback,
idle and while an analysis runs, with jobs on the web server's threads (before) and in the job
worker process (after).

The store: one project of 20,000 real texts (the 8,000 news texts of agnews8000, then 12,000 search
snippets; ``--sets pool`` takes every distinct text of the shared data, the cost curve's pool of
82,849), embedded with the packaged all-MiniLM-L6-v2 through the bench cache (the vectors are
computed once and reused), with made-up group attributes (role, site), dates over 2025 and the
seven Fab Academy Zoom chats as its sessions (the titles are spread over them), analysed once in
process. Then, per runner, a real `weft serve` (``WEFT_JOB_RUNNER=thread`` or ``process``, the
packaged model loaded as in production) serves that store on a free port, and the clients (4
processes of 4 threads, so the clients' own interpreter lock does not add to the figures) ask for
themes and trends with a random mix of filters (an attribute, a session, a period, the level, the
page size, membership): 9,000 draws hold 4,341 distinct requests, and the server keeps no
answers. The idle reads start ``--settle`` seconds after the server answers and once its
processes are quiet (the job worker compiles the analysis code as it starts, about 40 s of one
core); they run ``--idle`` seconds. Then a new analysis of the project is queued and the clients
read until it ends (at most ``--busy-max`` seconds, 0 for none; the analysis is then waited for
without readers, so the next runner's idle phase is idle). Reported per phase and endpoint:
requests, p50/p95/p99/max in ms, errors (any status but 200, or a failed connection)::

    nice .venv/bin/python -m bench.reads [--sets agnews8000,searchsnippets] [--n 20000]
        [--clients 16] [--runners thread,process] [--web-workers 1] [--idle 20]
        [--settle 30] [--quiet-max 300] [--busy-max 600] [--store DIR]

Results go to ``bench/results/reads.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.harness import (
    RESULTS_DIR,
    ROOT,
    Service,
    cached_embeddings,
    data_dir,
    distinct_pool,
    load_set,
    real_embedder,
    write_json,
)
from pipelines.embed import DEFAULT_MODEL_NAME, Embedder, FloatMatrix, normalize_text

ROLES = ("nurse", "carer", "patient", "manager", "porter")
SITES = ("North", "South", "East", "West", "Central", "Harbour", "Hill", "Valley")
MONTHS = [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]
SESSIONS = (
    ("8-wednesday", "2020-03-18"),
    ("8-thursday", "2020-03-19"),
    ("9-monday", "2020-03-23"),
    ("9-wednesday", "2020-03-25"),
    ("9-thursday", "2020-03-26"),
    ("10-wednesday", "2020-04-01"),
    ("10-thursday", "2020-04-02"),
)
CLIENT_PROCESSES = 4
#: Share of one core the server's processes may use, over a second, and count as quiet.
QUIET_SHARE = 0.05
#: One query parameter's value.
Param = str | int | float | bool | None


# --- the store ---------------------------------------------------------------------------------


class PooledEmbedder:
    """The bench cache's vectors of several sets' texts; the packaged model (loaded on first
    need) embeds a text none of them holds (the chat sessions' lines)."""

    def __init__(self, texts: Sequence[str], vectors: FloatMatrix) -> None:
        self._model: Embedder | None = None
        self.misses = 0
        self._known: dict[str, FloatMatrix] = {
            normalize_text(t): v for t, v in zip(texts, vectors, strict=True)
        }
        self._dimension = int(next(iter(self._known.values())).shape[0])

    @property
    def name(self) -> str:
        return DEFAULT_MODEL_NAME

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        missing = [t for t in texts if normalize_text(t) not in self._known]
        if missing:
            self._model = self._model or real_embedder()
            self.misses += len(missing)
            for text, vector in zip(missing, self._model.encode(missing), strict=True):
                self._known[normalize_text(text)] = vector
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.stack([self._known[normalize_text(t)] for t in texts]).astype(np.float32)


def seed(workdir: Path, root: Path, sets: Sequence[str], n: int) -> tuple[str, str, list[int]]:
    """Fill and analyse the bench project in process; returns (project id, key, session ids).

    ``sets`` names labelled sets, or is ``["pool"]``: every distinct text of the shared data."""
    if list(sets) == ["pool"]:
        pooled, vectors, _ = distinct_pool(str(root))
    else:
        loaded = [load_set(name, root) for name in sets]
        pooled = [t for data in loaded for t in data.texts]
        vectors = np.vstack([cached_embeddings(data) for data in loaded])
    texts = pooled[:n]
    embedder = PooledEmbedder(pooled, vectors)
    rng = random.Random(0)
    with Service(workdir, embedder) as service:
        project = service.create_project("Reads under load")
        sessions = []
        chats = root / "zoom_chats" / "fab_academy_2020"
        for name, held_on in SESSIONS:
            posted = service.client.post(
                project.path("/sessions"),
                files={"file": (f"{name}.txt", (chats / f"{name}.txt").read_bytes())},
                data={"name": name, "held_on": held_on, "timezone": "UTC"},
                headers=project.headers,
            )
            posted.raise_for_status()
            service.wait(project.key, posted.json()["job"]["id"])
            sessions.append(int(posted.json()["session"]["id"]))
        items = [
            {
                "text": text,
                "external_id": f"so-{i}",
                "occurred_at": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00",
                "attributes": {"role": rng.choice(ROLES), "site": rng.choice(SITES)},
                "session_id": rng.choice(sessions),
            }
            for i, text in enumerate(texts)
        ]
        started = time.perf_counter()
        for start in range(0, len(items), 10_000):
            answer = project.post("/narratives", {"narratives": items[start : start + 10_000]})
            service.wait(project.key, answer["job"]["id"])
        stored = time.perf_counter() - started
        queued = project.post("/analyses", {"seed": 0})
        service.wait(project.key, queued["job"]["id"])
        print(
            f"seeded {len(items)} narratives in {stored:.0f} s, analysed in "
            f"{time.perf_counter() - started - stored:.0f} s (cache misses: {embedder.misses})",
            flush=True,
        )
        return project.id, project.key, sessions


def stored(workdir: Path, root: Path, sets: Sequence[str], n: int) -> tuple[str, str, list[int]]:
    """The store in `workdir`: seeded there unless an earlier run seeded it with the same sets
    and size."""
    made = workdir / "store.json"
    wanted = {"sets": list(sets), "n": n}
    if made.is_file():
        found = json.loads(made.read_text())
        if found["made_with"] == wanted:
            return found["project"], found["key"], found["sessions"]
        raise SystemExit(f"{workdir} holds a store of {found['made_with']}, not {wanted}")
    workdir.mkdir(parents=True, exist_ok=True)
    project, key, sessions = seed(workdir, root, sets, n)
    made.write_text(
        json.dumps({"made_with": wanted, "project": project, "key": key, "sessions": sessions})
    )
    return project, key, sessions


# --- the server ---------------------------------------------------------------------------------


def _cpu_seconds(root: Any) -> float:
    """User and system seconds so far of a process and its descendants (0 for one gone)."""
    import psutil

    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class Server:
    """`weft serve` on the bench store with the given job runner."""

    def __init__(self, workdir: Path, runner: str, port: int, web_workers: int = 1) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "WEFT_DATABASE_URL": f"sqlite:///{workdir / 'weft.db'}",
            "WEFT_DATA_DIR": str(workdir / "var"),
            "WEFT_HOST": "127.0.0.1",
            "WEFT_PORT": str(port),
            "WEFT_JOB_RUNNER": runner,
            "WEFT_WEB_WORKERS": str(web_workers),
            # the store's vectors are the bench cache's, made with torch
            "WEFT_EMBEDDING_BACKEND": "torch",
            "WEFT_AUTO_ANALYZE": "false",
            "WEFT_LOG_LEVEL": "warning",
        }
        weft = Path(sys.executable).with_name("weft")
        argv = [str(weft)] if weft.exists() else [sys.executable, "-m", "app.cli"]
        self.log = workdir / f"serve-{runner}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*argv, "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped:\n{self.log.read_text()}")
            try:
                ready = self.client.get("/readyz").json()
                jobs = ready["jobs"]
                if jobs["runner"] != "process" or jobs["worker"]["alive"]:
                    self.jobs = jobs
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.25)

    def quiet(self, longest: float, share: float = QUIET_SHARE) -> float:
        """Wait until the server's processes together use at most ``share`` of one core over
        a second (the job worker has compiled the analysis code, the web processes have
        started), at most ``longest`` seconds; the seconds waited."""
        import psutil

        began = time.monotonic()
        root = psutil.Process(self.process.pid)
        while time.monotonic() - began < longest:
            before = _cpu_seconds(root)
            time.sleep(1.0)
            if _cpu_seconds(root) - before <= share:
                break
        return time.monotonic() - began

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the clients ---------------------------------------------------------------------------------


def _filters(rng: random.Random, sessions: Sequence[int]) -> list[tuple[str, Param]]:
    params: list[tuple[str, Param]] = []
    if rng.random() < 0.4:
        params.append(("attribute", f"role:{rng.choice(ROLES)}"))
    if rng.random() < 0.25:
        params.append(("attribute", f"site:{rng.choice(SITES)}"))
    if rng.random() < 0.3:
        params.append(("session_id", rng.choice(sessions)))
    if rng.random() < 0.4:
        start = rng.randrange(0, 11)
        params += [("since", MONTHS[start]), ("until", MONTHS[rng.randrange(start + 1, 13)])]
    return params


def request_for(
    rng: random.Random, project: str, sessions: Sequence[int]
) -> tuple[str, str, list[tuple[str, Param]]]:
    """(endpoint, path, query) of one random read."""
    params = _filters(rng, sessions)
    level = rng.choice(("top", "top", "leaf"))
    params.append(("level", level))
    if rng.random() < 0.5:
        params += [("limit", rng.choice((10, 20, 50, 100)))]
        if level == "top" and rng.random() < 0.1:
            # membership=any counts top-level themes only
            params.append(("membership", "any"))
        return "themes", f"/v1/projects/{project}/themes", params
    params.append(("by", f"attribute:{rng.choice(('role', 'site'))}"))
    if rng.random() < 0.2:
        params.append(("by", "period:month"))
    return "trends", f"/v1/projects/{project}/trends", params


def _client_process(
    url: str,
    key: str,
    project: str,
    sessions: list[int],
    threads: int,
    seed: int,
    stop: EventType,
    out: Any,
) -> None:
    import threading

    rows: list[tuple[str, float, float, int]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        with httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            while not stop.is_set():
                endpoint, path, params = request_for(rng, project, sessions)
                started = time.perf_counter()
                try:
                    status = http.get(path, params=params).status_code
                except httpx.HTTPError:
                    status = 0
                done = time.perf_counter()
                with lock:
                    rows.append((endpoint, time.time(), (done - started) * 1000, status))

    running = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    out.send(rows)
    out.close()


def load(
    url: str, key: str, project: str, sessions: list[int], clients: int, until: Any
) -> tuple[list[tuple[str, float, float, int]], float]:
    """Run `clients` readers until `until()` is true; their rows and the seconds it took."""
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    base, extra = divmod(clients, CLIENT_PROCESSES)
    per = [base + (i < extra) for i in range(CLIENT_PROCESSES)]
    pipes, procs = [], []
    for i, threads in enumerate(t for t in per if t):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_client_process,
            args=(url, key, project, sessions, threads, random.randrange(1 << 30) + i, stop, send),
        )
        proc.start()
        send.close()
        pipes.append(receive)
        procs.append(proc)
    started = time.perf_counter()
    while not until():
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    stop.set()
    rows: list[tuple[str, float, float, int]] = []
    for receive in pipes:
        rows += receive.recv()
    for proc in procs:
        proc.join()
    return rows, seconds


def summary(rows: Sequence[tuple[str, float, float, int]], seconds: float) -> dict[str, Any]:
    """Per endpoint: requests, rate, p50/p95/p99/max in ms, errors."""
    found: dict[str, Any] = {}
    for endpoint in ("themes", "trends"):
        ms = np.array([r[2] for r in rows if r[0] == endpoint])
        failed = Counter(str(r[3]) for r in rows if r[0] == endpoint and r[3] != 200)
        errors = sum(failed.values())
        if not len(ms):
            found[endpoint] = {"requests": 0, "errors": errors, "error_statuses": dict(failed)}
            continue
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        found[endpoint] = {
            "requests": len(ms),
            "per_second": round(len(ms) / seconds, 1),
            "p50_ms": round(float(p50), 1),
            "p95_ms": round(float(p95), 1),
            "p99_ms": round(float(p99), 1),
            "max_ms": round(float(ms.max()), 1),
            "errors": errors,
            # by status; 0 is a connection that failed
            "error_statuses": dict(failed),
        }
    return found


# --- the run -----------------------------------------------------------------------------------


def measure(
    workdir: Path,
    runner: str,
    project: str,
    key: str,
    sessions: list[int],
    args: argparse.Namespace,
    analysis_seed: int,
) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = Server(workdir, runner, port, args.web_workers)
    url = str(server.client.base_url).rstrip("/")
    headers = {"Authorization": f"Bearer {key}"}
    result: dict[str, Any] = {
        "runner": runner,
        "web_workers": args.web_workers,
        "jobs": server.jobs,
    }
    try:
        # warm the server's imports and the project's first pages, in every web process (each
        # takes some of many connections opened at once); the job worker loads its model and
        # compiles the analysis code meanwhile (about 40 s of one core), which is start-up,
        # not idle: the idle reads wait until the server's processes are quiet
        warm(url, headers, project)
        time.sleep(args.settle)
        result["settled_s"] = round(args.settle + server.quiet(args.quiet_max), 1)
        print(f"{runner}: quiet {result['settled_s']} s after start-up", flush=True)
        ends = time.monotonic() + args.idle
        rows, seconds = load(
            url, key, project, sessions, args.clients, lambda: time.monotonic() > ends
        )
        result["idle"] = summary(rows, seconds) | {"seconds": round(seconds, 1)}
        print(f"{runner} idle: {result['idle']}", flush=True)
        if args.busy_max <= 0:
            return result
        queued = server.client.post(
            f"/v1/projects/{project}/analyses", json={"seed": analysis_seed}, headers=headers
        )
        queued.raise_for_status()
        job_id = queued.json()["job"]["id"]
        queued_at = time.perf_counter()
        limit = time.monotonic() + float(args.busy_max)
        status: dict[str, str] = {"value": "queued"}

        def analysis_over() -> bool:
            try:
                body = server.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
            except httpx.HTTPError:
                # counted with the clients' figures; ask again at the next turn
                return time.monotonic() > limit
            status["value"] = str(body["status"])
            return status["value"] in ("succeeded", "failed") or time.monotonic() > limit

        rows, seconds = load(url, key, project, sessions, args.clients, analysis_over)
        result["during_analysis"] = summary(rows, seconds) | {
            "seconds": round(seconds, 1),
            "analysis": status["value"],
        }
        print(f"{runner} during analysis: {result['during_analysis']}", flush=True)
        # the next runner's idle phase must be idle: an analysis cut short by the server's
        # stop would run again in the next server
        limit = time.monotonic() + 3600
        while not analysis_over():
            time.sleep(1)
        result["analysis_seconds"] = round(time.perf_counter() - queued_at, 1)
        result["analysis"] = status["value"]
    finally:
        server.stop()
    return result


def warm(url: str, headers: dict[str, str], project: str, connections: int = 16) -> None:
    """Both endpoints on `connections` new connections at once, twice."""

    def read(path: str) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as fresh:
            fresh.get(f"/v1/projects/{project}/{path}").raise_for_status()

    paths = ("themes", "trends?by=attribute:role") * connections
    with ThreadPoolExecutor(connections) as pool:
        for _ in range(2):
            list(pool.map(read, paths))


def _table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| runner | web processes | phase | endpoint | requests | p50 ms | p95 ms | p99 ms "
        "| max ms | errors |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for phase in ("idle", "during_analysis"):
            if phase not in result:
                continue
            for endpoint in ("themes", "trends"):
                row = result[phase][endpoint]
                lines.append(
                    f"| {result['runner']} | {result['web_workers']} | {phase} | {endpoint} | "
                    f"{row['requests']} | "
                    f"{row.get('p50_ms', '-')} | {row.get('p95_ms', '-')} | "
                    f"{row.get('p99_ms', '-')} | {row.get('max_ms', '-')} | {row['errors']} |"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.reads", description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the shared data directory (else WEFT_BENCH_DATA)")
    parser.add_argument(
        "--sets", default="agnews8000,searchsnippets", help="labelled sets the texts come from"
    )
    parser.add_argument("--n", type=int, default=20_000, help="narratives in the project")
    parser.add_argument("--runners", default="thread,process")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--web-workers", type=int, default=1, help="web processes of the server (WEFT_WEB_WORKERS)"
    )
    parser.add_argument("--idle", type=float, default=20, help="seconds of idle reads")
    parser.add_argument(
        "--settle", type=float, default=30, help="seconds between the start and the idle reads"
    )
    parser.add_argument(
        "--quiet-max",
        type=float,
        default=300,
        help="after --settle, longest wait for the server's processes to go quiet",
    )
    parser.add_argument(
        "--busy-max",
        type=float,
        default=600,
        help="most seconds of busy reads (0: no analysis, idle reads only)",
    )
    parser.add_argument(
        "--store",
        help="a directory kept between runs: seeded on the first run, reused after (each run "
        "adds its analyses to it)",
    )
    parser.add_argument("--out", default=str(RESULTS_DIR / "reads.json"))
    args = parser.parse_args(argv)
    root = data_dir(args.data)
    with tempfile.TemporaryDirectory(prefix="weft-reads-") as tmp:
        workdir = Path(args.store or tmp)
        project, key, sessions = stored(workdir, root, args.sets.split(","), args.n)
        results = [
            measure(workdir, runner, project, key, sessions, args, analysis_seed=1 + i)
            for i, runner in enumerate(args.runners.split(","))
        ]
    print(_table(results))
    write_json(
        Path(args.out),
        {
            "sets": args.sets,
            "n": args.n,
            "clients": args.clients,
            "web_workers": args.web_workers,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
