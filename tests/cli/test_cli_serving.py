"""`weft serve` keeps `python -m app`'s start-up rules; `weft worker` starts the right worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from tests.cli.conftest import command_env


def _serve(tmp_path: Path, *options: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`weft serve` with `options`, expected to refuse before it binds."""
    env = command_env(tmp_path / "config", "http://127.0.0.1:9")
    env |= {"WEFT_DATA_DIR": str(tmp_path / "var"), **settings}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", *options, "--port", "8999"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_refuses_a_network_address_without_a_bootstrap_token(tmp_path: Path) -> None:
    answer = _serve(tmp_path, "--host", "0.0.0.0")
    assert answer.returncode == 1
    assert "not starting" in answer.stderr and "WEFT_BOOTSTRAP_TOKEN" in answer.stderr


def test_serve_options_override_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Settings] = []
    monkeypatch.setattr("app.__main__.main", started.append)
    monkeypatch.setenv("WEFT_PORT", "8001")
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert (started[0].host, started[0].port) == ("127.0.0.1", 8123)


def test_serve_takes_the_number_of_web_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Settings] = []
    monkeypatch.setattr("app.__main__.main", started.append)
    result = CliRunner().invoke(app, ["serve", "--web-workers", "2"])
    assert result.exit_code == 0, result.output
    assert started[0].web_workers == 2


def test_serve_refuses_several_web_processes_that_would_each_run_jobs(tmp_path: Path) -> None:
    answer = _serve(tmp_path, "--web-workers", "2", WEFT_JOB_RUNNER="thread")
    assert answer.returncode == 1
    assert "not starting" in answer.stderr and "WEFT_JOB_RUNNER=thread" in answer.stderr


def test_worker_reads_the_job_queue_with_the_prefork_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    celery_runner = pytest.importorskip("app.jobs.celery_runner")
    argv: list[list[str]] = []
    monkeypatch.setattr(celery_runner.celery_app, "worker_main", argv.append)
    monkeypatch.setenv("WEFT_JOB_QUEUE", "weft-north")
    result = CliRunner().invoke(app, ["worker", "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    assert argv == [
        [
            "worker",
            "--pool",
            "prefork",
            "--queues",
            "weft-north",
            "--concurrency",
            "3",
            "--loglevel",
            "info",
        ]
    ]
