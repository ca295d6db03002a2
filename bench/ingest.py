"""File-upload ingest: rows per second and peak server memory for CSV uploads.

    .venv/bin/python -m bench.ingest [--data ../shared/data] [--rows 10000 100000]
                                     [--embed-rows 10000] [--backends torch,onnx]
                                     [--compare-early] [--nhs]
                                     [--out bench/results/ingest.json]

The CSVs (id, text, dataset, label) are built from the text columns of the stackoverflow,
searchsnippets and agnews8000 sets, interleaved and repeated with new row ids until they hold
the wanted number of rows. For each size, in this one run:

- anchor: the plain `csv` module reading the same file (rows/s, no storing);
- parser: `pipelines.ingest.open_batch` reading it (rows/s, no storing);
- weft, embedding excluded: a fresh server process (uvicorn, SQLite file, fake embedder) is
  sent the file as a streamed multipart `POST /uploads`; timed until the ingest job has
  stored every row;
- encode anchor (sizes up to --embed-rows): plain `SentenceTransformer.encode` (fp32, torch)
  of the file's distinct texts, rows/s counted over every row (the repeats are what Weft's
  cache serves);
- weft, embedding included (sizes up to --embed-rows): the same with the real model
  (all-MiniLM-L6-v2) on each of --backends, a fresh server each, timed until the embedding job
  that follows has succeeded; with
  `--compare-early`, first with the texts embedded only after the store
  (`WEFT_INGEST_EMBED_EARLY=false`), then as by default, embedded while the rows are stored.

With --nhs, the NHS feedback file as published (7,908 rows) is then posted to a fresh server per
backend with auto-analysis on, mapped as a convenor would (the answer, its date, the question,
trust and service type), and timed until `GET /themes` shows the analysis.

Peak memory is the server process's peak RSS during the upload and its jobs, minus its RSS
just before (sampled every 10 ms with psutil), so it shows what the upload itself costs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import uvicorn

from app.embedder import build_embedder
from app.main import create_app
from bench.harness import (
    NHS_FILE,
    ROOT,
    PlainSentenceTransformer,
    data_dir,
    migrate,
    service_settings,
    write_json,
)
from pipelines.embed import Embedder, normalize_text

SETS = ("stackoverflow", "searchsnippets", "agnews8000")


class NoEmbedder:
    """Zero vectors: lets an ingest be timed without the model."""

    name = "bench/none"
    dimension = 8

    def encode(self, texts: Sequence[str]) -> Any:
        return np.zeros((len(texts), self.dimension), dtype=np.float32)


def load_texts(data: Path) -> list[tuple[str, str, str]]:
    """(dataset, text, label) of the three sets, interleaved so every chunk mixes them."""
    columns: list[list[tuple[str, str, str]]] = []
    for name in SETS:
        with open(data / name / "data.csv", newline="", encoding="utf-8") as handle:
            columns.append(
                [(name, row["text"], row.get("label_name", "")) for row in csv.DictReader(handle)]
            )
    mixed: list[tuple[str, str, str]] = []
    for i in range(max(len(c) for c in columns)):
        mixed.extend(c[i] for c in columns if i < len(c))
    return mixed


def write_csv(path: Path, texts: list[tuple[str, str, str]], rows: int) -> int:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "dataset", "label"])
        for i in range(rows):
            dataset, text, label = texts[i % len(texts)]
            writer.writerow([f"r{i}", text, dataset, label])
    return path.stat().st_size


def anchor_csv(path: Path) -> float:
    """Seconds for the csv module to read every row."""
    start = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        n = sum(1 for _ in csv.reader(handle))
    assert n > 0
    return time.perf_counter() - start


def parser_only(path: Path) -> float:
    """Seconds for Weft's batch parser to read every row into records."""
    from pipelines.ingest import open_batch

    start = time.perf_counter()
    with open(path, "rb") as handle:
        reader = open_batch(handle, filename=path.name, max_text_length=20_000)
        n = sum(1 for _ in reader)
    assert n > 0
    return time.perf_counter() - start


def anchor_encode(path: Path) -> dict[str, Any]:
    """Plain `SentenceTransformer.encode` (fp32, torch, batch 64) of the file's distinct texts:
    what a script that embeds the rows, once per text and with nothing stored, would take."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row["text"] for row in csv.DictReader(handle)]
    distinct = list(dict.fromkeys(normalize_text(t) for t in rows))
    model = PlainSentenceTransformer(batch_size=64)
    model.encode(["warm up"])
    start = time.perf_counter()
    model.encode(distinct)
    seconds = time.perf_counter() - start
    return {
        "distinct_texts_in_file": len(distinct),
        "repeated_rows": len(rows) - len(distinct),
        "anchor_encode_seconds": seconds,
        "anchor_encode_rows_per_second": len(rows) / seconds,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(db: str, store_dir: str, port: int, backend: str | None, auto_analyze: bool) -> None:
    """Run the service in this process (the benchmark starts one per case); `backend` names
    the embedding backend (None: no model)."""
    settings = service_settings(
        db,
        store_dir,
        auto_analyze=auto_analyze,
        job_poll_seconds=0.1,
        max_upload_bytes=1024 * 1024 * 1024,
        max_request_bytes=1024 * 1024 * 1024,
    )
    embedder: Embedder
    if backend:
        embedder = build_embedder(settings.model_copy(update={"embedding_backend": backend}))
        if backend != "torch" and "@onnx" not in embedder.name:
            raise SystemExit(f"the {backend} backend fell back to torch")
        embedder.encode(["warm up"])  # the first call builds what the model needs
    else:
        embedder = NoEmbedder()
    uvicorn.run(create_app(settings, embedder=embedder), port=port, log_level="warning")


class PeakRSS:
    """Samples a process's resident memory in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.01) -> None:
        self.process = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _wait_job(client: httpx.Client, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed"):
            if job["status"] == "failed":
                raise SystemExit(f"job {job['kind']} failed: {job['error']}")
            return job
        time.sleep(0.05)


def _chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _multipart(path: Path, boundary: str, fields: dict[str, str]) -> Iterator[bytes]:
    """The file (and form fields) as a streamed multipart body: never held whole by the
    client either."""
    for name, value in fields.items():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    yield from _chunks(path)
    yield f"\r\n--{boundary}--\r\n".encode()


@contextmanager
def _case_server(
    case: Path, backend: str | None, early: bool = True, auto_analyze: bool = False
) -> Iterator[tuple[httpx.Client, str, dict[str, str], int]]:
    """A fresh server on its own SQLite file in `case`, with one project; yields (client,
    project id, headers, server pid) and stops the server after."""
    case.mkdir()
    db = f"sqlite:///{case / 'weft.db'}"
    migrate(db)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest", "--serve", db, str(case / "var"), str(port)]
        + (["--backend", backend] if backend else [])
        + (["--auto-analyze"] if auto_analyze else []),
        cwd=ROOT,
        env={**os.environ, "WEFT_INGEST_EMBED_EARLY": "true" if early else "false"},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            created = client.post("/v1/projects", json={"name": "bench"}).json()
            headers = {"Authorization": f"Bearer {created['admin_key']['key']}"}
            yield client, created["id"], headers, server.pid
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def _post_file(
    client: httpx.Client,
    project: str,
    headers: dict[str, str],
    path: Path,
    fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    boundary = "weft-bench-boundary"
    response = client.post(
        f"/v1/projects/{project}/uploads",
        content=_multipart(path, boundary, fields or {}),
        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    if response.status_code != 202:
        raise SystemExit(f"upload refused: {response.status_code} {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


def weft_upload(
    path: Path, rows: int, backend: str | None, workdir: Path, early: bool = True
) -> dict[str, Any]:
    """Upload `path` to a fresh server; seconds to stored (and embedded) and peak RSS growth.
    `backend`: the embedding backend (None: no model, embedding excluded); `early`: whether the
    texts are embedded while the rows are stored (WEFT_INGEST_EMBED_EARLY)."""
    real_model = backend is not None
    case = workdir / f"case-{rows}-{backend or 'none'}-{'early' if early else 'after'}"
    with _case_server(case, backend, early) as (client, project, headers, pid):
        baseline = psutil.Process(pid).memory_info().rss
        with PeakRSS(pid) as rss:
            start = time.perf_counter()
            answer = _post_file(client, project, headers, path)
            accepted = time.perf_counter()
            job = _wait_job(client, headers, answer["job"]["id"])
            stored = time.perf_counter()
            embedded = None
            if real_model:
                _wait_job(client, headers, job["result"]["embed_job_id"])
                embedded = time.perf_counter()
        report = job["result"]["report"]
    if report["stored"] != rows:
        raise SystemExit(f"stored {report['stored']} of {rows} rows: {report['issues'][:5]}")
    end = embedded if embedded is not None else stored
    return {
        "rows": rows,
        "embedding": "included" if real_model else "excluded",
        "backend": backend,
        "embedded_while_storing": job["result"].get("embedded_early") if early else "off",
        "upload_seconds": accepted - start,
        "stored_seconds": stored - start,
        "embedded_seconds": (embedded - start) if embedded is not None else None,
        "rows_per_second": rows / (end - start),
        "baseline_rss_mb": baseline / 2**20,
        "peak_rss_growth_mb": (rss.peak - baseline) / 2**20,
    }


#: How a convenor maps the NHS file: the answer, its date, the question it answers, the groups.
NHS_MAPPING = {
    "text": "FFT answer",
    "id": "Comment ID",
    "time": "Date",
    "question": "FFT question",
    "attributes": ["Trust", "Service type 1"],
}


def nhs_to_themes(root: Path, backend: str, workdir: Path) -> dict[str, Any]:
    """The NHS feedback file as it is published, posted to a fresh server with auto-analysis
    on: seconds until the rows are stored, embedded, and until `GET /themes` shows themes."""
    path = root / NHS_FILE
    with _case_server(workdir / f"nhs-{backend}", backend, auto_analyze=True) as (
        client,
        project,
        headers,
        _pid,
    ):
        start = time.perf_counter()
        fields = {"mapping": json.dumps(NHS_MAPPING), "dayfirst": "true"}
        answer = _post_file(client, project, headers, path, fields)
        job = _wait_job(client, headers, answer["job"]["id"])
        stored = time.perf_counter()
        _wait_job(client, headers, job["result"]["embed_job_id"])
        embedded = time.perf_counter()
        deadline = time.monotonic() + 1800
        while True:
            page = client.get(f"/v1/projects/{project}/themes", headers=headers).json()
            if page["analysis"] is not None:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"no themes after 30 minutes: {page['notes']}")
            time.sleep(0.2)
        ready = time.perf_counter()
    return {
        "case": "nhs upload to themes",
        "backend": backend,
        "rows_stored": job["result"]["report"]["stored"],
        "stored_seconds": stored - start,
        "embedded_seconds": embedded - start,
        "themes_seconds": ready - start,
        "themes": page["total"],
        "narratives": page["total_narratives"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--embed-rows",
        type=int,
        default=10_000,
        help="largest size also run with the real model (embedding included); 0: none",
    )
    parser.add_argument(
        "--compare-early",
        action="store_true",
        help="also run the embedding case with WEFT_INGEST_EMBED_EARLY=false, before it",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve", nargs=3, metavar=("DB", "DATA_DIR", "PORT"))
    parser.add_argument(
        "--backends",
        default="torch,onnx",
        help="embedding backends of the embedding cases, one server each",
    )
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--auto-analyze", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--nhs",
        action="store_true",
        help="also post the NHS feedback file to a server per backend and time it to themes",
    )
    args = parser.parse_args()
    if args.serve:
        db, store_dir, port = args.serve
        serve(db, store_dir, int(port), args.backend, args.auto_analyze)
        return

    texts = load_texts(data_dir(args.data))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for rows in args.rows:
            path = workdir / f"narratives-{rows}.csv"
            size = write_csv(path, texts, rows)
            anchor = anchor_csv(path)
            parse = parser_only(path)
            line = {
                "rows": rows,
                "file_mb": size / 2**20,
                "anchor_csv_rows_per_second": rows / anchor,
                "parser_rows_per_second": rows / parse,
            }
            cases = [weft_upload(path, rows, None, workdir)]
            if rows <= args.embed_rows:
                line |= anchor_encode(path)
                for backend in args.backends.split(","):
                    if args.compare_early:
                        cases.append(weft_upload(path, rows, backend, workdir, early=False))
                    cases.append(weft_upload(path, rows, backend, workdir))
            for case in cases:
                results.append({**line, **case})
                print(json.dumps(results[-1]), flush=True)
        nhs = []
        if args.nhs:
            for backend in args.backends.split(","):
                nhs.append(nhs_to_themes(data_dir(args.data), backend, workdir))
                print(json.dumps(nhs[-1]), flush=True)
    summary = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "distinct_texts": len(texts),
        "results": results,
        "nhs": nhs,
    }
    if args.out:
        write_json(args.out, summary)
    print()
    print(
        f"{'rows':>7} {'backend':>9} {'csv anchor/s':>12} {'parser/s':>9} "
        f"{'weft/s':>8} {'ratio':>6} {'encode anchor/s':>15} {'peak RSS +MB':>12}"
    )
    for r in results:
        encode = r.get("anchor_encode_rows_per_second")
        print(
            f"{r['rows']:>7} {r['backend'] or '-':>9} {r['anchor_csv_rows_per_second']:>12.0f} "
            f"{r['parser_rows_per_second']:>9.0f} {r['rows_per_second']:>8.0f} "
            f"{r['anchor_csv_rows_per_second'] / r['rows_per_second']:>6.1f} "
            f"{encode or 0:>15.0f} {r['peak_rss_growth_mb']:>12.1f}"
        )


if __name__ == "__main__":
    main()
