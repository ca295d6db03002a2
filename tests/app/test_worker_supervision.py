"""The process runner's supervision, with small stand-in worker commands (no store, no model):
restarts with a doubling pause, SIGTERM then SIGKILL at stop, wake-up lines on stdin, and the
settings handed to the worker."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.jobs.process_runner import ProcessJobRunner, worker_environment
from app.jobs.relay import StatusFile


def _settings(**settings: Any) -> Settings:
    return Settings(**settings)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _wait_until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_worker_that_keeps_dying_is_restarted_after_longer_and_longer_pauses() -> None:
    runner = ProcessJobRunner(
        _settings(job_worker_restart_seconds=0.1), _python("import sys; sys.exit(3)")
    )
    runner.start()
    try:
        # pauses of 0.1, 0.2, 0.4, 0.8 s: three restarts take at least 0.7 s
        started = time.monotonic()
        _wait_until(lambda: runner.restarts >= 3, 10)
        assert time.monotonic() - started >= 0.7
        time.sleep(0.3)
        assert runner.restarts <= 4
        assert runner.status()["last_exit"] == 3
    finally:
        runner.stop()
    assert runner.status()["alive"] is False


def test_the_state_written_for_other_processes_never_shows_a_new_worker_with_the_old_count(
    tmp_path: Path,
) -> None:
    status = StatusFile(tmp_path / "status.json")
    written: list[dict[str, Any]] = []
    write = status.write

    def record(state: dict[str, Any]) -> None:
        written.append(dict(state))
        write(state)

    status.write = record  # type: ignore[method-assign]
    runner = ProcessJobRunner(
        _settings(job_worker_restart_seconds=0.05), _python("import time; time.sleep(60)"), status
    )
    runner.start()
    try:
        first = runner.status()["pid"]
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # until the state naming the new worker has been written (after the restart counts)
        _wait_until(lambda: any(st["alive"] and st["pid"] != first for st in written), 10)
    finally:
        runner.stop()
    pids = [state["pid"] for state in written if state["alive"]]
    assert pids[0] == first and len(set(pids)) == 2
    # every state that names the second worker counts its restart
    assert all(
        state["restarts"] == 1 for state in written if state["alive"] and state["pid"] != first
    )
    assert any(state["last_exit"] == -signal.SIGKILL for state in written)


def test_stop_sends_sigterm_then_kills_a_worker_that_does_not_stop(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = _python(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    runner = ProcessJobRunner(_settings(job_worker_stop_seconds=0.5), stubborn)
    runner.start()
    _wait_until(ready.exists, 10)
    process = runner._process
    assert process is not None
    started = time.monotonic()
    runner.stop()
    took = time.monotonic() - started
    assert 0.5 <= took < 5
    assert process.returncode == -signal.SIGKILL
    assert runner.restarts == 0


def test_a_worker_that_stops_on_sigterm_is_not_killed(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    polite = _python(f"import pathlib, time\npathlib.Path({str(ready)!r}).touch()\ntime.sleep(60)")
    runner = ProcessJobRunner(_settings(job_worker_stop_seconds=10), polite)
    runner.start()
    _wait_until(ready.exists, 10)
    process = runner._process
    assert process is not None
    runner.stop()
    assert process.returncode == -signal.SIGTERM


def test_submit_writes_the_job_id_on_the_workers_stdin(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    echo = _python(
        "import sys\n"
        f"with open({str(seen)!r}, 'w') as out:\n"
        "    for line in sys.stdin:\n"
        "        out.write(line); out.flush()\n"
    )
    runner = ProcessJobRunner(_settings(), echo)
    runner.start()
    try:
        runner.submit("job-1")
        runner.submit("job-2")
        _wait_until(lambda: seen.exists() and seen.read_text().count("\n") == 2, 10)
        assert seen.read_text().split() == ["job-1", "job-2"]
    finally:
        runner.stop()


def test_a_dead_worker_drops_wakeups_without_failing_the_request() -> None:
    runner = ProcessJobRunner(_settings(job_worker_restart_seconds=30), _python("pass"))
    runner.start()
    try:
        _wait_until(lambda: runner.status()["last_exit"] == 0, 10)
        runner.submit("job-1")  # no worker to read it: the next one polls the store
    finally:
        runner.stop()


def test_the_worker_gets_the_servers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(port=1234, auto_analyze=False, job_runner="process", job_lanes=3)
    env = worker_environment(given)
    assert env["WEFT_PORT"] == "1234"
    assert env["WEFT_AUTO_ANALYZE"] == "false"
    # the worker runs its jobs on its own lanes
    assert env["WEFT_JOB_RUNNER"] == "thread"
    for name, value in env.items():
        if name.startswith("WEFT_"):
            monkeypatch.setenv(name, value)
    # read back from that environment, every setting is the server's
    assert Settings() == given.model_copy(update={"job_runner": "thread"})
