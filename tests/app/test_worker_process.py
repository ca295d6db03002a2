"""The process runner of the embedded default, with a real `weft serve` on a free port: jobs run
in the job worker process it supervises (not in the server's), a worker killed with SIGKILL
mid-job is started again and the job completes, and no worker outlives its server.

Both processes use tests/app/worker_hash.py (the hash embedder, slowed, logging which process
embeds), loaded through a `sitecustomize` on their PYTHONPATH. Real processes on SQLite: run
once, in the SQLite pass (marker `workers`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command

from tests.conftest import alembic_config, free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.workers,
    pytest.mark.skipif(
        bool(os.environ.get("WEFT_TEST_DATABASE_URL")),
        reason="the process runner is the embedded default's: runs in the SQLite pass",
    ),
]


def _wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    """The process has ended (and is not a zombie waiting for its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


class Served:
    """`weft serve` in a process of its own, with the hash embedder."""

    def __init__(self, tmp_path: Path, *, model: bool = False, **settings: str) -> None:
        """`model`: the configured embedding model instead of the hash embedder."""
        self.database = tmp_path / "weft.db"
        self.embed_log = tmp_path / "embedded-by.txt"
        self.log = tmp_path / "serve.log"
        if not self.database.exists():
            command.upgrade(alembic_config(f"sqlite:///{self.database}"), "head")
        hook = tmp_path / "hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text("import tests.app.worker_hash\n")
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT)] if model else [str(hook), str(ROOT)]),
            # the hash embedder stands in for any backend: nothing to export at start
            **({} if model else {"WEFT_EMBEDDING_BACKEND": "torch"}),
            "WEFTTEST_EMBED_LOG": str(self.embed_log),
            "WEFTTEST_EMBED_PAUSE": "0.1",
            "WEFT_DATABASE_URL": f"sqlite:///{self.database}",
            "WEFT_DATA_DIR": str(tmp_path / "var"),
            "WEFT_HOST": "127.0.0.1",
            "WEFT_PORT": str(self.port),
            "WEFT_JOB_POLL_SECONDS": "0.2",
            "WEFT_JOB_LEASE_SECONDS": "3",
            "WEFT_JOB_HEARTBEAT_SECONDS": "0.5",
            "WEFT_JOB_WORKER_RESTART_SECONDS": "0.2",
            "WEFT_EMBEDDING_CHUNK_SIZE": "20",
            **{f"WEFT_{k.upper()}": v for k, v in settings.items()},
        }
        env.pop("WEFT_JOB_RUNNER", None)  # `weft serve`'s own default
        weft = Path(sys.executable).with_name("weft")
        argv = [str(weft)] if weft.exists() else [sys.executable, "-m", "app.cli"]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*argv, "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        _wait_until(self._worker_alive, 90, "the server or its worker did not start")

    def _worker_alive(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return bool(self.readyz()["jobs"]["worker"]["alive"])
        except httpx.HTTPError:
            return False

    def readyz(self) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get("/readyz").json()
        return body

    def worker(self) -> dict[str, Any]:
        worker: dict[str, Any] = self.readyz()["jobs"]["worker"]
        return worker

    def embedded_by(self) -> set[int]:
        if not self.embed_log.exists():
            return set()
        return {int(line) for line in self.embed_log.read_text().split()}

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*, model: bool = False, **settings: str) -> Served:
        server = Served(tmp_path, model=model, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        worker_pid = None
        with contextlib.suppress(Exception):
            worker_pid = server.worker()["pid"]
        server.stop()
        if worker_pid is not None and not _gone(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


class Api:
    def __init__(self, server: Served) -> None:
        self.client = server.client
        created = self.client.post("/v1/projects", json={"name": "Worker CoP"})
        assert created.status_code == 201, created.text
        self.id = created.json()["id"]
        self.headers = {"Authorization": f"Bearer {created.json()['admin_key']['key']}"}

    def post(self, path: str, body: Any) -> dict[str, Any]:
        url = f"/v1/projects/{self.id}{path}"
        response = self.client.post(url, json=body, headers=self.headers)
        assert response.status_code < 300, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(f"/v1/jobs/{job_id}", headers=self.headers).json()
        return body

    def wait(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        ended: dict[str, Any] = _wait_until(
            lambda: (body := self.job(job_id))["status"] in ("succeeded", "failed") and body,
            timeout,
            f"job {job_id} did not end",
        )
        return ended


def _stories(n: int) -> list[dict[str, str]]:
    topics = ("discharge letters", "community transport", "home visits", "the 111 line")
    return [
        {"text": f"Story {i} about {topics[i % 4]}: what happened on visit {i * 7 % 97}."}
        for i in range(n)
    ]


def _vectors_and_texts(database: Path, project_id: str) -> tuple[int, int]:
    with sqlite3.connect(database) as conn:
        texts = conn.execute(
            "SELECT count(DISTINCT text_hash) FROM narratives WHERE project_id = ?", (project_id,)
        ).fetchone()[0]
        vectors = conn.execute(
            "SELECT count(*) FROM embeddings WHERE model = 'hash' AND text_hash IN "
            "(SELECT text_hash FROM narratives WHERE project_id = ?)",
            (project_id,),
        ).fetchone()[0]
    return int(vectors), int(texts)


def _attempts(database: Path, job_id: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])


def test_an_upload_is_embedded_and_analysed_by_the_worker_process(
    serve: Callable[..., Served],
) -> None:
    server = serve(AUTO_ANALYZE="true", EMBEDDING_CHUNK_SIZE="50")
    worker = server.worker()
    assert worker["pid"] not in (None, server.process.pid)
    assert worker["restarts"] == 0
    api = Api(server)
    rows = "\n".join(f"s-{i},{s['text']}" for i, s in enumerate(_stories(120)))
    csv = f"id,story\n{rows}\n"
    response = server.client.post(
        f"/v1/projects/{api.id}/uploads",
        files={"file": ("stories.csv", csv.encode(), "text/csv")},
        headers=api.headers,
    )
    assert response.status_code == 202, response.text
    ingest = api.wait(response.json()["job"]["id"])
    assert ingest["status"] == "succeeded", ingest

    def analysed() -> bool:
        listed = server.client.get(f"/v1/projects/{api.id}/analyses", headers=api.headers)
        items = listed.json()
        return bool(items) and items[0]["status"] == "succeeded"

    _wait_until(analysed, 90, "the upload was not analysed")
    themes = server.client.get(f"/v1/projects/{api.id}/themes", headers=api.headers).json()
    assert themes["themes"], themes
    # every vector was computed in the worker process, none in the server's
    assert server.embedded_by() == {worker["pid"]}
    vectors, texts = _vectors_and_texts(server.database, api.id)
    assert vectors == texts == 120


def test_a_server_started_in_a_folder_with_a_models_folder_keeps_its_worker(
    tmp_path: Path,
) -> None:
    # `python -m` puts the working directory first on the worker's path, where a folder
    # named `models` (a research folder's, or the model exports when WEFT_DATA_DIR is the
    # working directory) shadowed Weft's own package: the worker died at every start
    folder = tmp_path / "research"
    (folder / "models").mkdir(parents=True)
    database = folder / "weft.db"
    command.upgrade(alembic_config(f"sqlite:///{database}"), "head")
    port = free_port()
    env = {
        **os.environ,
        "WEFT_DATABASE_URL": f"sqlite:///{database}",
        "WEFT_DATA_DIR": str(folder),
        "WEFT_EMBEDDING_BACKEND": "torch",
        "WEFT_PORT": str(port),
        "WEFT_JOB_WORKER_RESTART_SECONDS": "0.2",
    }
    env.pop("PYTHONPATH", None)
    env.pop("WEFT_JOB_RUNNER", None)
    log = tmp_path / "serve.log"
    weft = Path(sys.executable).with_name("weft")
    argv = [str(weft)] if weft.exists() else [sys.executable, "-m", "app.cli"]
    with open(log, "ab") as out:
        server = subprocess.Popen(
            [*argv, "serve"], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until(
            lambda: (
                any(line in log.read_text() for line in ("job worker ready", "exited with status"))
                or server.poll() is not None
            ),
            120,
            "the job worker never got ready",
        )
        text = log.read_text()
        assert "job worker ready" in text, text
        assert "ImportError" not in text and "exited with status" not in text, text
    finally:
        server.terminate()
        server.wait(40)


def test_a_worker_killed_mid_job_is_restarted_and_the_job_completes(
    serve: Callable[..., Served],
) -> None:
    server = serve(AUTO_ANALYZE="false")
    first = server.worker()["pid"]
    api = Api(server)
    job_id = api.post("/narratives", {"narratives": _stories(400)})["job"]["id"]
    _wait_until(lambda: api.job(job_id)["progress_done"] >= 60, 60, "the worker never got going")
    os.kill(first, signal.SIGKILL)
    killed_at = api.job(job_id)["progress_done"]
    assert 0 < killed_at < 400
    replaced = _wait_until(
        lambda: (w := server.worker())["alive"] and w["pid"] != first and w, 30, "no new worker"
    )
    assert replaced["restarts"] == 1
    assert replaced["last_exit"] == -signal.SIGKILL
    done = api.wait(job_id)
    assert done["status"] == "succeeded", done
    assert _attempts(server.database, job_id) == 2
    assert server.embedded_by() == {first, replaced["pid"]}
    vectors, texts = _vectors_and_texts(server.database, api.id)
    assert vectors == texts == 400
    assert "killed by signal 9" in server.log.read_text()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_worker_outlives_its_server(serve: Callable[..., Served], how: int) -> None:
    server = serve()
    worker = server.worker()["pid"]
    server.stop(how)
    # stopped by the server (SIGTERM), or on its own when the server's pipe closes (SIGKILL)
    _wait_until(lambda: _gone(worker), 30, f"job worker {worker} outlived its server")


def test_a_queued_job_wakes_the_worker_before_its_next_poll(serve: Callable[..., Served]) -> None:
    server = serve(AUTO_ANALYZE="false", JOB_POLL_SECONDS="60")
    api = Api(server)
    time.sleep(1)  # the worker's lanes have looked once and wait for their next poll
    started = time.monotonic()
    job_id = api.post("/narratives", {"narratives": _stories(20)})["job"]["id"]
    done = api.wait(job_id, timeout=30)
    assert done["status"] == "succeeded", done
    # woken by the server's line on its stdin, not by a poll a minute later
    assert time.monotonic() - started < 20
