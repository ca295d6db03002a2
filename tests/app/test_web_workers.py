"""`weft serve` with several web processes (WEFT_WEB_WORKERS=2): both serve on one port, the
`weft serve` process supervises the one job worker, a queued job wakes it through the relay
(with a poll too slow to find it in time), /readyz in every web process reports the worker as
the supervisor last saw it, and nothing outlives the server.

Real processes on SQLite, with the hash embedder of tests/app/worker_hash.py: run once, in the
SQLite pass (marker `workers`). The relay's own parts are tested without processes at the end.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.jobs.relay import RelayedJobRunner, StatusFile, WakeRelay, status_path
from tests.app.test_worker_process import Api, Served, _gone, _stories, _wait_until
from tests.app.test_worker_process import serve as serve

web_processes = pytest.mark.skipif(
    bool(os.environ.get("WEFT_TEST_DATABASE_URL")),
    reason="the embedded default's web processes: run in the SQLite pass",
)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split(")")[-1].split()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z":
            found.add(int(entry.name))
    return found


@pytest.mark.workers
@web_processes
def test_two_web_processes_share_the_port_and_wake_the_one_job_worker(
    serve: Callable[..., Served],
) -> None:
    # a worker that polls every 60 s finds a job in time only when it is woken
    server = serve(WEB_WORKERS="2", JOB_POLL_SECONDS="60", LOG_LEVEL="info")
    worker = server.worker()
    assert worker["alive"] and worker["pid"] not in (None, server.process.pid)

    def web_pids() -> set[int]:
        started = re.findall(r"Started server process \[(\d+)\]", server.log.read_text())
        return {int(p) for p in started} & _children(server.process.pid)

    web = _wait_until(lambda: len(web_pids()) == 2 and web_pids(), 60, "two web processes")
    # the web processes and the job worker are the server's children (beside
    # multiprocessing's resource tracker)
    assert web | {worker["pid"]} <= _children(server.process.pid)

    api = Api(server)
    # every request, on whichever process takes its connection, sees the same store
    for _ in range(6):
        with httpx.Client(base_url=str(server.client.base_url), headers=api.headers) as fresh:
            assert fresh.get(f"/v1/projects/{api.id}").status_code == 200
    started = time.monotonic()
    queued = api.post("/narratives", {"narratives": _stories(12)})
    done = api.wait(queued["job"]["id"], timeout=30)
    assert done["status"] == "succeeded", done
    assert time.monotonic() - started < 30
    assert server.embedded_by() == {worker["pid"]}

    # a job worker killed with SIGKILL is started again, and the web processes say so
    os.kill(worker["pid"], signal.SIGKILL)
    again = _wait_until(
        lambda: (w := server.worker())["alive"] and w["pid"] != worker["pid"] and w, 30, "restart"
    )
    assert again["restarts"] == 1 and again["last_exit"] == -signal.SIGKILL

    relay = Path(f"/tmp/weft-jobs-{server.process.pid}.sock")
    assert relay.exists()
    children = _children(server.process.pid)
    server.stop()
    for pid in children:
        _wait_until(lambda pid=pid: _gone(pid), 30, f"process {pid} outlived the server")
    assert not relay.exists() and not status_path(relay).exists()


@pytest.mark.workers
@web_processes
def test_a_first_start_exports_the_model_once_for_every_process(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    # each web process and the job worker load the model; none exports it again
    cache = tmp_path / "exports"
    server = serve(
        model=True,
        WEB_WORKERS="2",
        EMBEDDING_BACKEND="onnx",
        EMBEDDING_CACHE_DIR=str(cache),
        LOG_LEVEL="info",
    )
    _wait_until(
        lambda: server.log.read_text().count("Application startup complete") == 2,
        90,
        "two web processes",
    )
    log = server.log.read_text()
    assert log.count("exporting the embedding model") == 1, log
    assert log.count("to ONNX (model-fp32)") == 1, log
    assert [p.name for p in cache.glob("*/*")] == ["model-fp32.onnx"]
    api = Api(server)
    done = api.wait(api.post("/narratives", {"narratives": _stories(3)})["job"]["id"])
    assert done["status"] == "succeeded", done


@pytest.mark.workers
@web_processes
def test_no_web_process_outlives_a_server_killed_outright(
    serve: Callable[..., Served],
) -> None:
    server = serve(WEB_WORKERS="2", LOG_LEVEL="info")
    worker = server.worker()["pid"]

    def web_pids() -> set[int]:
        started = re.findall(r"Started server process \[(\d+)\]", server.log.read_text())
        return {int(p) for p in started} & _children(server.process.pid)

    web = _wait_until(lambda: len(web_pids()) == 2 and web_pids(), 60, "two web processes")
    children = _children(server.process.pid)
    server.stop(signal.SIGKILL)
    for pid in children:
        _wait_until(lambda pid=pid: _gone(pid), 30, f"process {pid} outlived the server")
    assert worker in children and web <= children


# --- the relay's parts -------------------------------------------------------------------------


class _Waker:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.woken = threading.Event()

    def submit(self, job_id: str) -> None:
        self.lines.append(job_id)
        self.woken.set()


@pytest.fixture
def short_path(tmp_path: Path) -> Path:
    # a Unix socket's path must stay under about 100 bytes; pytest's tmp_path may not
    return Path("/tmp") / f"weft-test-{os.getpid()}-{abs(hash(tmp_path)) % 10**8}.sock"


def test_a_web_process_wakes_the_supervisor_through_the_relay(short_path: Path) -> None:
    waker = _Waker()
    relay = WakeRelay(short_path, waker)
    relay.start()
    runner = RelayedJobRunner(short_path)
    runner.start()
    try:
        runner.submit("0b7c3a52-job")
        assert waker.woken.wait(5)
        assert waker.lines == ["0b7c3a52-job"]
    finally:
        runner.stop()
        relay.stop()
    assert not short_path.exists()
    # with the relay gone a wake-up is dropped, never an error in the request that queued it
    runner.start()
    runner.submit("another")
    runner.stop()


def test_the_status_file_says_a_dead_worker_is_not_alive(tmp_path: Path) -> None:
    status = StatusFile(tmp_path / "worker.json")
    assert status.read()["alive"] is False  # nothing reported yet
    status.write({"alive": True, "pid": os.getpid(), "restarts": 2, "last_exit": -9})
    assert status.read() == {"alive": True, "pid": os.getpid(), "restarts": 2, "last_exit": -9}
    # a pid that no process has
    status.write({"alive": True, "pid": 2**22 + 17, "restarts": 0, "last_exit": None})
    assert status.read()["alive"] is False and status.read()["pid"] is None
